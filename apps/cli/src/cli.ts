import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type CliCommand, type CliContext, USAGE_ERROR } from './command';
import { admissionCommand } from './commands/admission';
import { certsCommand } from './commands/certs';
import { ledgerCommand } from './commands/ledger';
import { policyCommand } from './commands/policy';
import { serveCommand } from './commands/serve';
import { uiCommand } from './commands/ui';

export type { CliContext, Output } from './command';

/** Every command, in the order `shieldx --help` lists them. */
const COMMANDS: readonly CliCommand[] = [
  serveCommand,
  policyCommand,
  certsCommand,
  admissionCommand,
  ledgerCommand,
  uiCommand,
];

/** `shieldx --help`. */
function usage(): string {
  const lines = COMMANDS.map((command) => command.summary);
  return `usage: shieldx <command>

commands:
${lines.join('\n')}
  help      this text (shieldx <command> --help: that command's usage; shieldx --version: the version)
`;
}

/**
 * Runs `shieldx <argv…>` and resolves its exit code: 0 done, 1 failed, 2 usage error (one line on stderr). `--help`
 * and `--version` only print.
 */
export async function runCli(argv: readonly string[], context: CliContext): Promise<number> {
  const [name, ...args] = argv;
  if (name === '--version' || name === '-V' || name === 'version') {
    const { version } = JSON.parse(await readFile(join(context.root, 'package.json'), 'utf8')) as { version: string };
    context.stdout.write(`shieldx ${version}\n`);
    return 0;
  }
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    context.stdout.write(usage());
    return 0;
  }
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (command === undefined) {
    context.stderr.write(`shieldx: unknown command '${name}' (shieldx --help lists them)\n`);
    return USAGE_ERROR;
  }
  return command.execute(args, context);
}
