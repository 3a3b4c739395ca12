// SPDX-License-Identifier: Apache-2.0
/**
 * Which command an argv names, read without commander (the idle agent process must not load
 * it): the first word that is neither a global option nor its value. Kept in step with main.ts's
 * global options by test/unit/command-verb.test.ts.
 */

/** main.ts's global options that take a value (`--name value` or `--name=value`). */
export const GLOBAL_OPTIONS_WITH_VALUE = ['--state-dir', '--log-format', '--config', '--max-memory-fraction'] as const;

export interface Invocation {
  readonly verb: string | undefined;
  /** The words after the verb. */
  readonly rest: readonly string[];
  /** A global option's value, if given (last one wins, as with commander). */
  option(name: (typeof GLOBAL_OPTIONS_WITH_VALUE)[number]): string | undefined;
  /** -h/--help/-V/--version, or an option this reader does not know, came before the verb. */
  readonly unusual: boolean;
}

export function readInvocation(args: readonly string[]): Invocation {
  const values = new Map<string, string>();
  let unusual = false;
  for (let i = 0; i < args.length; i++) {
    const word = args[i] ?? '';
    if (!word.startsWith('-')) return { verb: word, rest: args.slice(i + 1), option: (name) => values.get(name), unusual };
    const [name = '', inline] = word.split(/=(.*)/s, 2);
    if ((GLOBAL_OPTIONS_WITH_VALUE as readonly string[]).includes(name)) {
      const value = inline ?? args[++i];
      if (value !== undefined) values.set(name, value);
    } else unusual = true;
  }
  return { verb: undefined, rest: [], option: (name) => values.get(name), unusual };
}

/** `faultd [global options] agent`, to be run as the idle agent process and its workers. */
export function isPlainAgentCommand(args: readonly string[]): boolean {
  const invocation = readInvocation(args);
  return invocation.verb === 'agent' && invocation.rest.length === 0 && !invocation.unusual;
}
