/** Settings of the audit ledger: its files, signing, group commit and volume bounds. */
import { parseSigningKey, type SigningKey } from '@shieldx/ledger';
import { durationAtMost, integerIn, parseByteSize, parseFlag, trimmed } from '../parse';
import { setting, type Section } from '../setting';
import { forThisWorker } from './scale-out';

/**
 * ORCH_LEDGER_SIGNING_KEY: `hmac:<secret ≥ 16 bytes>` or `ed25519:<PKCS#8 PEM>` (a bare PEM too; `\n` escapes in a
 * one-line PEM are turned into newlines). The key's JSON form is `"[redacted]"`, so the configuration can be printed.
 * Error messages never repeat the value.
 */
function parseLedgerSigningKey(raw: string): SigningKey {
  const spec = raw.includes('-----BEGIN') ? raw.replace(/\\n/g, '\n') : raw;
  let key: SigningKey;
  try {
    key = parseSigningKey(spec, 'ORCH_LEDGER_SIGNING_KEY');
  } catch (error) {
    throw new Error((error as Error).message.replace(/^ORCH_LEDGER_SIGNING_KEY: /, ''));
  }
  const redacted = () => '[redacted]';
  Object.defineProperty(key, 'toJSON', { value: redacted, enumerable: false });
  Object.defineProperty(key, Symbol.for('nodejs.util.inspect.custom'), { value: redacted, enumerable: false });
  return key;
}

/** The active ledger file as configured, before a worker's suffix. */
const LEDGER_PATH = setting({
  key: 'ORCH_LEDGER_PATH',
  at: 'ledger.path',
  parse: trimmed,
  default: 'data/ledger-orchestrator.jsonl',
  resolve: forThisWorker,
  doc:
    'the active file; its directory is created. One process per file: `<path>.lock` names the holder (pid, host, ' +
    'start) and is refreshed every 5 s; a lock whose holder cannot be running is taken over — at once after a crash ' +
    'on the same host or a container restart (same pid, other start), after 15 s without a refresh otherwise ' +
    '(another host on a shared volume, a reused pid). A ledger that cannot be opened (a path under a dangling link ' +
    'or an unmounted volume, no permission, a live holder) stops start-up at once with exit code 2 and the reason. ' +
    'A worker (`ORCH_WORKERS` > 1) writes its own file, `.w<slot>` before the extension',
});

/** Audit ledger. */
export const LEDGER: Section = {
  title: 'Audit ledger',
  lead: 'Behaviour: [Audit ledger](ledger.md).',
  settings: [
    LEDGER_PATH,
    setting({
      key: 'ORCH_LEDGER_SIGNING_KEY',
      at: 'ledger.signingKey',
      parse: parseLedgerSigningKey,
      fallback: undefined,
      doc:
        '`hmac:<secret of ≥ 16 bytes>` or `ed25519:<PKCS#8 PEM>` (a bare PEM too; `\\n` escapes in a one-line PEM ' +
        'are fine): signs [checkpoints](ledger.md#signed-checkpoints-with-a-key) and ' +
        '[the head](ledger.md#the-head-witnessed-outside-the-ledger). Without it nothing is signed; it is never ' +
        'logged',
    }),
    setting({
      key: 'ORCH_LEDGER_CHECKPOINT_EVERY',
      at: 'ledger.checkpointEvery',
      parse: integerIn(1, 1_000_000),
      default: '1000',
      doc:
        'with a key: a signed `ledger.checkpoint` after every entry whose seq is a multiple of this, so at least ' +
        'every this many entries (also at open after a crash and at close); verify with the key fails when one is ' +
        'missing',
    }),
    setting({
      key: 'ORCH_LEDGER_HEAD_PATH',
      at: 'ledger.headPath',
      parse: trimmed,
      fallback: undefined,
      // Beside the ledger by default (`ledger verify <file>` looks there); an explicit path gets the worker's suffix.
      resolve: (head, ctx) =>
        head === undefined ? `${forThisWorker(ctx.get(LEDGER_PATH), ctx)}.head` : forThisWorker(head, ctx),
      shownDefault: '`<ORCH_LEDGER_PATH>.head`',
      doc:
        'where the head of the chain is witnessed outside the ledger; put it on another volume (or host-mounted ' +
        'path) than the ledger to make deleting both harder. Start-up refuses a ledger that does not reach or match ' +
        'it (exit 2); see `ORCH_LEDGER_ACCEPT_HEADLESS` to accept the ledger as it is',
    }),
    setting({
      key: 'ORCH_LEDGER_ACCEPT_HEADLESS',
      at: 'ledger.acceptHeadless',
      parse: parseFlag,
      fallback: false,
      doc:
        "`1` = start with a ledger whose head file is gone although it has had one (an operator's decision after " +
        '`shieldx ledger verify`; the start is recorded with `"head": "missing"`); remove it again afterwards',
    }),
    setting({
      key: 'ORCH_LEDGER_ROTATE_BYTES',
      at: 'ledger.rotateBytes',
      parse: parseByteSize,
      default: '64m',
      doc: 'rotate before the active file would exceed this (bytes, or with `k`/`m`/`g`, at most `1024g`); `0` = never',
    }),
    setting({
      key: 'ORCH_LEDGER_BATCH',
      at: 'ledger.batchMaxEntries',
      parse: integerIn(1, 65_536),
      default: '256',
      doc: 'group commit: entries per `write` + `fdatasync`',
    }),
    setting({
      key: 'ORCH_LEDGER_FLUSH_INTERVAL',
      at: 'ledger.flushIntervalMs',
      parse: durationAtMost('10s'),
      default: '50ms',
      doc: 'longest wait of an entry in a batch that is not full (at most `10s`)',
    }),
    setting({
      key: 'ORCH_LEDGER_AGGREGATE_WINDOW',
      at: 'ledger.aggregateWindowMs',
      parse: durationAtMost('1h'),
      default: '10s',
      doc: 'identical events within this window become one entry with a count; `0ms` = off (at most `1h`)',
    }),
    setting({
      key: 'ORCH_LEDGER_MAX_PER_SECOND',
      at: 'ledger.maxPerTypePerSecond',
      parse: integerIn(1, 1_000_000),
      default: '1000',
      doc: 'entries of one event type per second; the rest are counted in one `audit.suppressed` entry',
    }),
  ],
};
