// SPDX-License-Identifier: Apache-2.0
/** `faultd revert --remnants`: revert every fault the ledger says may still be applied. */
import { failedRemnants } from '../engine/session.js';
import { faultContext, openSession, type CommandEnv } from './context.js';
import { EXIT, type ExitCode } from './exit-codes.js';

export async function revertCommand(flags: { remnants: boolean; force: boolean }, env: CommandEnv): Promise<ExitCode> {
  if (!flags.remnants) {
    env.print('faultd revert: say what to revert: --remnants (everything the ledger still shows as applied)');
    return EXIT.INVALID_INPUT;
  }
  const session = openSession(env, faultContext(env));
  const reports = await session.open({ force: flags.force });
  try {
    const failed = failedRemnants(reports);
    await session.compactIfClean();
    if (env.options.logFormat === 'text') {
      const lines = reports.map((r) => {
        const result = r.result;
        if ('skipped' in result) return `  ${r.faultId} (${r.kind}): skipped, ${result.skipped}`;
        if (result.ok) return `  ${r.faultId} (${r.kind}): reverted, ${result.detail}`;
        return `  ${r.faultId} (${r.kind}): REVERT FAILED: ${result.detail}\n    left: ${result.leftover ?? '?'}\n    fix by hand: ${result.manualFix ?? '?'}`;
      });
      env.print(reports.length === 0 ? 'No remnants: the ledger shows nothing applied.' : [`${reports.length} remnant(s):`, ...lines].join('\n'));
    }
    return failed.length > 0 ? EXIT.REVERT_FAILED : EXIT.OK;
  } finally {
    await session.close();
  }
}
