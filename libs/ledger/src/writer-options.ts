// What LedgerWriter takes and reports: its options, timers, input, statistics, recovery and head check.
import { type WallClock } from './clock';
import {} from './entry';
import { type LedgerError } from './errors';
import { type LedgerFileSystem } from './file-system';
import { type LedgerHead } from './head';
import { type SigningKey } from './signing';

/** Timer seam of the writer (the batch interval); tests inject a manual one. */
export interface LedgerTimers {
  /** Calls `callback` once after `ms` milliseconds; returns a handle for {@link clearTimeout}. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancels a pending callback. */
  clearTimeout(handle: unknown): void;
}

/** The global `setTimeout`/`clearTimeout`. The timer is referenced: a pending batch keeps the process alive ≤ 1 interval. */
export const systemTimers: LedgerTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Options of {@link LedgerWriter.open}. */
export interface LedgerWriterOptions {
  /**
   * The active ledger file, e.g. `data/ledger-orchestrator.jsonl` (setting `ORCH_LEDGER_PATH`); its directory is
   * created when missing. Rotated files live beside it (naming: see {@link LedgerFileSet}). Its name must not itself
   * look rotated (`x.000001.jsonl`).
   */
  path: string;
  /** `service` of every entry, e.g. `orchestrator`. Non-empty. */
  service: string;
  /** Entries per batch (one write + one fsync); a full batch is written at once. Integer ≥ 1, default 256. */
  batchMaxEntries?: number;
  /** Longest time an entry waits in a non-full batch before the batch is written, in ms. ≥ 0, default 50. */
  batchIntervalMs?: number;
  /**
   * Rotate when the active file would exceed this many bytes; 0 = never. Integer ≥ 0, default 64 MiB. A batch is
   * split at an entry boundary so no file exceeds the limit, except a file holding one entry larger than the limit.
   */
  rotateBytes?: number;
  /** Signs `ledger.checkpoint` entries (see {@link checkpointEvery}) and the head; no checkpoints without a key. */
  signingKey?: SigningKey;
  /**
   * Head points: every entry whose seq is a multiple of this; integer ≥ 0, default 1000. After a head point the writer,
   * with a {@link signingKey}, appends a signed `ledger.checkpoint` over it, and once that batch is durable it writes
   * the head. With a key it also appends a checkpoint when it opens a ledger whose last entry is not one (after a
   * crash, or a ledger written without a key) and when it closes; so no more than this many entries ever go without a
   * signed checkpoint, which `verifyLedger` with the same number requires. 0 = no checkpoints and no head points.
   */
  checkpointEvery?: number;
  /**
   * File that witnesses the head of the chain outside the ledger (see `LedgerHead`), default `<path>.head`; `false` =
   * none. Written atomically at open, at close, and after a durable batch once {@link headIntervalMs} passed since the
   * last one (a timer writes it when traffic stops). On open the ledger must reach and match it (else
   * {@link LedgerHeadError}, and nothing is changed on disk).
   */
  headPath?: string | false;
  /**
   * Also write the head after a durable batch when the last head is older than this, in ms (a timer writes it when
   * traffic stops); ≥ 0, default 1000; 0 = only at open and close.
   */
  headIntervalMs?: number;
  /** Source of entry timestamps, default {@link wallClock}. */
  clock?: WallClock;
  /** File-system seam, default {@link nodeFileSystem}. */
  fileSystem?: LedgerFileSystem;
  /** Timer seam, default {@link systemTimers}. */
  timers?: LedgerTimers;
  /**
   * Called once when the writer fails (I/O error): the error is also in `stats.lastError` and rejects every pending
   * `append`/`flush`. Must not throw (an exception is swallowed).
   */
  onError?: (error: LedgerError) => void;
}

/** What a caller appends; the writer adds `seq`, `ts`, `service`, `prevHash` and `hash`. */
export interface AppendInput {
  /** Event type, non-empty, e.g. `policy.deny`; types starting with `ledger.` are reserved for the writer. */
  type: string;
  /** Correlation id of the request, or `null`/absent. */
  corrId?: string | null;
  /** Event payload, any value with a canonical JSON form (see `canonicalJson`); default `{}`. */
  data?: unknown;
}

/** Counters and chain position of a {@link LedgerWriter}. */
export interface LedgerWriterStats {
  /** Seq of the last entry accepted (possibly not yet on disk); 0 when the ledger is empty. */
  lastSeq: number;
  /** Hash of that entry ({@link GENESIS_HASH} when empty). */
  lastHash: string;
  /** Seq of the last entry known to be durable (written and fsynced). */
  syncedSeq: number;
  /** Hash of that entry ({@link GENESIS_HASH} when empty). */
  syncedHash: string;
  /** Seq of the entry the head file names now (`-1` before the first head write, or without a head file). */
  headSeq: number;
  /** Entries accepted but not yet durable. */
  pendingEntries: number;
  /** Batches written and synced since open. */
  batchesWritten: number;
  /** Bytes written since open. */
  bytesWritten: number;
  /** Rotations performed since open. */
  rotations: number;
  /** The error that stopped the writer, or `null`. */
  lastError: LedgerError | null;
}

/** What recovery on open did: it cut a torn or invalid last line and recorded it in a `ledger.recovered` entry. */
export interface LedgerRecovery {
  /** Name (not path) of the file that was cut. */
  file: string;
  /** `torn_line`: the last line had no newline (an interrupted write); `invalid_line`: it did not parse or verify. */
  reason: 'torn_line' | 'invalid_line';
  /** Bytes removed. */
  truncatedBytes: number;
  /** SHA-256 hex of the removed bytes (evidence, should anyone need to match them). */
  truncatedSha256: string;
  /** Seq of the last good entry, after which the chain resumed. */
  afterSeq: number;
}

/** What {@link LedgerWriter.open} found in the head file before it changed anything. */
export interface LedgerHeadCheck {
  /** The head file, or `null` without one (`headPath: false`). */
  readonly path: string | null;
  /**
   * `matched`: the ledger reaches the head and its entry at the head's seq has the head's hash; `missing`: no head
   * file (a new ledger, a ledger written before heads existed, or the file was removed); `disabled`: no head file
   * configured.
   */
  readonly status: 'matched' | 'missing' | 'disabled';
  /** The head that matched, else `null`. */
  readonly head: LedgerHead | null;
}
