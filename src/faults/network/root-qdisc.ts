// SPDX-License-Identifier: Apache-2.0
/**
 * The root qdisc of an interface: snapshot before a fault replaces it, and exact restore at
 * revert. A default root (handle 0: noqueue, pfifo_fast, mq, fq_codel…) is restored by deleting
 * ours, so the kernel re-attaches its default. A classless qdisc someone configured is restored
 * from its dumped options. A classful tree (htb, prio…) has classes and filters beyond the root
 * options, so faultd refuses to replace it rather than lose it.
 */
import { z } from 'zod';

import { FaultdError } from '../../errors.js';
import type { NativeAddon, QdiscInfo } from '../../native/addon.js';

/** TC_H_ROOT from <linux/pkt_sched.h>. */
export const TC_H_ROOT = 0xffffffff;
/** Handle of every root qdisc faultd installs (`fa17:`), so a revert only removes its own. */
export const FAULTD_QDISC_HANDLE = 0xfa170000;

/** Qdiscs whose dumped options re-create them exactly (no classes, no filters). */
const RESTORABLE_KINDS = new Set(['tbf', 'fq_codel', 'fq', 'pfifo', 'bfifo', 'pfifo_fast', 'sfq', 'codel', 'netem', 'noqueue']);

export const RootSnapshotSchema = z.object({
  kind: z.string(),
  handle: z.number().int().nonnegative(),
  /** Hex of the dumped TCA_OPTIONS attribute ('' for none). */
  options: z.string().regex(/^[0-9a-f]*$/),
});
export type RootSnapshot = z.infer<typeof RootSnapshotSchema>;

export function formatHandle(handle: number): string {
  return `${(handle >>> 16).toString(16)}:`;
}

function rootOf(qdiscs: readonly QdiscInfo[]): QdiscInfo | undefined {
  return qdiscs.find((q) => q.parent === TC_H_ROOT);
}

/** Reads the root qdisc of `ifname`; refuses interfaces whose root faultd could not restore. */
export function snapshotRoot(native: NativeAddon, ifname: string): RootSnapshot {
  const root = rootOf(native.qdiscList(ifname));
  if (!root) return { kind: 'noqueue', handle: 0, options: '' };
  if (root.handle === FAULTD_QDISC_HANDLE) {
    throw new FaultdError('FAULTD_ERR_FAULT_APPLY', `${ifname} already carries a faultd qdisc (${root.kind} ${formatHandle(root.handle)}): another fault owns it`);
  }
  if (root.handle !== 0 && !RESTORABLE_KINDS.has(root.kind)) {
    throw new FaultdError(
      'FAULTD_ERR_FAULT_UNSUPPORTED',
      `${ifname} has a ${root.kind} root qdisc (${formatHandle(root.handle)}) with classes faultd cannot yet restore exactly; refusing to replace it`,
    );
  }
  return { kind: root.kind, handle: root.handle, options: Buffer.from(root.options).toString('hex') };
}

/** How the root will be put back (for --dry-run and the ledger's manual fix). */
export function describeRestore(ifname: string, snapshot: RootSnapshot): string {
  return snapshot.handle === 0
    ? `delete faultd's root qdisc on ${ifname}; the kernel re-attaches its default (${snapshot.kind})`
    : `restore the ${snapshot.kind} root qdisc ${formatHandle(snapshot.handle)} on ${ifname} from its saved options`;
}

/** The manual command that puts the root back, for a revert that failed. */
export function manualRestore(ifname: string, snapshot: RootSnapshot): string {
  return snapshot.handle === 0
    ? `tc qdisc del dev ${ifname} root`
    : `tc qdisc replace dev ${ifname} root handle ${formatHandle(snapshot.handle)} ${snapshot.kind} <its previous options>`;
}

export type RestoreOutcome = 'restored' | 'not-ours' | 'no-interface';

/**
 * Puts the snapshot back if the root is still faultd's, then verifies the kind and handle.
 * Idempotent: a root that is not faultd's (already restored, or replaced by someone) is left
 * alone, and a vanished interface has nothing to restore.
 */
export function restoreRoot(native: NativeAddon, ifname: string, snapshot: RootSnapshot): RestoreOutcome {
  let qdiscs: QdiscInfo[];
  try {
    qdiscs = native.qdiscList(ifname);
  } catch (error) {
    if ((error as { code?: string }).code === 'ENODEV') return 'no-interface';
    throw error;
  }
  const root = rootOf(qdiscs);
  if (root?.handle !== FAULTD_QDISC_HANDLE) return 'not-ours';
  if (snapshot.handle === 0) {
    native.qdiscDelete({ ifname, parent: TC_H_ROOT });
  } else {
    native.qdiscReplace({ ifname, parent: TC_H_ROOT, handle: snapshot.handle, kind: snapshot.kind, options: Buffer.from(snapshot.options, 'hex') });
  }
  const after = rootOf(native.qdiscList(ifname));
  const kind = after?.kind ?? 'noqueue';
  const handle = after?.handle ?? 0;
  if (handle === FAULTD_QDISC_HANDLE || kind !== snapshot.kind || handle !== snapshot.handle) {
    throw new Error(`root qdisc of ${ifname} is ${kind} ${formatHandle(handle)} after restore, expected ${snapshot.kind} ${formatHandle(snapshot.handle)}`);
  }
  return 'restored';
}
