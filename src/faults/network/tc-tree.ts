// SPDX-License-Identifier: Apache-2.0
/**
 * Snapshot and exact restore of a classful root tree (htb): its classes, the classless qdiscs
 * below them, and the u32 classify filters that steer into them. Everything is read from the
 * kernel's dumps (rtnetlink), stored in the ledger's intent, and replayed in dependency order
 * at revert, then verified against the snapshot. Anything faultd cannot replay exactly (another
 * classful kind, a classful child, a filter with actions, hashing u32 tables, other classifiers)
 * is refused before the root is touched. This module decides what is replayed and in which
 * order; the attribute bytes stay opaque here: the addon decodes the u32 entries and hands back
 * options the kernel accepts (native/injectors/tc_dump.h).
 */
import { z } from 'zod';

import { FaultdError } from '../../errors.js';
import type { FilterInfo, NativeAddon } from '../../native/addon.js';
import { INGRESS_PARENTS, TC_H_ROOT } from './tc-handles.js';

/** Classful root kinds whose trees faultd replays. */
const TREE_KINDS = new Set(['htb']);
/** Classless qdiscs whose dumped options re-create them (children of a tree's classes). */
export const RESTORABLE_KINDS = new Set(['tbf', 'fq_codel', 'fq', 'pfifo', 'bfifo', 'pfifo_fast', 'sfq', 'codel', 'noqueue']);

const hex = z.string().regex(/^[0-9a-f]*$/);
export const TreeSchema = z.object({
  classes: z.array(z.object({ classid: z.number().int(), parent: z.number().int(), kind: z.string(), options: hex })),
  qdiscs: z.array(z.object({ handle: z.number().int(), parent: z.number().int(), kind: z.string(), options: hex })),
  filters: z.array(z.object({ parent: z.number().int(), prio: z.number().int(), protocol: z.number().int(), kind: z.literal('u32'), options: hex })),
});
export type Tree = z.infer<typeof TreeSchema>;

/** First id of the u32 root tables the kernel creates itself (800:). */
const U32_AUTO_TABLE_BASE = 0x800;

const handleText = (h: number): string => `${(h >>> 16).toString(16)}:${(h & 0xffff) ? (h & 0xffff).toString(16) : ''}`;

/** The options to re-add a dumped u32 entry, or undefined for entries the kernel creates itself. */
function replayableU32(ifname: string, f: FilterInfo): Uint8Array | undefined {
  const node = f.u32;
  if (!node) throw new FaultdError('FAULTD_ERR_FAULT_UNSUPPORTED', `${ifname} has a ${f.kind} filter that was not decoded; refusing to replace its root`);
  if (node.node === 'header') return undefined; // the per-priority header entry
  if (node.node === 'table') {
    // The kernel's own root tables are 800:, 801:, … (one per priority); a table someone made
    // (`handle 2: u32 divisor …`) has its own id and keys linked to it.
    if (node.divisor !== 1 || f.handle >>> 20 < U32_AUTO_TABLE_BASE) {
      throw new FaultdError('FAULTD_ERR_FAULT_UNSUPPORTED', `${ifname} has a hashing u32 table, which faultd cannot yet restore exactly; refusing to replace its root`);
    }
    return undefined; // the root hash table, created with the first node
  }
  const other = node.extraAttributes[0];
  if (other !== undefined) throw new FaultdError('FAULTD_ERR_FAULT_UNSUPPORTED', `${ifname} has a u32 filter with attribute ${other} (actions, police, link or mark), which faultd cannot yet restore exactly; refusing to replace its root`);
  // Replayed as `tc filter add … u32 <sel> flowid <classid>`: the kernel assigns the node handle
  // and the hash table again (the addon drops dump-only flags such as not_in_hw).
  if (!node.replayOptions) throw new FaultdError('FAULTD_ERR_FAULT_UNSUPPORTED', `${ifname} has a u32 filter without a selector; refusing to replace its root`);
  return node.replayOptions;
}

/** Reads the tree below a classful root, or refuses it. */
export function snapshotTree(native: NativeAddon, ifname: string, root: { handle: number; kind: string }): Tree {
  if (!TREE_KINDS.has(root.kind)) {
    throw new FaultdError('FAULTD_ERR_FAULT_UNSUPPORTED', `${ifname} has a ${root.kind} root qdisc (${handleText(root.handle)}) whose tree faultd cannot yet restore exactly (htb trees can); refusing to replace it`);
  }
  const major = root.handle & 0xffff0000;
  const classes = native.classList(ifname).filter((c) => (c.handle & 0xffff0000) === major);
  for (const c of classes) {
    if (c.kind !== root.kind) throw new FaultdError('FAULTD_ERR_FAULT_UNSUPPORTED', `${ifname}: class ${handleText(c.handle)} is ${c.kind}; refusing to replace the root`);
  }
  const classIds = new Set(classes.map((c) => c.handle));
  const qdiscs = native.qdiscList(ifname).filter((q) => q.parent !== TC_H_ROOT && !INGRESS_PARENTS.has(q.parent) && q.handle !== 0);
  for (const q of qdiscs) {
    if (!classIds.has(q.parent) || !RESTORABLE_KINDS.has(q.kind)) {
      throw new FaultdError('FAULTD_ERR_FAULT_UNSUPPORTED', `${ifname}: the ${q.kind} qdisc ${handleText(q.handle)} below ${handleText(q.parent)} cannot be restored exactly; refusing to replace the root`);
    }
    if (native.filterList(ifname, q.handle).length > 0) {
      throw new FaultdError('FAULTD_ERR_FAULT_UNSUPPORTED', `${ifname}: the ${q.kind} qdisc ${handleText(q.handle)} has filters of its own, which faultd cannot yet restore; refusing to replace the root`);
    }
  }
  const filters: Tree['filters'] = [];
  for (const parent of [root.handle, ...classIds]) {
    for (const f of native.filterList(ifname, parent)) {
      if (f.kind !== 'u32') throw new FaultdError('FAULTD_ERR_FAULT_UNSUPPORTED', `${ifname} has a ${f.kind} filter below ${handleText(parent)}, which faultd cannot yet restore; refusing to replace its root`);
      if (f.chain !== 0) throw new FaultdError('FAULTD_ERR_FAULT_UNSUPPORTED', `${ifname} has filters in chain ${f.chain} below ${handleText(parent)}, which faultd cannot yet restore; refusing to replace its root`);
      const options = replayableU32(ifname, f);
      if (options) filters.push({ parent, prio: f.prio, protocol: f.protocol, kind: 'u32', options: Buffer.from(options).toString('hex') });
    }
  }
  const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  return {
    classes: classes.map((c) => ({ classid: c.handle, parent: c.parent, kind: c.kind, options: toHex(c.options) })),
    qdiscs: qdiscs.map((q) => ({ handle: q.handle, parent: q.parent, kind: q.kind, options: toHex(q.options) })),
    filters,
  };
}

/** Classes in an order where every parent comes before its children. */
function parentsFirst(classes: Tree['classes']): Tree['classes'] {
  const ordered: Tree['classes'] = [];
  const placed = new Set<number>();
  let pending = [...classes];
  while (pending.length > 0) {
    const ready = pending.filter((c) => c.parent === TC_H_ROOT || placed.has(c.parent) || !classes.some((o) => o.classid === c.parent));
    if (ready.length === 0) throw new Error('the class tree has a cycle');
    for (const c of ready) placed.add(c.classid);
    ordered.push(...ready);
    pending = pending.filter((c) => !placed.has(c.classid));
  }
  return ordered;
}

/** Re-creates the tree below the (already re-created) root `handle`. */
export function replayTree(native: NativeAddon, ifname: string, handle: number, tree: Tree): void {
  for (const c of parentsFirst(tree.classes)) {
    // A class right below the qdisc dumps its parent as the root; it is added to the qdisc.
    const parent = c.parent === TC_H_ROOT ? handle : c.parent;
    native.classReplace({ ifname, parent, classid: c.classid, kind: c.kind, options: Buffer.from(c.options, 'hex') });
  }
  for (const q of tree.qdiscs) native.qdiscReplace({ ifname, parent: q.parent, handle: q.handle, kind: q.kind, options: Buffer.from(q.options, 'hex'), exclusive: true });
  for (const f of tree.filters) native.filterAdd({ ifname, parent: f.parent, prio: f.prio, protocol: f.protocol, kind: f.kind, options: Buffer.from(f.options, 'hex') });
}

/** What differs between the tree now on `ifname` and the snapshot (empty = identical). */
export function treeDifferences(native: NativeAddon, ifname: string, root: { handle: number; kind: string }, tree: Tree): string[] {
  const now = snapshotTree(native, ifname, root);
  const key = {
    classes: (c: Tree['classes'][number]) => `class ${handleText(c.classid)} parent ${handleText(c.parent)} ${c.kind} ${c.options}`,
    qdiscs: (q: Tree['qdiscs'][number]) => `qdisc ${handleText(q.handle)} parent ${handleText(q.parent)} ${q.kind} ${q.options}`,
    filters: (f: Tree['filters'][number]) => `filter parent ${handleText(f.parent)} prio ${f.prio} protocol 0x${f.protocol.toString(16)} ${f.kind} ${f.options}`,
  };
  const diff = (a: string[], b: string[]) => [...a.filter((x) => !b.includes(x)).map((x) => `missing ${x}`), ...b.filter((x) => !a.includes(x)).map((x) => `unexpected ${x}`)];
  return [
    ...diff(tree.classes.map(key.classes), now.classes.map(key.classes)),
    ...diff(tree.qdiscs.map(key.qdiscs), now.qdiscs.map(key.qdiscs)),
    ...diff(tree.filters.map(key.filters), now.filters.map(key.filters)),
  ];
}
