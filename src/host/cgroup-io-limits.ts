// SPDX-License-Identifier: Apache-2.0
/**
 * The per-device I/O throttle rules of a cgroup. cgroup v1 (blkio) has one file per limit,
 * `blkio.throttle.{read,write}_{bps,iops}_device`, each holding `MAJ:MIN value` lines; writing
 * `MAJ:MIN 0` removes the device's rule. cgroup v2 has `io.max`, one line per device,
 * `MAJ:MIN rbps=… wbps=… riops=… wiops=…` with `max` for no limit; a write names only the keys it
 * changes, and a line whose keys are all `max` disappears. Every write here touches one device's
 * rule: the rules of other devices in the same file are never written.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** The four throttle limits, in io.max's order. */
export const IO_LIMITS = ['readBps', 'writeBps', 'readIops', 'writeIops'] as const;
export type IoLimitName = (typeof IO_LIMITS)[number];
export type IoLimits = Partial<Record<IoLimitName, number>>;

const V1_FILES: Record<IoLimitName, string> = {
  readBps: 'blkio.throttle.read_bps_device',
  writeBps: 'blkio.throttle.write_bps_device',
  readIops: 'blkio.throttle.read_iops_device',
  writeIops: 'blkio.throttle.write_iops_device',
};
const V2_KEYS: Record<IoLimitName, string> = { readBps: 'rbps', writeBps: 'wbps', readIops: 'riops', writeIops: 'wiops' };
/** What restores "no rule" on v2: every key back to max (the kernel then drops the line). */
const V2_NO_RULE = IO_LIMITS.map((name) => `${V2_KEYS[name]}=max`).join(' ');

/**
 * One device's rule to change: `previous` is the device's rule before ('' when it had none),
 * `value` the text written, `expected` the rule read back after it, `restore` the text that
 * brings `previous` back.
 */
export interface DeviceRuleWrite {
  readonly kind: 'io';
  readonly file: string;
  readonly device: string;
  readonly previous: string;
  readonly value: string;
  readonly expected: string;
  readonly restore: string;
}

/** The device's rule in a throttle file's text, without the device number ('' when it has none). */
export function deviceRule(text: string, device: string): string {
  for (const line of text.split('\n')) {
    const [dev, ...rest] = line.trim().split(/\s+/);
    if (dev === device) return rest.join(' ');
  }
  return '';
}

/** The device's rule in `file`, as the kernel reads it now. */
export const readDeviceRule = (file: string, device: string): string => deviceRule(readFileSync(file, 'utf8'), device);

/** io.max's rule with `limits` set over `previous` ('' when every key is max, as the kernel shows it). */
export function mergedV2Rule(previous: string, limits: IoLimits): string {
  const keys = new Map(IO_LIMITS.map((name) => [V2_KEYS[name], 'max']));
  for (const pair of previous.split(/\s+/).filter(Boolean)) {
    const [key, value] = pair.split('=');
    if (key && value !== undefined && keys.has(key)) keys.set(key, value);
  }
  for (const name of IO_LIMITS) {
    const amount = limits[name];
    if (amount !== undefined) keys.set(V2_KEYS[name], String(amount));
  }
  return [...keys.values()].every((v) => v === 'max') ? '' : [...keys].map(([k, v]) => `${k}=${v}`).join(' ');
}

/**
 * The writes that set `limits` on `device` in the cgroup `dir` of cgroup `version`, each with the
 * device's rule now (read from the files) and the text that restores it.
 */
export function ioLimitWrites(limits: IoLimits, device: string, version: 1 | 2, dir: string): DeviceRuleWrite[] {
  const given = IO_LIMITS.filter((name) => limits[name] !== undefined);
  if (version === 2) {
    const file = path.join(dir, 'io.max');
    const previous = readDeviceRule(file, device);
    const value = `${device} ${given.map((name) => `${V2_KEYS[name]}=${limits[name]}`).join(' ')}`;
    return [{ kind: 'io', file, device, previous, value, expected: mergedV2Rule(previous, limits), restore: `${device} ${previous || V2_NO_RULE}` }];
  }
  return given.map((name) => {
    const file = path.join(dir, V1_FILES[name]);
    const previous = readDeviceRule(file, device);
    return { kind: 'io', file, device, previous, value: `${device} ${limits[name]}`, expected: String(limits[name]), restore: `${device} ${previous || '0'}` };
  });
}
