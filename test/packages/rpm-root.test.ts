// SPDX-License-Identifier: Apache-2.0
// The .rpm installed, upgraded (same version again, --replacepkgs) and erased with
// `rpm --root <scratch root> --nodeps` into a Debian rootfs without Node (scratch-root.ts): its
// scriptlets run (chrooted by rpm) against the payload's real paths. Nothing boots: no rpm-family
// system is booted here, and /run/systemd/system is absent, so the scripts take their no-systemd
// branches (README, "Install from a package").
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readlinkSync, statSync } from 'node:fs';

import { ensureRootfs } from '../system/container.js';
import { packageTest, RPM, VERSION } from './packages.js';
import { ScratchRoot } from './scratch-root.js';

const REMNANTS_LINK = 'etc/systemd/system/multi-user.target.wants/faultd-remnants.service';

packageTest('rpm --root: install creates the state dir and enables only the boot-time revert; the packaged runtime runs there; upgrade and erase run their scriptlets cleanly', (t) => {
  const scratch = ScratchRoot.create(ensureRootfs((line) => t.log(line)));
  t.teardown(() => scratch.remove());
  const rpm = (...args: string[]) => {
    const result = spawnSync('rpm', ['--root', scratch.root, ...args], { encoding: 'utf8' });
    return { code: result.status ?? -1, out: `${result.stdout}${result.stderr}` };
  };
  const inRoot = (...args: string[]) => spawnSync('chroot', [scratch.root, ...args], { encoding: 'utf8', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' } });

  t.is(inRoot('sh', '-c', 'command -v node').status, 127, 'no Node in the scratch root');
  t.is(rpm('--initdb').code, 0);
  const installed = rpm('--nodeps', '-i', RPM);
  t.is(installed.code, 0, installed.out);
  t.regex(installed.out, /faultd\.service is disabled until: faultd install/);
  t.is(statSync(scratch.at('var/lib/faultd')).mode & 0o777, 0o700, '/var/lib/faultd is 0700');
  t.true(lstatSync(scratch.at(REMNANTS_LINK)).isSymbolicLink(), 'faultd-remnants.service enabled');
  t.regex(readlinkSync(scratch.at(REMNANTS_LINK)), /\/lib\/systemd\/system\/faultd-remnants\.service$/);
  t.false(existsSync(scratch.at('etc/systemd/system/multi-user.target.wants/faultd.service')), 'faultd.service not enabled');
  const version = inRoot('/usr/bin/faultd', '--version');
  t.is(version.status, 0, version.stderr);
  t.is(version.stdout.trim(), VERSION);
  const status = inRoot('/usr/bin/faultd', 'status');
  t.is(status.status, 0, `the packaged faultd reads the (empty) ledger: ${status.stdout}${status.stderr}`);
  t.is(rpm('-q', 'faultd').out.trim(), `faultd-${VERSION}-1.${process.arch === 'x64' ? 'x86_64' : process.arch}`);

  const upgraded = rpm('--nodeps', '-U', '--replacepkgs', RPM);
  t.is(upgraded.code, 0, upgraded.out);
  t.true(existsSync(scratch.at('usr/lib/faultd/node')), 'the runtime is still there after the upgrade');
  t.true(lstatSync(scratch.at(REMNANTS_LINK)).isSymbolicLink(), 'still enabled after the upgrade');

  const erased = rpm('-e', 'faultd');
  t.is(erased.code, 0, erased.out);
  t.notRegex(erased.out, /revert --remnants failed/, 'the erase reverted remnants (none) with the packaged faultd');
  for (const gone of ['usr/bin/faultd', 'usr/lib/faultd', 'usr/lib/systemd/system/faultd.service', REMNANTS_LINK]) t.false(existsSync(scratch.at(gone)), `${gone} removed`);
  t.true(existsSync(scratch.at('var/lib/faultd')), 'rpm has no purge: the state directory stays');
  t.not(rpm('-q', 'faultd').code, 0);
});
