// The operator CLI behind `npx shieldx <command>`.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ADMISSION_USAGE, admissionCommand } from './admission.mjs';
import { buildOrchestrator } from './build.mjs';
import { certsCommand } from './certs.mjs';
import { ledgerCommand } from './ledger.mjs';
import { makeDirectorySync } from './make-directory.mjs';
import { ensureOpa } from './opa.mjs';
import { uiCommand } from './ui.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const main = join(root, 'dist/orchestrator/apps/orchestrator/src/main.js');

const USAGE = `usage: shieldx <command>

commands:
  serve     build the orchestrator if needed and run it with the configuration in the environment
            (see docs/configuration.md); e.g. ORCH_ALLOW_INSECURE=1 ORCH_POOL_API=127.0.0.1:9001 npx shieldx serve
  policy build <dir> [--out <file>] [--entrypoint <ep>]
            compile the Rego in <dir> to an OPA wasm bundle (default <dir>/build/policy.tar.gz, entrypoint
            shieldx/routing/decision; *_test.rego files are left out). Needs the real opa (installed with go when missing)
  policy test <dir>
            run the Rego unit tests in <dir> with opa test
  certs dev <dir> [--client <name>[=spiffe://…]]…
            a dev CA, a server certificate for localhost/127.0.0.1 and client certificates with SPIFFE URI SANs
            (default client: ingress); see shieldx certs help
  admission sign --method <M> --path </path?query> [--secret <s>] [--time <unix>] [--curl]
            print a valid admission header value (secret: --secret, else the first of ADMISSION_SECRET)
  ledger verify <file|dir> [--hmac-secret-file <f> | --ed25519-public <pem>] [--checkpoint-every <n>]
                [--head <file> | --no-head] [--json]
            verify the audit ledger's hash chain (rotated files, signed checkpoints and the head witnessed outside the
            ledger included): exit 0 when intact, 1 naming the first bad seq; see shieldx ledger help
  ui [--build]
            serve the admin UI (building it when needed) on ADMIN_UI_PORT (3000) / ADMIN_UI_HOST (127.0.0.1),
            reading the orchestrator at ORCH_ADMIN_URL with ORCH_ADMIN_TOKEN; see shieldx ui --help
  help      this text (shieldx <command> --help: that command's usage; shieldx --version: the version)
`;

const SERVE_USAGE = `usage: shieldx serve [--build]

Runs the built orchestrator (building it first when dist/ is missing, or with --build) with the configuration in the
environment; every setting: docs/configuration.md.
`;

const POLICY_USAGE = `usage: shieldx policy build <dir> [--out <file>] [--entrypoint <ep>]
       shieldx policy test <dir>

build: compile the Rego in <dir> to an OPA wasm bundle (default <dir>/build/policy.tar.gz, entrypoint
shieldx/routing/decision; *_test.rego files are left out). test: run the Rego unit tests in <dir> with opa test.
Both need the real opa (installed with go when missing).
`;

const text = { type: 'string' };
const flag = { type: 'boolean' };
const texts = { type: 'string', multiple: true };

/**
 * Every command's flags (util.parseArgs options), checked before the command runs: an unknown flag or a flag without
 * its value exits 2 with one line, and --help prints the command's usage and exits 0 without doing anything.
 */
const COMMANDS = {
  serve: { options: { build: flag }, help: () => process.stdout.write(SERVE_USAGE) },
  policy: { options: { out: text, entrypoint: text }, help: () => process.stdout.write(POLICY_USAGE) },
  ui: { options: { build: flag }, help: () => uiCommand(['--help']) },
  certs: {
    options: {
      client: texts,
      'server-san': texts,
      days: text,
      'not-before': text,
      'not-after': text,
      'no-server': flag,
      'no-clients': flag,
    },
    help: () => certsCommand(['help']),
  },
  admission: {
    options: { method: text, path: text, secret: text, time: text, nonce: text, curl: flag },
    help: () => process.stdout.write(ADMISSION_USAGE),
  },
  ledger: {
    options: {
      'hmac-secret': text,
      'hmac-secret-file': text,
      'ed25519-public': text,
      'checkpoint-every': text,
      head: text,
      'no-head': flag,
      'allow-pruned-start': flag,
      json: flag,
    },
    help: () => ledgerCommand(['help']),
  },
};

const [command, ...args] = process.argv.slice(2);
if (command === '--version' || command === '-V' || command === 'version') {
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  process.stdout.write(`shieldx ${version}\n`);
  process.exit(0);
}
if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
  process.stdout.write(USAGE);
  process.exit(0);
}
const spec = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
if (spec === undefined) {
  process.stderr.write(`shieldx: unknown command '${command}' (shieldx --help lists them)\n`);
  process.exit(2);
}
/** @type {{ values: Record<string, string | boolean | (string | boolean)[] | undefined>, positionals: string[] }} */
let parsed;
try {
  parsed = parseArgs({
    args,
    options: { ...spec.options, help: { type: 'boolean', short: 'h' } },
    strict: true,
    allowPositionals: true,
  });
} catch (error) {
  // Node's message goes on to explain `--` for positionals that start with a dash: the first sentence says it.
  const reason = error.message.split(/\.\s/)[0];
  process.stderr.write(`shieldx ${command}: ${reason} (shieldx ${command} --help)\n`);
  process.exit(2);
}
if (parsed.values.help || parsed.positionals[0] === 'help') {
  await spec.help();
  process.exit(0);
}
switch (command) {
  case 'serve': {
    if (parsed.positionals.length > 0) {
      process.stderr.write(`shieldx serve: unexpected argument '${parsed.positionals[0]}' (shieldx serve --help)\n`);
      process.exit(2);
    }
    if (!existsSync(main) || parsed.values.build) {
      if (!buildOrchestrator(parsed.values.build ? '--build' : 'dist/ is missing')) process.exit(1);
    }
    const result = spawnSync(process.execPath, [main], { stdio: 'inherit' });
    process.exit(result.status ?? 1);
    break;
  }
  case 'policy':
    process.exit(policy(args));
    break;
  case 'ui':
    process.exit(await uiCommand(args));
    break;
  case 'certs':
    process.exit(certsCommand(args));
    break;
  case 'ledger':
    process.exit(await ledgerCommand(args));
    break;
  case 'admission':
    process.exit(admissionCommand(args));
    break;
}

function option(list, name, fallback) {
  const i = list.indexOf(name);
  if (i === -1) return fallback;
  const value = list[i + 1];
  if (value === undefined || value.startsWith('--')) {
    process.stderr.write(`shieldx: ${name} needs a value\n`);
    process.exit(2);
  }
  list.splice(i, 2);
  return value;
}

/** `shieldx policy build|test <dir>`: wraps the real opa binary. Returns the exit code. */
function policy(list) {
  const [sub, ...rest] = list;
  const out = option(rest, '--out', undefined);
  const entrypoint = option(rest, '--entrypoint', 'shieldx/routing/decision');
  const dir = rest[0];
  if ((sub !== 'build' && sub !== 'test') || dir === undefined || rest.length !== 1) {
    process.stderr.write(
      `usage: shieldx policy build <dir> [--out <file>] [--entrypoint <ep>] | shieldx policy test <dir>\n`,
    );
    return 2;
  }
  if (!existsSync(dir)) {
    process.stderr.write(`shieldx: no such directory: ${dir}\n`);
    return 2;
  }
  const opa = ensureOpa();
  if (sub === 'test') return spawnSync(opa, ['test', dir, '-v'], { stdio: 'inherit' }).status ?? 1;
  const target = resolve(out ?? join(dir, 'build', 'policy.tar.gz'));
  makeDirectorySync(dirname(target));
  const args = ['build', '-t', 'wasm', '-e', entrypoint, '--ignore', '*_test.rego', '-o', target, dir];
  const status = spawnSync(opa, args, { stdio: 'inherit' }).status ?? 1;
  if (status === 0) process.stdout.write(`shieldx: wrote ${target}\n`);
  return status;
}
