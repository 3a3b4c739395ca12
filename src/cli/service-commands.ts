// SPDX-License-Identifier: Apache-2.0
/** The commands of the service: `faultd agent` (the daemon), `faultd install` and `faultd uninstall`. */
import { Option, type Command } from 'commander';

import { abortOnSignals, type CliHost } from './cli-host.js';

export function registerAgent(program: Command, host: CliHost): void {
  program
    .command('agent')
    .description('the daemon: poll the hub for experiments, run them, report status, logs and results (config: hub.*, agent.*)')
    .action(async () => {
      host.runAsDaemon();
      abortOnSignals(host);
      const { agentCommand } = await import('./agent.js');
      host.setExit(await agentCommand(await host.env(), host.abort.signal));
    });
}

const configDirOption = (): Option => new Option('--config-dir <dir>', 'where config.yaml, the access key and certificates go').default('/etc/faultd');
const unitDirOption = (): Option => new Option('--unit-dir <dir>', 'where the systemd unit goes').default('/etc/systemd/system');

interface InstallOptions {
  hubUrl: string;
  infraId: string;
  accessKeyFile: string;
  caFile?: string;
  pinSha256?: string;
  clientCertFile?: string;
  clientKeyFile?: string;
  httpProxy?: string;
  configDir: string;
  unitDir: string;
  systemctl: boolean;
  force?: boolean;
}

export function registerInstall(program: Command, host: CliHost): void {
  program
    .command('install')
    .description('install the agent as the systemd service faultd.service: config, access key (0600), CA, unit; then enable and start it (waits for READY). Idempotent')
    .requiredOption('--hub-url <url>', 'the hub, e.g. https://hub.example.com:8443')
    .requiredOption('--infra-id <id>', 'the infrastructure id (faultd hub infra create)')
    .requiredOption('--access-key-file <file>', 'a file (mode 0600) holding the access key; copied to <config-dir>/access-key')
    .option('--ca-file <file>', "the hub's CA certificate (faultd hub init prints it); copied to <config-dir>/ca.pem")
    .option('--pin-sha256 <fingerprint>', "pin the hub's certificate (SHA-256, hex with or without colons)")
    .option('--client-cert-file <file>', 'a client certificate for hubs that require mutual TLS (with --client-key-file)')
    .option('--client-key-file <file>', 'its private key')
    .option('--http-proxy <url>', 'reach the hub through this HTTP forward proxy (http://host:port; a CONNECT tunnel, TLS to the hub end to end), or none to ignore HTTPS_PROXY; written as hub.proxy')
    .addOption(configDirOption())
    .addOption(unitDirOption())
    .option('--no-systemctl', 'write the files only (an image build); do not reload, enable or start')
    .option('--force', 'replace a config.yaml that faultd install did not write')
    .action(async (flags: InstallOptions) => {
      const { installCommand } = await import('./install.js');
      host.setExit(installCommand({ ...flags, force: flags.force === true }, await host.env(false)));
    });
}

export function registerUninstall(program: Command, host: CliHost): void {
  program
    .command('uninstall')
    .description('stop and disable faultd.service (it reverts), revert remnants, and remove what faultd install wrote. Idempotent')
    .addOption(configDirOption())
    .addOption(unitDirOption())
    .option('--no-systemctl', 'do not stop or disable the unit (files only)')
    .action(async (flags: { configDir: string; unitDir: string; systemctl: boolean }) => {
      const { uninstallCommand } = await import('./install.js');
      host.setExit(await uninstallCommand(flags, await host.env(false)));
    });
}
