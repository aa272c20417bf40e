import { createWriteStream, readFileSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import {
  formatVerifyResult,
  LedgerExportError,
  ledgerExportLines,
  type LedgerExportRange,
  MAX_EXPORT_ENTRIES,
  planLedgerExport,
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

  An export file (shieldx ledger export) is recognised by its first line and verified alone: its lines, their
  chain from the export's anchor, its checkpoints, and the head it carries (--no-head and --allow-pruned-start do
  not apply) — unless it has a ledger's companions (its head file beside it, any head file named with --head,
  rotated files of its name, or for a rotated file's name its ledger's active or head file beside it): then it is
  verified as the ledger it is. With a key its last entry must be a signed checkpoint or the signed head; without
  one only the chain is checked ("no signatures checked").

usage: shieldx ledger export <file|dir> (--from-seq <n> --to-seq <m> | --since <iso> --until <iso>)
                              [--head <file> | --no-head] [--out <file>]

  Writes an export of a range of the ledger for auditors, verifiable offline by "shieldx ledger verify <export>":
  a header line (the range, the anchor: the seq and hash before the first entry, and the head when the range
  reaches it), then the ledger lines of the range byte for byte, across rotated files. By time: the entries whose
  ts is in [since, until). The end is extended to the next signed checkpoint (or to the signed head) so that every
  entry is covered by a signature. At most ${MAX_EXPORT_ENTRIES} entries per export. Exit 0 when written (a
  summary on stdout, or on stderr when the export goes to stdout), 1 when the range is empty, too large or the
  ledger cannot be read, 2 for a usage error.

  --from-seq, --to-seq   the first and last seq (inclusive)
  --since, --until       ISO-8601 UTC times (2026-01-31T00:00:00Z)
  --head <file>          the head file (default <file>.head); --no-head leaves it out
  --out <file>           where to write (default stdout); written to <file>.partial, then renamed
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
  'from-seq': 'string',
  'to-seq': 'string',
  since: 'string',
  until: 'string',
  out: 'string',
} as const;

const SEQ = /^[1-9]\d{0,15}$/;

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
            ledger included), or an export file alone: exit 0 when intact, 1 naming the first bad seq
  ledger export <file|dir> (--from-seq <n> --to-seq <m> | --since <iso> --until <iso>) [--out <file>]
            export a range of the ledger with its checkpoints and head, for auditors; see shieldx ledger help`,
  usage: LEDGER_USAGE,
  options: OPTIONS,
  async run({ values, positionals }, context) {
    const [sub, ...targets] = positionals;
    if (sub === 'export') return exportCommand(targets, values, context);
    if (sub !== 'verify') {
      return usageError(
        context,
        'ledger',
        sub === undefined ? 'name a command: verify or export' : `unknown command '${sub}'`,
      );
    }
    const exportOnly = (['from-seq', 'to-seq', 'since', 'until', 'out'] as const).find((f) => values[f] !== undefined);
    if (exportOnly !== undefined) return usageError(context, 'ledger', `--${exportOnly} is an option of ledger export`);
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

/** `shieldx ledger export`: checks the flags, then writes the export to `--out` or stdout. */
async function exportCommand(
  targets: readonly string[],
  values: OptionValues<typeof OPTIONS>,
  context: CliContext,
): Promise<number> {
  const verifyOnly = (
    ['hmac-secret', 'hmac-secret-file', 'ed25519-public', 'checkpoint-every', 'allow-pruned-start', 'json'] as const
  ).find((f) => values[f] !== undefined);
  if (verifyOnly !== undefined) return usageError(context, 'ledger', `--${verifyOnly} is an option of ledger verify`);
  if (targets.length !== 1) return usageError(context, 'ledger', 'name one ledger file or directory');
  if (values.head !== undefined && values['no-head'] === true) {
    return usageError(context, 'ledger', 'give --head <file> or --no-head, not both');
  }
  const bySeq = values['from-seq'] !== undefined || values['to-seq'] !== undefined;
  const byTime = values.since !== undefined || values.until !== undefined;
  if (bySeq === byTime) {
    return usageError(context, 'ledger', 'give --from-seq and --to-seq, or --since and --until');
  }
  let range: LedgerExportRange;
  if (bySeq) {
    const from = values['from-seq'];
    const to = values['to-seq'];
    if (from === undefined || to === undefined || !SEQ.test(from) || !SEQ.test(to) || Number(to) < Number(from)) {
      return usageError(context, 'ledger', '--from-seq and --to-seq must be integers, 1 <= from <= to');
    }
    range = { by: 'seq', fromSeq: Number(from), toSeq: Number(to) };
  } else {
    const { since, until } = values;
    if (since === undefined || until === undefined) return usageError(context, 'ledger', 'give --since and --until');
    range = { by: 'time', since, until };
  }
  const headPath = values['no-head'] === true ? false : values.head;
  try {
    const plan = await planLedgerExport(targets[0], range, headPath === undefined ? {} : { headPath });
    const out = values.out;
    const partial = out === undefined ? null : `${out}.partial`;
    const sink = partial === null ? null : createWriteStream(partial, { mode: 0o600 });
    try {
      for await (const line of ledgerExportLines(plan)) {
        if (sink === null) context.stdout.write(line);
        else if (!sink.write(line)) await new Promise<void>((done) => sink.once('drain', () => done()));
      }
      if (sink !== null) {
        sink.end();
        await finished(sink);
        await rename(partial!, out!);
      }
    } catch (error) {
      sink?.destroy();
      if (partial !== null) await rm(partial, { force: true });
      throw error;
    }
    const { fromSeq, toSeq } = plan.header;
    const signed =
      plan.endsSigned === 'checkpoint'
        ? 'ends with a signed checkpoint'
        : plan.endsSigned === 'head'
          ? 'ends with the signed head'
          : 'its last entries are not covered by a signature (no key, or no checkpoint yet after the range)';
    const summary = `exported seq ${fromSeq}..${toSeq} (${toSeq - fromSeq + 1} entries)${out === undefined ? '' : ` to ${out}`}: ${signed}\n`;
    (out === undefined ? context.stderr : context.stdout).write(summary);
    return 0;
  } catch (error) {
    if (error instanceof LedgerExportError && error.reason === 'invalid_range') {
      return usageError(context, 'ledger', error.message);
    }
    if (error instanceof LedgerExportError || (error as NodeJS.ErrnoException).code !== undefined) {
      context.stderr.write(`shieldx ledger export: ${(error as Error).message}\n`);
      return 1;
    }
    throw error;
  }
}
