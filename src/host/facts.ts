// SPDX-License-Identifier: Apache-2.0
/**
 * Facts about the host that bound fault parameters and drive `faultd doctor`: online CPUs,
 * memory, boot id, privileges. Read from /proc and /sys under injectable roots so that tests can
 * point them at a fixture tree.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';


export interface HostRoots {
  readonly proc: string;
  readonly sys: string;
}

export const REAL_ROOTS: HostRoots = { proc: '/proc', sys: '/sys' };

export interface HostFacts {
  /**
   * CPU ids faultd can use: online (/sys/devices/system/cpu/online) and in this process's
   * affinity mask (Cpus_allowed_list, e.g. a container's cpuset).
   */
  readonly onlineCpus: readonly number[];
  readonly memTotalBytes: number;
  readonly memAvailableBytes: number;
  /** /proc/sys/kernel/random/boot_id: changes at every boot. */
  readonly bootId: string;
  readonly isRoot: boolean;
  /** Effective capabilities of this process (bit mask from /proc/self/status CapEff). */
  readonly capEff: bigint;
  /** RLIMIT_MEMLOCK soft limit in bytes (from /proc/self/limits); null = unlimited. */
  readonly memlockBytes: number | null;
}

/** The soft `Max locked memory` of /proc/<pid>/limits, in bytes; null when unlimited. */
export function parseMemlockLimit(limits: string): number | null {
  const soft = /^Max locked memory\s+(\S+)/m.exec(limits)?.[1];
  if (soft === undefined || soft === 'unlimited') return null;
  return Number(soft);
}

/** Parses a kernel CPU list such as `0-3,8,10-11`. */
export function parseCpuList(text: string): number[] {
  const cpus: number[] = [];
  for (const part of text.trim().split(',')) {
    if (part === '') continue;
    const [lo, hi] = part.split('-').map(Number);
    if (lo === undefined || !Number.isInteger(lo)) throw new Error(`bad CPU list '${text}'`);
    const end = hi ?? lo;
    if (!Number.isInteger(end) || end < lo) throw new Error(`bad CPU list '${text}'`);
    for (let cpu = lo; cpu <= end; cpu += 1) cpus.push(cpu);
  }
  return cpus;
}

/** Reads one `Name:   123 kB` field of /proc/meminfo, in bytes. */
export function meminfoBytes(meminfo: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+)\\s*kB`, 'm').exec(meminfo);
  if (!match) throw new Error(`/proc/meminfo has no ${field}`);
  return Number(match[1]) * 1024;
}

/** Reads the current facts (cheap: a few small files). */
export function readHostFacts(roots: HostRoots = REAL_ROOTS): HostFacts {
  const meminfo = readFileSync(path.join(roots.proc, 'meminfo'), 'utf8');
  const status = readFileSync(path.join(roots.proc, 'self', 'status'), 'utf8');
  const capEff = /^CapEff:\s+([0-9a-f]+)/m.exec(status)?.[1] ?? '0';
  const online = parseCpuList(readFileSync(path.join(roots.sys, 'devices/system/cpu/online'), 'utf8'));
  const allowedText = /^Cpus_allowed_list:\s+(\S+)/m.exec(status)?.[1];
  const allowed = allowedText === undefined ? online : parseCpuList(allowedText);
  return {
    onlineCpus: online.filter((cpu) => allowed.includes(cpu)),
    memTotalBytes: meminfoBytes(meminfo, 'MemTotal'),
    memAvailableBytes: meminfoBytes(meminfo, 'MemAvailable'),
    bootId: readFileSync(path.join(roots.proc, 'sys/kernel/random/boot_id'), 'utf8').trim(),
    isRoot: process.getuid?.() === 0,
    capEff: BigInt(`0x${capEff}`),
    memlockBytes: parseMemlockLimit(readFileSync(path.join(roots.proc, 'self', 'limits'), 'utf8')),
  };
}

/** Capability numbers from <linux/capability.h> that faults need. */
export const CAP = { IPC_LOCK: 14, KILL: 5, SYS_ADMIN: 21, SYS_RESOURCE: 24, SYS_TIME: 25, NET_ADMIN: 12 } as const;

export function hasCapability(facts: HostFacts, cap: number): boolean {
  return (facts.capEff & (1n << BigInt(cap))) !== 0n;
}
