// SPDX-License-Identifier: Apache-2.0
/**
 * This process's mount table (/proc/self/mountinfo) and the mount that holds a path: what a
 * disk fill records, so that its revert can tell "the file is gone" from "the filesystem that
 * holds it is not where it was" (not mounted yet, hidden under another mount).
 */
import { readFileSync } from 'node:fs';

export interface MountEntry {
  /** Where it is mounted. */
  readonly point: string;
  readonly fstype: string;
  /** The device or share. */
  readonly source: string;
  /** The directory of that filesystem mounted there (not `/` for a bind mount or a subvolume). */
  readonly root: string;
}

/** Mount points and sources escape space, tab, newline and backslash as octal (\040…). */
function unescape(value: string): string {
  return value.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** A mount with the device number of its superblock (mountinfo's third field). */
export interface MountInfoEntry extends MountEntry {
  /**
   * `MAJ:MIN` of the filesystem's superblock (`sb->s_dev`): the same for every mount of one
   * filesystem (bind mounts, and btrfs subvolumes, whose files show a st_dev of their own).
   */
  readonly superblock: string;
}

function parseLines(text: string): MountInfoEntry[] {
  return text.split('\n').flatMap((line) => {
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    const [superblock, root, point] = [fields[2], fields[3], fields[4]];
    const [fstype, source] = [fields[dash + 1], fields[dash + 2]];
    if (dash < 6 || superblock === undefined || root === undefined || point === undefined || fstype === undefined || source === undefined) return [];
    return [{ point: unescape(point), fstype, source: unescape(source), root: unescape(root), superblock }];
  });
}

/** The mounts of `text` (mountinfo format), in mount order. */
export function parseMountinfo(text: string): MountEntry[] {
  return parseLines(text).map(({ point, fstype, source, root }) => ({ point, fstype, source, root }));
}

export function currentMounts(): MountEntry[] {
  return parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'));
}

/**
 * The mount that holds `dir` (absolute, links resolved): the deepest mount point over it, the
 * last mounted of several on one point. Undefined when no mount covers it (a chroot whose root
 * is not a mount point).
 */
export function mountHolding<M extends MountEntry>(dir: string, table: readonly M[]): M | undefined;
export function mountHolding(dir: string): MountEntry | undefined;
export function mountHolding(dir: string, table: readonly MountEntry[] = currentMounts()): MountEntry | undefined {
  let best: MountEntry | undefined;
  for (const m of table) {
    const over = m.point === '/' || dir === m.point || dir.startsWith(`${m.point}/`);
    if (over && m.point.length >= (best?.point.length ?? 0)) best = m;
  }
  return best;
}

/**
 * `MAJ:MIN` of the superblock of the filesystem holding `dir` (absolute, links resolved), from
 * the mountinfo `text` (default: this process's); undefined when no mount covers it.
 */
export function superblockOf(dir: string, text: string = readFileSync('/proc/self/mountinfo', 'utf8')): string | undefined {
  return mountHolding(dir, parseLines(text))?.superblock;
}

export function sameMount(a: MountEntry, b: MountEntry): boolean {
  return a.point === b.point && a.fstype === b.fstype && a.source === b.source && a.root === b.root;
}

/** `source` (and the directory of it, for a bind mount or subvolume) on `point`. */
export function describeMount(m: MountEntry): string {
  return `${m.fstype} ${m.source}${m.root === '/' ? '' : ` (its ${m.root})`} on ${m.point}`;
}
