// The operator CLI behind `npx shieldx <command>`.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const main = join(root, 'dist/orchestrator/apps/orchestrator/src/main.js');

const USAGE = `usage: shieldx <command>

commands:
  serve     build the orchestrator if needed and run it with the configuration in the environment
            (see README: Configuration); e.g. ORCH_ALLOW_INSECURE=1 ORCH_POOL_API=127.0.0.1:9001 npx shieldx serve
  help      this text
`;

/** Commands of the contract that later work adds; named here so nobody mistakes them for typos. */
const PLANNED = {
  ui: 'the admin UI server (issue 9)',
  certs: 'dev certificates (issue 4)',
  ledger: 'ledger verification (issue 8)',
  policy: 'policy build and test (issue 3)',
  admission: 'admission header signing (issue 5)',
};

const [command, ...args] = process.argv.slice(2);
switch (command) {
  case 'serve': {
    if (!existsSync(main) || args.includes('--build')) {
      const build = spawnSync('npx', ['nx', 'run', 'orchestrator:build'], { cwd: root, stdio: 'inherit' });
      if (build.status !== 0) process.exit(build.status ?? 1);
    }
    const result = spawnSync(process.execPath, [main], { stdio: 'inherit' });
    process.exit(result.status ?? 1);
    break;
  }
  case undefined:
  case 'help':
  case '--help':
  case '-h':
    process.stdout.write(USAGE);
    break;
  default:
    if (command in PLANNED) {
      process.stderr.write(`shieldx: '${command}' is not built yet: ${PLANNED[command]}\n`);
    } else {
      process.stderr.write(`shieldx: unknown command '${command}'\n\n${USAGE}`);
    }
    process.exit(2);
}
