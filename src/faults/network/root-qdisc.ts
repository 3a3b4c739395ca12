// SPDX-License-Identifier: Apache-2.0
/**
 * The root qdisc of an interface: snapshot before a fault replaces it, and exact restore at
 * revert. A default root (handle 0: noqueue, pfifo_fast, mq, fq_codel…) is restored by deleting
 * ours, so the kernel re-attaches its default. A classless qdisc someone configured is restored
 * from its dumped options. An htb tree is restored with its classes, leaf qdiscs and u32
 * filters (tc-tree.ts); other classful trees are refused rather than lost.
 */
import { z } from 'zod';

import { FaultdError } from '../../errors.js';
import type { NativeAddon, QdiscInfo } from '../../native/addon.js';
import { fnv1a32, INGRESS_PARENTS, TC_H_ROOT } from './tc-handles.js';
import { replayTree, RESTORABLE_KINDS, snapshotTree, treeDifferences, TreeSchema } from './tc-tree.js';

export { TC_H_ROOT };

/** Handle majors faultd gives its root qdiscs: one per fault, from this range. */
const HANDLE_BASE = 0xf000;
const HANDLE_SPAN = 0x0f00;

/**
 * The root qdisc handle of one fault (`f000:`–`feff:`), derived from its id. A revert removes
 * only a root that still has this handle, and asks the kernel to delete exactly that handle, so
 * faults (even of two faultd processes) never remove each other's qdiscs.
 */
export function faultQdiscHandle(faultId: string): number {
  return ((HANDLE_BASE + (fnv1a32(faultId) % HANDLE_SPAN)) << 16) >>> 0;
}

/** A handle faultd may have installed (any fault's). */
export function isFaultdHandle(handle: number): boolean {
  const major = handle >>> 16;
  return major >= HANDLE_BASE && major < HANDLE_BASE + HANDLE_SPAN;
}

export const RootSnapshotSchema = z.object({
  kind: z.string(),
  handle: z.number().int().nonnegative(),
  /** Hex of the dumped TCA_OPTIONS attribute ('' for none). */
  options: z.string().regex(/^[0-9a-f]*$/),
  /** The classes, leaf qdiscs and filters of a classful (htb) root. */
  tree: TreeSchema.optional(),
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
  const qdiscs = native.qdiscList(ifname);
  const root = rootOf(qdiscs);
  if (root && isFaultdHandle(root.handle)) {
    throw new FaultdError('FAULTD_ERR_FAULT_APPLY', `${ifname} already carries a faultd qdisc (${root.kind} ${formatHandle(root.handle)}): another fault owns it`);
  }
  // netem is classless but not restorable: the kernel does not dump its distribution table.
  if (root && root.handle !== 0 && !RESTORABLE_KINDS.has(root.kind) && root.kind !== 'netem') {
    const tree = snapshotTree(native, ifname, root);
    return { kind: root.kind, handle: root.handle, options: Buffer.from(root.options).toString('hex'), tree };
  }
  // Below a classless root, the kernel's own children have handle 0 (e.g. mq's per-queue
  // fq_codel); a child someone configured has a handle and would be lost when the root is replaced.
  const configuredChild = qdiscs.find((q) => q !== root && !INGRESS_PARENTS.has(q.parent) && q.handle !== 0);
  if (configuredChild) {
    throw new FaultdError(
      'FAULTD_ERR_FAULT_UNSUPPORTED',
      `${ifname} has a configured ${configuredChild.kind} qdisc (${formatHandle(configuredChild.handle)}) below its root, which faultd cannot yet restore exactly; refusing to replace the root`,
    );
  }
  if (!root) return { kind: 'noqueue', handle: 0, options: '' };
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
    : snapshot.tree
      ? `restore the ${snapshot.kind} root qdisc ${formatHandle(snapshot.handle)} on ${ifname} with its ${snapshot.tree.classes.length} class(es), ${snapshot.tree.qdiscs.length} leaf qdisc(s) and ${snapshot.tree.filters.length} filter(s), from the saved dump`
      : `restore the ${snapshot.kind} root qdisc ${formatHandle(snapshot.handle)} on ${ifname} from its saved options`;
}

/** The manual command that puts the root back, for a revert that failed. */
export function manualRestore(ifname: string, snapshot: RootSnapshot): string {
  return snapshot.handle === 0
    ? `tc qdisc del dev ${ifname} root`
    : snapshot.tree
      ? `tc qdisc replace dev ${ifname} root handle ${formatHandle(snapshot.handle)} ${snapshot.kind} … and re-add its ${snapshot.tree.classes.length} class(es), ${snapshot.tree.qdiscs.length} leaf qdisc(s) and ${snapshot.tree.filters.length} u32 filter(s) (listed in the ledger's intent record)`
      : `tc qdisc replace dev ${ifname} root handle ${formatHandle(snapshot.handle)} ${snapshot.kind} <its previous options>`;
}

export type RestoreOutcome = 'restored' | 'not-ours' | 'no-interface';

/**
 * Puts the snapshot back if the root is still faultd's, then verifies the kind and handle.
 * Idempotent: a root that is not faultd's (already restored, or replaced by someone) is left
 * alone, and a vanished interface has nothing to restore.
 */
export function restoreRoot(native: NativeAddon, ifname: string, snapshot: RootSnapshot, handle: number, afterReboot = false): RestoreOutcome {
  let qdiscs: QdiscInfo[];
  try {
    qdiscs = native.qdiscList(ifname);
  } catch (error) {
    if ((error as { code?: string }).code === 'ENODEV') return 'no-interface';
    throw error;
  }
  const root = rootOf(qdiscs);
  if (root?.handle !== handle) {
    // A tree restore that stopped after putting the root back: report what is still missing
    // rather than calling the revert done.
    // (Not after a reboot: a tree at that handle now was built by the host's own boot.)
    if (!afterReboot && snapshot.tree && root?.handle === snapshot.handle && root.kind === snapshot.kind) {
      const differences = treeDifferences(native, ifname, { handle: snapshot.handle, kind: snapshot.kind }, snapshot.tree);
      if (differences.length > 0) throw new Error(`the ${snapshot.kind} tree of ${ifname} is incomplete after an interrupted restore: ${differences.join('; ')}`);
    }
    return 'not-ours';
  }
  if (snapshot.handle === 0) {
    native.qdiscDelete({ ifname, parent: TC_H_ROOT, handle });
  } else if (snapshot.tree) {
    // A tree is rebuilt from the root down: the saved root replaces ours in one step (if the
    // kernel refuses it, ours is still there and a later revert can retry), then the classes,
    // leaves and filters are added below it.
    native.qdiscReplace({ ifname, parent: TC_H_ROOT, handle: snapshot.handle, kind: snapshot.kind, options: Buffer.from(snapshot.options, 'hex') });
    replayTree(native, ifname, snapshot.handle, snapshot.tree);
  } else {
    native.qdiscReplace({ ifname, parent: TC_H_ROOT, handle: snapshot.handle, kind: snapshot.kind, options: Buffer.from(snapshot.options, 'hex') });
  }
  const after = rootOf(native.qdiscList(ifname));
  const kind = after?.kind ?? 'noqueue';
  const afterHandle = after?.handle ?? 0;
  if (afterHandle === handle || kind !== snapshot.kind || afterHandle !== snapshot.handle) {
    throw new Error(`root qdisc of ${ifname} is ${kind} ${formatHandle(afterHandle)} after restore, expected ${snapshot.kind} ${formatHandle(snapshot.handle)}`);
  }
  if (snapshot.tree) {
    const differences = treeDifferences(native, ifname, { handle: snapshot.handle, kind: snapshot.kind }, snapshot.tree);
    if (differences.length > 0) throw new Error(`the ${snapshot.kind} tree of ${ifname} differs after restore: ${differences.join('; ')}`);
  }
  return 'restored';
}
