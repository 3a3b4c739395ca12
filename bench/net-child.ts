// SPDX-License-Identifier: Apache-2.0
/**
 * Runs inside a throwaway network namespace (started by bench/run.ts with `ip netns exec`):
 * times apply+revert of a tbf rate limit and of an nf_tables loss rule, faultd's netlink path
 * against the `tc`/`nft` CLIs, interleaved, and prints one JSON line of per-pair times (µs).
 */
import { execFileSync } from 'node:child_process';

import { loadNative } from '../src/native/load.js';

const ITERATIONS = Number(process.argv[2] ?? 200);
const TC = process.argv[3] ?? '/usr/sbin/tc';
const NFT = process.argv[4] ?? '/usr/sbin/nft';
const ROOT = 0xffffffff;
const HANDLE = 0xfa170000;
const native = loadNative();

const elapsedUs = async (fn: () => unknown): Promise<number> => {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1000;
};

const tbf = native.tbfOptions({ rateBytesPerSec: 125_000, burstBytes: 32_768, limitBytes: 2_097_152 });
const NFT_SCRIPT = `table inet faultd {
  chain bench-out {
    type filter hook output priority 0; policy accept;
    tcp sport 22 accept
    oifname "v0" numgen random mod 100 < 30 drop
  }
}
`;

type Op = () => unknown;
const ops: Record<'tbfNetlink' | 'tbfCli' | 'nftNetlink' | 'nftCli', Op> = {
  tbfNetlink: () => {
    native.qdiscReplace({ ifname: 'v0', parent: ROOT, handle: HANDLE, kind: 'tbf', options: tbf, exclusive: true });
    native.qdiscDelete({ ifname: 'v0', parent: ROOT });
  },
  tbfCli: () => {
    execFileSync(TC, ['qdisc', 'add', 'dev', 'v0', 'root', 'handle', 'fa17:', 'tbf', 'rate', '1mbit', 'burst', '32kb', 'limit', '2mb']);
    execFileSync(TC, ['qdisc', 'del', 'dev', 'v0', 'root']);
  },
  nftNetlink: () => {
    native.nftAddChain({
      chain: 'bench-out',
      hook: 'output',
      rules: [
        { l4proto: 'tcp', port: 22, matchSourcePort: true, verdict: 'accept' },
        { ifname: 'v0', percent: 30, verdict: 'drop' },
      ],
    });
    native.nftDeleteChain('faultd', 'bench-out');
  },
  nftCli: () => {
    execFileSync(NFT, ['-f', '-'], { input: NFT_SCRIPT });
    execFileSync(NFT, ['delete', 'table', 'inet', 'faultd']);
  },
};
type Results = Record<keyof typeof ops, number[]>;
const empty = (): Results => ({ tbfNetlink: [], tbfCli: [], nftNetlink: [], nftCli: [] });

// Interleaved: each faultd pair runs right after a CLI fork, with cold caches, as a single
// fault apply would on a busy host.
const interleaved = empty();
for (let i = 0; i < ITERATIONS; i += 1) {
  for (const name of Object.keys(ops) as (keyof typeof ops)[]) interleaved[name].push(await elapsedUs(ops[name]));
}
// Consecutive: blocks of 20 of each, alternating, so each path runs warm.
const consecutive = empty();
for (let round = 0; round < ITERATIONS / 20; round += 1) {
  for (const name of Object.keys(ops) as (keyof typeof ops)[]) {
    for (let i = 0; i < 20; i += 1) consecutive[name].push(await elapsedUs(ops[name]));
  }
}
// With another output hook present, as on any host with a firewall (or conntrack, docker…):
// netfilter's per-hook static key is then already on, so adding a base chain does not patch
// kernel text. The same loss rule is timed again, both paths, in both orders.
native.nftAddChain({ table: 'benchfw', chain: 'out', hook: 'output', priority: 10, rules: [] });
const nftOps = { nftNetlink: ops.nftNetlink, nftCli: ops.nftCli };
const withFirewall = { interleaved: { nftNetlink: [] as number[], nftCli: [] as number[] }, consecutive: { nftNetlink: [] as number[], nftCli: [] as number[] } };
for (let i = 0; i < ITERATIONS; i += 1) {
  for (const name of Object.keys(nftOps) as (keyof typeof nftOps)[]) withFirewall.interleaved[name].push(await elapsedUs(nftOps[name]));
}
for (let round = 0; round < ITERATIONS / 20; round += 1) {
  for (const name of Object.keys(nftOps) as (keyof typeof nftOps)[]) {
    for (let i = 0; i < 20; i += 1) withFirewall.consecutive[name].push(await elapsedUs(nftOps[name]));
  }
}
native.nftDeleteChain('benchfw', 'out');
process.stdout.write(`${JSON.stringify({ interleaved, consecutive, withFirewall })}\n`);
