// SPDX-License-Identifier: Apache-2.0
/** The commands that look at this host and its ledger: faults, revert, status, doctor. */
import type { Command } from 'commander';

import type { CliHost } from './cli-host.js';

export function registerFaults(program: Command, host: CliHost): void {
  program
    .command('faults')
    .description('list every fault kind with its params, defaults, units and bounds')
    .option('--json', 'machine-readable output')
    .action(async (flags: { json?: boolean }) => {
      const { faultsCommand } = await import('./faults.js');
      host.setExit(faultsCommand({ json: flags.json === true }, await host.env()));
    });
}

export function registerRevert(program: Command, host: CliHost): void {
  program
    .command('revert')
    .description('revert faults left applied by a faultd that died (idempotent)')
    .option('--remnants', 'revert everything the ledger still shows as applied')
    .option('--force', 'also revert faults whose faultd process is still running')
    .action(async (flags: { remnants?: boolean; force?: boolean }) => {
      const { revertCommand } = await import('./revert.js');
      host.setExit(await revertCommand({ remnants: flags.remnants === true, force: flags.force === true }, await host.env(false)));
    });
}

export function registerStatus(program: Command, host: CliHost): void {
  program
    .command('status')
    .description('show the ledger: applied faults and failed reverts with their manual fix')
    .option('--json', 'machine-readable output')
    .action(async (flags: { json?: boolean }) => {
      const { statusCommand } = await import('./status.js');
      host.setExit(await statusCommand({ json: flags.json === true }, await host.env(false)));
    });
}

export function registerDoctor(program: Command, host: CliHost): void {
  program
    .command('doctor')
    .description('say, for every fault kind, whether this host supports it and why not')
    .option('--json', 'machine-readable output')
    .action(async (flags: { json?: boolean }) => {
      const { doctorCommand } = await import('./doctor.js');
      host.setExit(doctorCommand({ json: flags.json === true }, await host.env()));
    });
}
