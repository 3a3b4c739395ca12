// SPDX-License-Identifier: Apache-2.0
/**
 * A Debian bookworm with systemd as PID 1, booted with systemd-nspawn, for proving faultd as a
 * service: kill -9, reboots, revert failures. The rootfs is built once with debootstrap into
 * `.cache/system/rootfs` (ignored by git) and never changed: each container runs on an overlay
 * whose upper layer lives in its own temp dir, so a "reboot" (boot again) keeps the container's
 * disk, and removing the dir forgets it. Node and this checkout are bind-mounted read-only
 * (/usr/bin/node, /opt/faultd), so what runs inside is exactly what was built here.
 *
 * The container's disk (the overlay's upper layer) is on a tmpfs the harness mounts, so nothing
 * it writes reaches the host's root filesystem. /mnt/fill is a 64 MiB ext4 image (on that
 * tmpfs, loop-mounted on the host and bound in) for disk-fill faults that must survive a reboot.
 *
 * Inside, at every boot: `faultd-hub.service` (the hub on 127.0.0.1:8443, its state in
 * /var/lib/faultd-hub) and `faultd-testnet.service` (a veth pair fd0/fd1 for network faults).
 * `--private-network` keeps every packet in the container's own namespace.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');
const CACHE = path.join(REPO, '.cache', 'system');
/** Bump when the package list changes: a cached rootfs of another version is rebuilt. */
const ROOTFS_VERSION = '1';
const PACKAGES = ['systemd', 'systemd-sysv', 'dbus', 'iproute2', 'nftables', 'libstdc++6', 'procps', 'e2fsprogs'];
const MIRROR = process.env['FAULTD_DEBIAN_MIRROR'] ?? 'http://deb.debian.org/debian';
export const FAULTD = '/opt/faultd/bin/faultd.js';
export const HUB_DIR = '/var/lib/faultd-hub';
const CLEAN_ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' };

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** What the system suite needs on the host; a reason to skip when it is missing. */
export function systemSuiteMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  for (const tool of ['systemd-nspawn', 'debootstrap', 'nsenter']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `needs ${tool} (bash scripts/install-deps.sh)`;
  }
  if (!existsSync(path.join(REPO, 'build', 'Release', 'faultd_native.node'))) return 'needs a build (npm run build)';
  return undefined;
}

/**
 * Builds the cached rootfs of a Debian suite unless it is there (about 35 s plus downloads):
 * `.cache/system/rootfs` for bookworm, `.cache/system/rootfs-<suite>` for another (the package
 * tests also boot bullseye and trixie).
 */
export function ensureRootfs(log: (line: string) => void = () => undefined, suite = 'bookworm'): string {
  const name = suite === 'bookworm' ? 'rootfs' : `rootfs-${suite}`;
  const rootfs = path.join(CACHE, name);
  const stamp = path.join(CACHE, `${name}.version`);
  if (existsSync(rootfs) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === ROOTFS_VERSION) return rootfs;
  mkdirSync(CACHE, { recursive: true });
  const staging = path.join(CACHE, `${name}.tmp`);
  rmSync(staging, { recursive: true, force: true });
  rmSync(rootfs, { recursive: true, force: true });
  log(`debootstrap ${suite} into ${staging} (from ${MIRROR})`);
  const built = spawnSync('debootstrap', ['--variant=minbase', `--include=${PACKAGES.join(',')}`, suite, staging, MIRROR], { encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`debootstrap failed (exit ${built.status ?? '?'}): ${built.stderr.slice(-2000)}`);
  renameSync(staging, rootfs);
  writeFileSync(stamp, `${ROOTFS_VERSION}\n`);
  return rootfs;
}

const hubUnit = (faultd: string): string => `[Unit]
Description=faultd hub for the system suite
Before=faultd.service
[Service]
ExecStart=${faultd} hub --hub-dir ${HUB_DIR} serve --listen 127.0.0.1:8443 --token-ttl 10m
Restart=always
[Install]
WantedBy=multi-user.target
`;

const TESTNET_UNIT = `[Unit]
Description=a veth pair for network faults (the suite's own)
Before=faultd.service
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'ip link add fd0 type veth peer name fd1 && ip addr add 10.99.0.1/24 dev fd0 && ip addr add 10.99.0.2/24 dev fd1 && ip link set fd0 up && ip link set fd1 up'
[Install]
WantedBy=multi-user.target
`;

export interface ContainerOptions {
  /**
   * Where faultd comes from inside. 'checkout' (the default): the host's Node and this checkout,
   * bind-mounted read-only, and the hub from them, started at boot. 'package': neither; the hub
   * unit runs the packaged /usr/bin/faultd and is not enabled (the test starts it once it
   * installed the package).
   */
  readonly faultd?: 'checkout' | 'package';
  /** More read-only bind mounts: [host path, container path]. */
  readonly bindsRo?: readonly (readonly [string, string])[];
}

export class Container {
  readonly dir: string;
  readonly root: string;
  readonly name: string;
  #nspawn: ChildProcess | undefined;
  #exited: Promise<number> | undefined;
  #leader = 0;
  #console = '';
  readonly #options: ContainerOptions;

  private constructor(dir: string, name: string, options: ContainerOptions) {
    this.dir = dir;
    this.root = path.join(dir, 'merged');
    this.name = name;
    this.#options = options;
  }

  /** An overlay over the cached rootfs, with the suite's units enabled; not booted yet. */
  static create(rootfs: string, options: ContainerOptions = {}): Container {
    const dir = mkdtempSync(path.join(tmpdir(), 'faultd-system-'));
    const container = new Container(dir, `faultd-sys-${path.basename(dir).slice(-6)}`, options);
    const fromCheckout = (options.faultd ?? 'checkout') === 'checkout';
    run('mount', ['-t', 'tmpfs', '-o', 'size=1g,mode=0700', 'faultd-system', dir]);
    for (const sub of ['upper', 'work', 'merged', 'fill']) mkdirSync(path.join(dir, sub));
    run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${rootfs},upperdir=${dir}/upper,workdir=${dir}/work`, container.root]);
    const image = path.join(dir, 'fill.img');
    run('truncate', ['-s', '64M', image]);
    run('mkfs.ext4', ['-q', '-F', image]);
    run('mount', ['-o', 'loop', image, container.fillDir]);
    const units = path.join(container.root, 'etc/systemd/system');
    const wants = path.join(units, 'multi-user.target.wants');
    mkdirSync(wants, { recursive: true });
    const hub = hubUnit(fromCheckout ? `/usr/bin/node ${FAULTD}` : '/usr/bin/faultd');
    for (const [name, text, enabled] of [['faultd-hub.service', hub, fromCheckout], ['faultd-testnet.service', TESTNET_UNIT, true]] as const) {
      writeFileSync(path.join(units, name), text);
      if (enabled) spawnSync('ln', ['-sf', `../${name}`, path.join(wants, name)]);
    }
    writeFileSync(path.join(container.root, 'etc/hostname'), `${container.name}\n`);
    return container;
  }

  /** The host path of the container's /mnt/fill. */
  get fillDir(): string {
    return path.join(this.dir, 'fill');
  }

  get leader(): number {
    return this.#leader;
  }

  get console(): string {
    return this.#console;
  }

  /** Boots (again) and waits until systemd reports the system up. Returns the boot time in ms. */
  async boot(timeoutMs = 60_000): Promise<number> {
    const started = performance.now();
    const faultd = (this.#options.faultd ?? 'checkout') === 'checkout' ? ['--bind-ro=/usr/bin/node', `--bind-ro=${REPO}:/opt/faultd`] : [];
    const extra = (this.#options.bindsRo ?? []).map(([host, inside]) => `--bind-ro=${host}:${inside}`);
    const nspawn = ['systemd-nspawn', '--register=no', '--keep-unit', '--private-network', '--quiet', `--machine=${this.name}`, '-D', this.root, ...faultd, ...extra, `--bind=${this.fillDir}:/mnt/fill`, '--capability=CAP_SYS_TIME', '--boot'];
    // nspawn (--keep-unit) puts the container under its caller's cgroup: a cgroup of our own, so
    // that nothing lands in the host's root cgroup and destroy() can remove it all.
    const enter = this.#cgroups().map((dir) => `mkdir -p ${dir} && echo $$ > ${dir}/cgroup.procs`).join(' && ');
    const child = spawn('sh', ['-c', `${enter} && exec "$@"`, 'nspawn', ...nspawn], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#nspawn = child;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (this.#console = (this.#console + chunk).slice(-200_000)));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (this.#console = (this.#console + chunk).slice(-200_000)));
    this.#exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))));
    for (;;) {
      if (performance.now() - started > timeoutMs) throw new Error(`the container did not boot within ${timeoutMs} ms:\n${this.#console.slice(-3000)}`);
      if (child.exitCode !== null) throw new Error(`systemd-nspawn exited with ${child.exitCode}:\n${this.#console.slice(-3000)}`);
      const leader = Number(spawnSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' }).stdout.trim().split('\n')[0]);
      if (leader > 0) {
        this.#leader = leader;
        const state = this.exec(['systemctl', 'is-system-running']).stdout.trim();
        if (state === 'running' || state === 'degraded') return Math.round(performance.now() - started);
      }
      await sleep(100);
    }
  }

  /** Runs a command in all the container's namespaces, with a clean environment. */
  exec(args: readonly string[], input?: string): ExecResult {
    const result = spawnSync('nsenter', ['-t', String(this.#leader), '-a', 'env', '-i', ...Object.entries(CLEAN_ENV).map(([k, v]) => `${k}=${v}`), ...args], {
      encoding: 'utf8',
      ...(input === undefined ? {} : { input }),
      timeout: 60_000,
    });
    return { code: result.status ?? -1, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
  }

  /** `faultd …` inside the container. */
  faultd(args: readonly string[]): ExecResult {
    return this.exec(['/usr/bin/node', FAULTD, ...args]);
  }

  /** Resolves with nspawn's exit code when the container stops (133 after `systemctl reboot`). */
  exited(): Promise<number> {
    return this.#exited ?? Promise.resolve(0);
  }

  /** The cgroups nspawn runs in (the hierarchies systemd uses: name=systemd and the unified one). */
  #cgroups(): string[] {
    const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
    const mounts = mountinfo
      .filter((line) => / - cgroup2 /.test(line) || (/ - cgroup /.test(line) && /name=systemd/.test(line)))
      .map((line) => line.split(' ')[4] ?? '')
      .filter(Boolean);
    return mounts.map((mount) => path.join(mount, this.name));
  }

  /** A power cut: SIGKILL to the container's init takes down every process in it at once. */
  async hardStop(): Promise<number> {
    spawnSync('kill', ['-9', String(this.#leader)]);
    return this.exited();
  }

  /** Powers off (if running), unmounts the overlay and deletes the container's disk. */
  async destroy(): Promise<void> {
    if (this.#nspawn && this.#nspawn.exitCode === null) {
      this.exec(['systemctl', 'poweroff']);
      const stopped = await Promise.race([this.exited().then(() => true), sleep(20_000).then(() => false)]);
      if (!stopped) await this.hardStop();
    }
    for (const dir of this.#cgroups()) spawnSync('find', [dir, '-depth', '-type', 'd', '-exec', 'rmdir', '{}', ';'], { stdio: 'ignore' });
    for (const mount of [this.fillDir, this.root, this.dir]) {
      // nspawn may still be letting go of the tree for a moment after it exited.
      for (let attempt = 0; attempt < 50 && spawnSync('mountpoint', ['-q', mount]).status === 0; attempt += 1) {
        if (spawnSync('umount', [mount]).status !== 0) await sleep(100);
      }
    }
    await removeDir(this.dir);
  }
}

/**
 * Removes the container's (now unmounted) directory. A mount namespace another process copied
 * while our tmpfs was mounted (an nspawn of other work on this host starting at that moment)
 * keeps the directory a mount point until that namespace lets go: rmdir then says EBUSY. It is
 * retried for 5 s, then left as an empty directory with a warning rather than failing the test.
 */
async function removeDir(dir: string): Promise<void> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      rmSync(dir, { recursive: true, force: true });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EBUSY') throw error;
      if (attempt >= 50) {
        process.emitWarning(`${dir} is still a mount point in another mount namespace (EBUSY); left as an empty directory`);
        return;
      }
      await sleep(100);
    }
  }
}

function run(command: string, args: readonly string[]): void {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr || result.error?.message || result.status}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
