// SPDX-License-Identifier: Apache-2.0
// The declared surface (src/native/addon.d.ts, read with the TypeScript compiler API) against
// the built addon, both ways: a new C++ export without its declaration, or a declaration
// without its export, fails here. Then a call without privileges to each function no other
// suite without root reaches (the link, class and filter dumps, u32 redirect, fallocate).
import { execFileSync } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import test from 'ava';
import ts from 'typescript';

import type { NftChainSpec, XtablesChainSpec } from '../../src/native/addon.js';
import { loadNative } from '../../src/native/load.js';
import { NativeSystemError } from '../../src/native/system-error.js';
import { REPO_ROOT } from '../helpers/cli.js';

const DECLARATIONS = path.join(REPO_ROOT, 'src', 'native', 'addon.d.ts');

/** A member of `interface NativeAddon`: a function, or a constant with its literal value if it has one. */
interface DeclaredMember {
  readonly name: string;
  readonly kind: 'function' | 'constant';
  readonly literal?: number | string;
}

/** The members of the interface `name` in the declaration source `text`. */
function declaredMembers(text: string, name = 'NativeAddon'): DeclaredMember[] {
  const source = ts.createSourceFile('addon.d.ts', text, ts.ScriptTarget.Latest, true);
  const found = source.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === name);
  if (!found) throw new Error(`no interface ${name} in the declarations`);
  return found.members.map((member): DeclaredMember => {
    if (!member.name || !(ts.isIdentifier(member.name) || ts.isStringLiteral(member.name))) throw new Error(`unnamed member in ${name}: ${member.getText(source)}`);
    const memberName = member.name.text;
    if (ts.isMethodSignature(member) || (ts.isPropertySignature(member) && member.type && ts.isFunctionTypeNode(member.type))) {
      return { name: memberName, kind: 'function' };
    }
    if (ts.isPropertySignature(member) && member.type && ts.isLiteralTypeNode(member.type)) {
      const literal = member.type.literal;
      if (ts.isNumericLiteral(literal)) return { name: memberName, kind: 'constant', literal: Number(literal.text) };
      if (ts.isStringLiteral(literal)) return { name: memberName, kind: 'constant', literal: literal.text };
    }
    return { name: memberName, kind: 'constant' };
  });
}

/** What differs between the declared members and an object's own keys, as readable lines. */
function surfaceDrift(declared: readonly DeclaredMember[], exported: object): string[] {
  const names = new Set(declared.map((m) => m.name));
  const keys = new Set(Object.keys(exported));
  const values = exported as Record<string, unknown>;
  return [
    ...[...names].filter((n) => !keys.has(n)).map((n) => `declared in addon.d.ts but not exported: ${n}`),
    ...[...keys].filter((k) => !names.has(k)).map((k) => `exported but not declared in addon.d.ts: ${k}`),
    ...declared.filter((m) => keys.has(m.name) && m.kind === 'function' && typeof values[m.name] !== 'function').map((m) => `${m.name} is declared a function but is ${typeof values[m.name]}`),
    ...declared.filter((m) => keys.has(m.name) && m.literal !== undefined && values[m.name] !== m.literal).map((m) => `${m.name} is declared ${String(m.literal)} but is ${String(values[m.name])}`),
  ];
}

const native = loadNative();
const declared = declaredMembers(readFileSync(DECLARATIONS, 'utf8'));

test('addon.d.ts and the built addon have the same members, each of the declared kind', (t) => {
  t.deepEqual(surfaceDrift(declared, native), []);
  t.true(declared.length >= 27, `read ${declared.length} members from addon.d.ts`);
  t.like(declared.find((m) => m.name === 'abiVersion'), { kind: 'constant', literal: 1 });
});

test('the comparison catches drift either way', (t) => {
  const members = declaredMembers('export interface NativeAddon { readonly abiVersion: 1; init(): void; later: (x: number) => string; }');
  t.deepEqual(members, [
    { name: 'abiVersion', kind: 'constant', literal: 1 },
    { name: 'init', kind: 'function' },
    { name: 'later', kind: 'function' },
  ]);
  t.deepEqual(surfaceDrift(members, { abiVersion: 2, init: () => undefined, extra: () => undefined, later: 'nope' }), [
    'exported but not declared in addon.d.ts: extra',
    'later is declared a function but is string',
    'abiVersion is declared 1 but is 2',
  ]);
  t.deepEqual(surfaceDrift(members, { abiVersion: 1, init: () => undefined }), ['declared in addon.d.ts but not exported: later']);
});

test('linkIndex finds lo and names a missing interface', (t) => {
  t.true(native.linkIndex('lo') > 0);
  const error = t.throws(() => native.linkIndex('faultdnone0'), { instanceOf: NativeSystemError });
  t.like(error, { code: 'ENODEV', syscall: 'RTM_GETLINK' });
  t.regex(error.message, /faultdnone0/);
});

test('classList and filterList dump lo (no faultd classes or filters there) and refuse a missing interface', (t) => {
  t.deepEqual(native.classList('lo'), []);
  t.deepEqual(native.filterList('lo', 0xffff0000), []);
  t.throws(() => native.classList('faultdnone0'), { instanceOf: NativeSystemError, code: 'ENODEV' });
  t.throws(() => native.filterList('faultdnone0', 0), { instanceOf: NativeSystemError, code: 'ENODEV' });
});

test('u32RedirectOptions is a mirred redirect for every protocol', (t) => {
  const { options, protocol } = native.u32RedirectOptions(7);
  t.is(protocol, 0x0003); // ETH_P_ALL
  t.true(options.length > 0);
  t.true(Buffer.from(options).includes(Buffer.from('mirred\0')));
});

test('linkAdd and linkDelete check their arguments before any netlink call', (t) => {
  t.throws(() => native.linkAdd({ name: 1 as unknown as string, kind: 'ifb' }), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' });
  t.throws(() => native.linkAdd({ name: 'x', kind: 'veth' as unknown as 'ifb' }), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_VALUE' });
  t.throws(() => native.linkDelete(1 as unknown as string), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' });
});

test('the xtables calls check their arguments before any kernel call', (t) => {
  const rule = { address: '10.1.2.3', l4proto: 'tcp', port: 80 } as const;
  t.throws(() => native.xtablesAddChain({ chain: 'x'.repeat(29), hooks: ['input'], rules: [rule] }), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_VALUE' });
  t.throws(() => native.xtablesAddChain({ chain: 'C', hooks: ['postrouting' as 'input'], rules: [rule] }), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_VALUE' });
  t.throws(() => native.xtablesAddChain({ family: 5 as 4, chain: 'C', hooks: ['input'], rules: [rule] }), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_VALUE' });
  t.throws(() => native.xtablesAddChain({ family: 6, chain: 'C', hooks: ['input'], rules: [rule] }), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_VALUE' });
  t.throws(() => native.xtablesAddChain({ chain: 'C', hooks: [], rules: [rule] }), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_VALUE' });
  t.throws(() => native.xtablesAddChain({ chain: 'C', hooks: ['input'], rules: [{ address: '::1' }] }), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_VALUE' });
  t.throws(() => native.xtablesAddChain({ chain: 'C', hooks: ['input'], rules: [{ l4proto: 'icmp', port: 1 }] }), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_VALUE' });
  t.throws(() => native.xtablesAddChain({ chain: 'C', hooks: ['input'], rules: [{ verdict: 'reject' as 'drop' }] }), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_VALUE' });
  t.throws(() => native.xtablesAddChain({ chain: 'C', hooks: ['input'], rules: [{ inInterface: 'i'.repeat(16) }] }), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_VALUE' });
  t.throws(() => native.xtablesDeleteChain('filter', 1 as unknown as string), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' });
  t.throws(() => native.xtablesListChains('t'.repeat(32)), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_VALUE' });
  t.throws(() => native.xtablesListChains('filter', 7 as 6), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_VALUE' });
});

test('the nf_tables and x_tables chain calls read their rules alike (an array of at most 1024 objects) before any kernel call', (t) => {
  const addChain = {
    nft: (rules: unknown) => native.nftAddChain({ chain: 'C', hook: 'output', rules: rules as NftChainSpec['rules'] }),
    xtables: (rules: unknown) => native.xtablesAddChain({ chain: 'C', hooks: ['output'], rules: rules as XtablesChainSpec['rules'] }),
  };
  for (const [name, add] of Object.entries(addChain)) {
    const invalid = (message: string) => ({ instanceOf: TypeError, code: 'ERR_INVALID_ARG_VALUE', message });
    t.throws(() => add({}), invalid('The "rules" property must be an array'), name);
    t.throws(() => add(Array.from({ length: 1025 }, () => ({}))), invalid('at most 1024 rules per chain'), name);
    t.throws(() => add([{}, 7]), invalid('every rule must be an object'), name);
  }
});

test('fallocate reserves the asked length of an open file', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'faultd-surface-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const fd = openSync(path.join(dir, 'f'), 'w');
  t.teardown(() => closeSync(fd));
  native.fallocate(fd, 8192);
  t.is(fstatSync(fd).size, 8192);
  t.throws(() => native.fallocate(-1, 10), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' });
});

test('pageSize is the page size getconf reports (sysconf(_SC_PAGESIZE))', (t) => {
  t.is(native.pageSize(), Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim()));
});

test('sdNotify refuses a relative socket path', (t) => {
  t.throws(() => native.sdNotify('relative/path', 'READY=1'), { code: 'EINVAL' });
});

// Where systemd is not PID 1 (this testbed), the D-Bus calls say so as system errors; where it
// is, they answer (test/system/service-restart.test.ts runs them against a real systemd).
test('the systemd calls check their arguments, and without systemd fail as system errors that say why', async (t) => {
  await t.throwsAsync(async () => native.systemdUnitState(''), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' });
  await t.throwsAsync(async () => native.systemdUnitAction('x.service', 'restart' as 'start'), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' });
  let probe: { address: string; version: string; systemState: string } | undefined;
  try {
    probe = native.systemdProbe();
  } catch (error) {
    t.true(error instanceof NativeSystemError);
    t.regex((error as Error).message, /^(sd_bus_open_system|sd_bus_start|dlopen) E[A-Z]+: /);
    await t.throwsAsync(native.systemdUnitState('ssh.service'), { instanceOf: NativeSystemError, code: (error as NativeSystemError).code });
    return;
  }
  t.regex(probe.version, /^\d+/, 'systemd answers here');
  t.like(await native.systemdUnitState('faultd-surface-test-nonexistent.service'), { loadState: 'not-found', activeState: 'inactive', jobId: 0 });
});
