import { readFileSync } from 'node:fs';
import {
  formatVerifyResult,
  parseVerificationKey,
  type VerificationKey,
  verifyLedger,
  type VerifyOptions,
} from '@shieldx/ledger';
import { type CliContext, defineCommand, type OptionValues, usageError } from '../command';

/** `shieldx ledger --help`. */
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

const OPTIONS = {
  'hmac-secret': 'string',
  'hmac-secret-file': 'string',
  'ed25519-public': 'string',
  'checkpoint-every': 'string',
  head: 'string',
  'no-head': 'boolean',
  'allow-pruned-start': 'boolean',
  json: 'boolean',
} as const;

/** The verification key the flags name, if any; throws (unreadable file, invalid key) with the flag in the message. */
function keyFrom(values: OptionValues<typeof OPTIONS>): VerificationKey | undefined {
  const secretFile = values['hmac-secret-file'];
  if (secretFile !== undefined) {
    // One trailing newline is what an editor or `echo` adds; anything else belongs to the secret.
    const secret = readFileSync(secretFile, 'utf8').replace(/\r?\n$/, '');
    return parseVerificationKey(`hmac:${secret}`, '--hmac-secret-file');
  }
  const secret = values['hmac-secret'];
  if (secret !== undefined) return parseVerificationKey(`hmac:${secret}`, '--hmac-secret');
  const publicFile = values['ed25519-public'];
  if (publicFile !== undefined) return parseVerificationKey(readFileSync(publicFile, 'utf8'), '--ed25519-public');
  return undefined;
}

/** `shieldx ledger verify`: checks an audit ledger's hash chain, checkpoints and head with the ledger library. */
export const ledgerCommand = defineCommand({
  name: 'ledger',
  summary: `  ledger verify <file|dir> [--hmac-secret-file <f> | --ed25519-public <pem>] [--checkpoint-every <n>]
                [--head <file> | --no-head] [--json]
            verify the audit ledger's hash chain (rotated files, signed checkpoints and the head witnessed outside the
            ledger included): exit 0 when intact, 1 naming the first bad seq; see shieldx ledger help`,
  usage: LEDGER_USAGE,
  options: OPTIONS,
  async run({ values, positionals }, context) {
    const [sub, ...targets] = positionals;
    if (sub !== 'verify') {
      return usageError(context, 'ledger', sub === undefined ? 'name a command: verify' : `unknown command '${sub}'`);
    }
    const keys = [values['hmac-secret'], values['hmac-secret-file'], values['ed25519-public']];
    if (keys.filter((key) => key !== undefined).length > 1) {
      return usageError(context, 'ledger', 'give one key: --hmac-secret-file, --hmac-secret or --ed25519-public');
    }
    const every = values['checkpoint-every'];
    if (every !== undefined && !/^\d{1,7}$/.test(every)) {
      return usageError(context, 'ledger', `--checkpoint-every must be an integer from 0 to 9999999, got '${every}'`);
    }
    if (values.head !== undefined && values['no-head'] === true) {
      return usageError(context, 'ledger', 'give --head <file> or --no-head, not both');
    }
    if (targets.length !== 1) return usageError(context, 'ledger', 'name one ledger file or directory');
    return verify(targets[0], values, context);
  },
});

async function verify(target: string, values: OptionValues<typeof OPTIONS>, context: CliContext): Promise<number> {
  let key: VerificationKey | undefined;
  try {
    key = keyFrom(values);
  } catch (error) {
    return usageError(context, 'ledger', (error as Error).message);
  }
  const every = values['checkpoint-every'];
  const options: VerifyOptions = {
    key,
    allowPrunedStart: values['allow-pruned-start'] === true,
    ...(every === undefined ? {} : { checkpointEvery: Number(every) }),
    ...(values['no-head'] === true ? { headPath: false } : values.head === undefined ? {} : { headPath: values.head }),
  };
  const result = await verifyLedger(target, options);
  context.stdout.write(
    values.json === true ? `${JSON.stringify(result, null, 2)}\n` : `${formatVerifyResult(result)}\n`,
  );
  return result.ok ? 0 : 1;
}
