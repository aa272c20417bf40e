// `shieldx ledger verify`: checks an audit ledger's hash chain with the orchestrator's own compiled ledger library.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { buildOrchestrator } from './build.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const LIB = join(root, 'dist/orchestrator/libs/ledger/src/index.js');

export const LEDGER_USAGE = `usage: shieldx ledger verify <file|dir> [--hmac-secret-file <file> | --hmac-secret <secret> |
                              --ed25519-public <pem file>] [--checkpoint-every <n>] [--head <file> | --no-head]
                              [--allow-pruned-start] [--json]

  Verifies the audit ledger: <file> is the active file (data/ledger-orchestrator.jsonl; its rotated siblings
  <name>.000001.jsonl … are read too, oldest first), a directory holding one ledger, or one rotated file alone.
  Every line must parse, be exactly the line the writer writes for its entry (canonical JSON: no duplicate member,
  no number beyond 2^53), hash to its "hash", follow the previous entry (seq + 1, prevHash) across files, and every
  signed checkpoint must verify with the key when one is given (the HMAC secret of ORCH_LEDGER_SIGNING_KEY without
  its "hmac:" prefix, or the Ed25519 public key PEM). With a key, a signed checkpoint is also required at least every
  --checkpoint-every entries, and the head file must be there and signed. The ledger must reach and match its head
  (the newest entry the gateway witnessed outside the ledger): removing the newest entries shows there. Exit 0 and a
  summary when intact; exit 1 naming the first bad seq, its file and line and why; exit 2 for a usage error.

  --checkpoint-every <n> the interval the ledger was written with (ORCH_LEDGER_CHECKPOINT_EVERY; default 1000; give
                         the largest it ever had); 0 = do not require checkpoints
  --head <file>          the head file (ORCH_LEDGER_HEAD_PATH; default <file>.head beside the active file)
  --no-head              do not check a head (a copy without it): removing the newest entries is then not detected
  --allow-pruned-start   accept a ledger whose oldest files were removed (it does not start at seq 1)
  --json                 print the result as JSON instead of text
  --hmac-secret          the secret on the command line is visible to other users of the machine (ps);
                         prefer --hmac-secret-file
`;

function fail(message) {
  process.stderr.write(`shieldx: ${message}\n`);
  return 2;
}

/** Takes `--name <value>` out of `list`; undefined when absent, null when the value is missing. */
function takeOption(list, name) {
  const i = list.indexOf(name);
  if (i === -1) return undefined;
  const value = list[i + 1];
  list.splice(i, 2);
  return value === undefined || value.startsWith('--') ? null : value;
}

function takeFlag(list, name) {
  const i = list.indexOf(name);
  if (i === -1) return false;
  list.splice(i, 1);
  return true;
}

/** The compiled ledger library of the orchestrator build (built first when missing, as `serve` does). */
async function loadLedgerLib() {
  if (!existsSync(LIB)) {
    if (!buildOrchestrator('dist/ is missing') || !existsSync(LIB)) throw new Error('the orchestrator build failed');
  }
  return import(pathToFileURL(LIB).href);
}

/** `shieldx ledger <args>`; resolves the exit code. */
export async function ledgerCommand(args) {
  const list = [...args];
  const sub = list.shift();
  if (sub === undefined) return fail(`name a ledger command\n\n${LEDGER_USAGE}`);
  if (sub === 'help' || sub === '--help' || sub === '-h') {
    process.stdout.write(LEDGER_USAGE);
    return 0;
  }
  if (sub !== 'verify') return fail(`unknown ledger command '${sub}'\n\n${LEDGER_USAGE}`);
  const secret = takeOption(list, '--hmac-secret');
  const secretFile = takeOption(list, '--hmac-secret-file');
  const publicFile = takeOption(list, '--ed25519-public');
  const every = takeOption(list, '--checkpoint-every');
  const headPath = takeOption(list, '--head');
  const noHead = takeFlag(list, '--no-head');
  const allowPrunedStart = takeFlag(list, '--allow-pruned-start');
  const json = takeFlag(list, '--json');
  for (const [name, value] of [
    ['--hmac-secret', secret],
    ['--hmac-secret-file', secretFile],
    ['--ed25519-public', publicFile],
    ['--checkpoint-every', every],
    ['--head', headPath],
  ]) {
    if (value === null) return fail(`${name} needs a value`);
  }
  if ([secret, secretFile, publicFile].filter((v) => v !== undefined).length > 1) {
    return fail('give one key: --hmac-secret-file, --hmac-secret or --ed25519-public');
  }
  if (every !== undefined && !/^\d{1,7}$/.test(every)) {
    return fail(`--checkpoint-every must be an integer from 0 to 9999999, got '${every}'`);
  }
  if (headPath !== undefined && noHead) return fail('give --head <file> or --no-head, not both');
  const unknown = list.find((arg) => arg.startsWith('--'));
  if (unknown !== undefined) return fail(`unknown option ${unknown}\n\n${LEDGER_USAGE}`);
  if (list.length !== 1) return fail(`name one ledger file or directory\n\n${LEDGER_USAGE}`);
  const [target] = list;

  let lib;
  try {
    lib = await loadLedgerLib();
  } catch (error) {
    return fail(error.message);
  }
  let key;
  try {
    if (secretFile !== undefined) {
      key = lib.parseVerificationKey(
        `hmac:${readFileSync(secretFile, 'utf8').replace(/\r?\n$/, '')}`,
        '--hmac-secret-file',
      );
    } else if (secret !== undefined) {
      key = lib.parseVerificationKey(`hmac:${secret}`, '--hmac-secret');
    } else if (publicFile !== undefined) {
      key = lib.parseVerificationKey(readFileSync(publicFile, 'utf8'), '--ed25519-public');
    }
  } catch (error) {
    return fail(error.message);
  }
  const result = await lib.verifyLedger(target, {
    key,
    allowPrunedStart,
    ...(every === undefined ? {} : { checkpointEvery: Number(every) }),
    ...(noHead ? { headPath: false } : headPath === undefined ? {} : { headPath }),
  });
  process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : `${lib.formatVerifyResult(result)}\n`);
  return result.ok ? 0 : 1;
}
