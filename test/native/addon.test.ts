// SPDX-License-Identifier: Apache-2.0
// The real addon, no privileges: argument errors, system error shape, and pid-reuse safety of
// killProcess (surface drift against addon.d.ts: surface.test.ts).
import { spawn } from 'node:child_process';

import test from 'ava';

import { loadNative } from '../../src/native/load.js';
import { NativeSystemError } from '../../src/native/system-error.js';
import { waitUntil } from '../helpers/processes.js';

const native = loadNative();

test('bad arguments throw TypeError/RangeError with Node codes', (t) => {
  const typeError = t.throws(() => native.processStartTime('1' as unknown as number), { instanceOf: TypeError });
  t.is((typeError as { code?: string }).code, 'ERR_INVALID_ARG_TYPE');
  const rangeError = t.throws(() => native.killProcess(100, 1, 99_999), { instanceOf: RangeError });
  t.is((rangeError as { code?: string }).code, 'ERR_OUT_OF_RANGE');
});

test('system failures are NativeSystemError with code, errno and syscall', (t) => {
  // Signalling init is refused by the core itself, and surfaces through the TS error factory.
  const error = t.throws(() => native.killProcess(1, 0, 0), { instanceOf: NativeSystemError });
  t.like(error, { code: 'EINVAL', errno: -22, syscall: 'kill', detail: 'refusing to signal pid <= 1' });
  t.is(error.message, 'kill EINVAL: refusing to signal pid <= 1');
  const e = new NativeSystemError(2, 'RTM_NEWQDISC', 'Specified qdisc kind is unknown');
  t.is(e.message, 'RTM_NEWQDISC ENOENT: Specified qdisc kind is unknown');
  t.is(e.code, 'ENOENT');
  t.is(e.errno, -2);
});

test('processStartTime is stable for a live pid and null for a missing one', (t) => {
  const a = native.processStartTime(process.pid);
  t.true(typeof a === 'number' && a > 0);
  t.is(native.processStartTime(process.pid), a);
  t.is(native.processStartTime(4_194_000), null);
});

test('pid reuse: a wrong start time never signals the process', async (t) => {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  t.teardown(() => child.kill('SIGKILL'));
  await new Promise((resolve) => child.once('spawn', resolve));
  const pid = child.pid ?? 0;
  const startTime = native.processStartTime(pid) ?? 0;
  t.is(native.killProcess(pid, startTime + 1, 9), 'mismatch');
  await new Promise((resolve) => setTimeout(resolve, 150));
  t.is(child.signalCode, null, 'not signalled by the mismatched kill');
  t.is(native.killProcess(pid, startTime, 0), 'signalled', 'still alive');
  const exited = new Promise((resolve) => child.once('exit', resolve));
  t.is(native.killProcess(pid, startTime, 9), 'signalled');
  await exited;
  t.true(await waitUntil(() => native.killProcess(pid, startTime, 0) !== 'signalled', 2000));
});

test('memlockLimit reports bytes or null for unlimited', (t) => {
  const limit = native.memlockLimit();
  t.true(limit.soft === null || limit.soft >= 0);
  t.true(limit.hard === null || limit.hard >= (limit.soft ?? 0));
});

test('clockRead pairs CLOCK_REALTIME with CLOCK_MONOTONIC and CLOCK_BOOTTIME within a tight bracket; ntpState reads adjtimex', (t) => {
  const before = process.hrtime.bigint();
  const reading = native.clockRead();
  const after = process.hrtime.bigint();
  t.is(typeof reading.realtimeNs, 'bigint');
  t.true(reading.monotonicNs >= before && reading.monotonicNs <= after, 'the monotonic half is CLOCK_MONOTONIC, as process.hrtime');
  // Midpoints of different read pairs: equal clocks (no suspend) may differ by up to the bracket.
  t.true(reading.boottimeNs + BigInt(reading.bracketNs) >= reading.monotonicNs, 'BOOTTIME counts at least what MONOTONIC does');
  t.true(Math.abs(Number(reading.realtimeNs / 1_000_000n) - Date.now()) < 1000, 'the realtime half is the wall clock');
  t.true(reading.bracketNs >= 0 && reading.bracketNs < 1_000_000, `bracket ${reading.bracketNs} ns`);
  const ntp = native.ntpState();
  t.true(Number.isInteger(ntp.status) && ntp.clockState >= 0 && ntp.clockState <= 5, JSON.stringify(ntp));
});

test('clockStep takes a bigint within ±400 days; anything else throws before any syscall', (t) => {
  const step = (offset: unknown): void => native.clockStep(offset as bigint);
  t.throws(() => step(1000), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' });
  t.throws(() => step(10n ** 20n), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' });
  t.throws(() => step(-(401n * 86_400n * 1_000_000_000n)), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' });
});
