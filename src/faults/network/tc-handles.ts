// SPDX-License-Identifier: Apache-2.0
/** tc parent ids from <linux/pkt_sched.h>, and the hash faultd derives its per-fault names from. */

export const TC_H_ROOT = 0xffffffff;
/** The ingress qdisc's parent (clsact sits at the same place). */
export const TC_H_INGRESS = 0xfffffff1;
/** Parents of the ingress-side qdiscs (ingress/clsact, and clsact's egress hook). */
export const INGRESS_PARENTS = new Set([TC_H_INGRESS, 0xfffffff2]);

/** 32-bit FNV-1a of `text`: stable per-fault handles, queue numbers and device names. */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (const char of text) hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193) >>> 0;
  return hash;
}
