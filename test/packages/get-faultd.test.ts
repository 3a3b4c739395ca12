// SPDX-License-Identifier: Apache-2.0
// scripts/get-faultd.sh in a scratch Debian root without Node (scratch-root.ts, chroot): it
// refuses a host of no supported family and a package whose SHA-256 differs from SHA256SUMS
// (nothing installed either time), installs the .deb it picks from SHA256SUMS, and passes the
// other flags to `faultd install` (here with --no-systemctl: nothing boots in a chroot; the
// Debian container test runs it against a booted systemd).
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { ensureRootfs, REPO } from '../system/container.js';
import { DEB, packageTest, RPM, VERSION } from './packages.js';
import { ScratchRoot } from './scratch-root.js';

packageTest('get-faultd.sh: unsupported family and checksum mismatch install nothing; then it installs the .deb and runs faultd install with the given flags', (t) => {
  const scratch = ScratchRoot.create(ensureRootfs((line) => t.log(line)));
  t.teardown(() => scratch.remove());
  const sh = (...args: string[]) => {
    const result = spawnSync('chroot', [scratch.root, 'sh', '/get-faultd.sh', ...args], { encoding: 'utf8', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' } });
    return { code: result.status ?? -1, out: `${result.stdout}${result.stderr}` };
  };
  const installed = () => spawnSync('chroot', [scratch.root, 'dpkg-query', '-W', 'faultd']).status === 0;
  copyFileSync(path.join(REPO, 'scripts/get-faultd.sh'), scratch.at('get-faultd.sh'));
  const good = scratch.at('srv/good');
  mkdirSync(good, { recursive: true });
  for (const file of [DEB, RPM, path.join(path.dirname(DEB), 'SHA256SUMS')]) copyFileSync(file, path.join(good, path.basename(file)));

  const noFrom = sh();
  t.is(noFrom.code, 1);
  t.regex(noFrom.out, /--from DIR\|URL is required/);

  renameSync(scratch.at('etc/debian_version'), scratch.at('etc/debian_version.away'));
  const unsupported = sh('--from', '/srv/good');
  t.is(unsupported.code, 1);
  t.regex(unsupported.out, /unsupported system: neither a dpkg .* nor an rpm/);
  t.false(installed());
  renameSync(scratch.at('etc/debian_version.away'), scratch.at('etc/debian_version'));

  const bad = scratch.at('srv/bad');
  mkdirSync(bad);
  copyFileSync(DEB, path.join(bad, path.basename(DEB)));
  const sums = readFileSync(path.join(good, 'SHA256SUMS'), 'utf8');
  writeFileSync(path.join(bad, 'SHA256SUMS'), sums.replace(/^[0-9a-f]{4}/gm, '0000'));
  const mismatch = sh('--from', '/srv/bad');
  t.is(mismatch.code, 1);
  t.regex(mismatch.out, /checksum mismatch for faultd_.*\.deb.*nothing installed/);
  t.false(installed(), 'nothing installed after a checksum mismatch');
  t.false(existsSync(scratch.at('usr/bin/faultd')));

  writeFileSync(scratch.at('root/access-key'), 'fdk_0123456789abcdef0123456789abcdef\n', { mode: 0o600 });
  const done = sh('--from', '/srv/good', '--hub-url', 'https://hub.example:8443', '--infra-id', 'edge-1', '--access-key-file', '/root/access-key', '--no-systemctl');
  t.is(done.code, 0, done.out);
  t.regex(done.out, /SHA-256 OK/);
  t.true(installed());
  t.is(spawnSync('chroot', [scratch.root, 'dpkg-query', '-W', '-f', '${Version}', 'faultd'], { encoding: 'utf8' }).stdout, VERSION);
  const config = readFileSync(scratch.at('etc/faultd/config.yaml'), 'utf8');
  t.regex(config, /url: https:\/\/hub\.example:8443/);
  t.regex(config, /infraId: edge-1/);
  const unit = readFileSync(scratch.at('etc/systemd/system/faultd.service'), 'utf8');
  t.regex(unit, /^ExecStart=\/usr\/lib\/faultd\/node \/usr\/lib\/faultd\/app\/bin\/faultd\.js --config \/etc\/faultd\/config\.yaml agent$/m, 'the unit faultd install wrote runs the packaged runtime');
  t.is(statSync(scratch.at('var/lib/faultd')).mode & 0o777, 0o700);

  // Purge: the state, the configuration and the unit faultd install wrote are gone.
  const purged = spawnSync('chroot', [scratch.root, 'dpkg', '-P', 'faultd'], { encoding: 'utf8' });
  t.is(purged.status, 0, `${purged.stdout}${purged.stderr}`);
  for (const gone of ['etc/faultd', 'var/lib/faultd', 'etc/systemd/system/faultd.service', 'usr/lib/faultd', 'usr/bin/faultd']) t.false(existsSync(scratch.at(gone)), `${gone} removed by dpkg -P`);
});

packageTest('get-faultd.sh --from URL: downloads SHA256SUMS and the package over HTTP and refuses a checksum mismatch before installing anything (run on this host: nothing is installed)', async (t) => {
  const served = mkdtempSync(path.join(tmpdir(), 'faultd-get-'));
  t.teardown(() => rmSync(served, { recursive: true, force: true }));
  copyFileSync(DEB, path.join(served, path.basename(DEB)));
  writeFileSync(path.join(served, 'SHA256SUMS'), `${'0'.repeat(64)}  ${path.basename(DEB)}\n`);
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const file = path.join(served, path.basename(req.url ?? ''));
    if (!existsSync(file)) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-length': statSync(file).size });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/faultd/`;
  const before = spawnSync('dpkg-query', ['-W', 'faultd']).status;
  const child = spawn('sh', [path.join(REPO, 'scripts/get-faultd.sh'), '--from', url], { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  t.is(code, 1, text);
  t.regex(text, /checksum mismatch for faultd_.*\.deb.*nothing installed/);
  t.deepEqual(requests, ['/faultd/SHA256SUMS', `/faultd/${path.basename(DEB)}`]);
  t.is(spawnSync('dpkg-query', ['-W', 'faultd']).status, before, 'the host\'s package database is as it was');
});
