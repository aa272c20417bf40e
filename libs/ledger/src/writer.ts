import { basename, dirname, resolve } from 'node:path';
import { canonicalJson } from './canonical-json';
import { type Clock, systemClock } from './clock';
import {
  encodeEntry,
  GENESIS_HASH,
  LEDGER_CHECKPOINT_TYPE,
  LEDGER_RECOVERED_TYPE,
  type LedgerEntry,
  parseEntryLine,
  type ParsedLine,
  sha256Hex,
} from './entry';
import { LedgerClosedError, LedgerCorruptError, LedgerError, LedgerWriteError } from './errors';
import { type LedgerFileHandle, type LedgerFileSystem, nodeFileSystem } from './file-system';
import { fileSetFromNames, looksRotated, rotatedPath } from './naming';
import {
  type CheckpointData,
  checkpointPayload,
  type CheckpointSigner,
  createSigner,
  type SigningKey,
} from './signing';
import { readTailLines } from './tail';

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
   * The active ledger file, e.g. `data/ledger-orchestrator.jsonl` (contract `ORCH_LEDGER_PATH`); its directory is
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
  /** Signs a `ledger.checkpoint` entry every {@link checkpointEvery} entries; no checkpoints without a key. */
  signingKey?: SigningKey;
  /**
   * With a {@link signingKey}: after each entry whose seq is a multiple of this, append a signed checkpoint over it.
   * Integer ≥ 0, default 1000; 0 = no checkpoints.
   */
  checkpointEvery?: number;
  /** Source of entry timestamps, default {@link systemClock}. */
  clock?: Clock;
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

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

interface Batch {
  lines: string[];
  lastSeq: number;
  waiter: Deferred | null;
}

const noop = (): void => undefined;

/** Marks `promise` as handled (an unobserved rejection cannot crash the process) and returns it unchanged. */
function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(noop);
  return promise;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise: handled(promise), resolve, reject };
}

function newBatch(): Batch {
  return { lines: [], lastSeq: 0, waiter: null };
}

/** Writers open in this process, by resolved path: two writers on one file would fork the chain. */
const openPaths = new Set<string>();

const DEFAULTS = {
  batchMaxEntries: 256,
  batchIntervalMs: 50,
  rotateBytes: 64 * 1024 * 1024,
  checkpointEvery: 1000,
} as const;

function invalid(message: string): LedgerError {
  return new LedgerError('invalid_options', message);
}

function integerOption(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min) throw invalid(`${name} must be an integer >= ${min}, got ${value}`);
  return value;
}

/**
 * Append-only writer of a hash-chained JSON Lines audit ledger (contract "Audit ledger") with group commit.
 *
 * Entries are chained in memory the moment they are accepted ({@link enqueue}/{@link append} assign `seq` and `hash`
 * synchronously) and written in batches: one `write` and one `fdatasync` per batch, a batch being written when it
 * holds `batchMaxEntries` entries or `batchIntervalMs` after its first entry, whichever comes first; one batch is in
 * flight at a time and the next one fills meanwhile. A crash loses at most the entries not yet synced, and can only
 * leave a torn *last* line, which {@link open} cuts (recording a `ledger.recovered` entry), so what came before always
 * verifies.
 *
 * Failure is fail-stop: after an I/O error every pending and later append fails with a {@link LedgerWriteError}
 * (also in `stats.lastError` and passed to `onError`); reopen to resume. Only one writer per file per process
 * ({@link LedgerError} `locked` otherwise); several processes must not share a file.
 */
export class LedgerWriter {
  /** The active file (absolute). */
  readonly path: string;
  /** What recovery on open cut, or `null` when the ledger was clean. */
  readonly recovery: LedgerRecovery | null;

  private readonly service: string;
  private readonly batchMaxEntries: number;
  private readonly batchIntervalMs: number;
  private readonly rotateBytes: number;
  private readonly checkpointEvery: number;
  private readonly signer: CheckpointSigner | null;
  private readonly clock: Clock;
  private readonly fs: LedgerFileSystem;
  private readonly timers: LedgerTimers;
  private readonly onError: ((error: LedgerError) => void) | undefined;

  private handle: LedgerFileHandle | null;
  private fileSize: number;
  private rotationIndex: number;
  private lastSeq: number;
  private lastHash: string;
  private syncedSeq: number;
  private filling: Batch = newBatch();
  private readonly sealed: Batch[] = [];
  private inFlight: Batch | null = null;
  private writing = false;
  private timer: unknown = null;
  private failure: LedgerError | null = null;
  private state: 'open' | 'closing' | 'closed' = 'open';
  private closing: Promise<void> | null = null;
  private batchesWritten = 0;
  private bytesWritten = 0;
  private rotations = 0;

  private constructor(
    settings: {
      path: string;
      service: string;
      batchMaxEntries: number;
      batchIntervalMs: number;
      rotateBytes: number;
      checkpointEvery: number;
      signer: CheckpointSigner | null;
      clock: Clock;
      fs: LedgerFileSystem;
      timers: LedgerTimers;
      onError: ((error: LedgerError) => void) | undefined;
    },
    resume: {
      handle: LedgerFileHandle;
      fileSize: number;
      rotationIndex: number;
      lastSeq: number;
      lastHash: string;
      recovery: LedgerRecovery | null;
    },
  ) {
    this.path = settings.path;
    this.service = settings.service;
    this.batchMaxEntries = settings.batchMaxEntries;
    this.batchIntervalMs = settings.batchIntervalMs;
    this.rotateBytes = settings.rotateBytes;
    this.checkpointEvery = settings.checkpointEvery;
    this.signer = settings.signer;
    this.clock = settings.clock;
    this.fs = settings.fs;
    this.timers = settings.timers;
    this.onError = settings.onError;
    this.handle = resume.handle;
    this.fileSize = resume.fileSize;
    this.rotationIndex = resume.rotationIndex;
    this.lastSeq = resume.lastSeq;
    this.lastHash = resume.lastHash;
    this.syncedSeq = resume.lastSeq;
    this.recovery = resume.recovery;
  }

  /**
   * Opens (creating when missing) the ledger at `options.path` and resumes its chain: finds the rotated files, cuts a
   * torn or invalid last line of the active file (then appends and syncs a `ledger.recovered` entry recording it, see
   * {@link recovery}), and continues `seq` and `prevHash` from the last good entry (of the newest rotated file when the
   * active file is empty or missing). Lines before the last one are not checked here; `verifyLedger` does that.
   * @throws LedgerError `invalid_options` naming the bad option, `locked` when this process already has the file
   *   open, `corrupt` when the last entry cannot be trusted even after cutting one line
   */
  static async open(options: LedgerWriterOptions): Promise<LedgerWriter> {
    if (typeof options.path !== 'string' || options.path === '') throw invalid('path must be a non-empty string');
    const path = resolve(options.path);
    if (looksRotated(basename(path))) {
      throw invalid(`path ${options.path}: the name looks like a rotated file (<name>.<number>.<ext>); choose another`);
    }
    if (typeof options.service !== 'string' || options.service === '') {
      throw invalid('service must be a non-empty string');
    }
    const batchIntervalMs = options.batchIntervalMs ?? DEFAULTS.batchIntervalMs;
    if (typeof batchIntervalMs !== 'number' || !Number.isFinite(batchIntervalMs) || batchIntervalMs < 0) {
      throw invalid(`batchIntervalMs must be a finite number >= 0, got ${batchIntervalMs}`);
    }
    const settings = {
      path,
      service: options.service,
      batchMaxEntries: integerOption('batchMaxEntries', options.batchMaxEntries, DEFAULTS.batchMaxEntries, 1),
      batchIntervalMs,
      rotateBytes: integerOption('rotateBytes', options.rotateBytes, DEFAULTS.rotateBytes, 0),
      checkpointEvery: integerOption('checkpointEvery', options.checkpointEvery, DEFAULTS.checkpointEvery, 0),
      signer: options.signingKey === undefined ? null : createSigner(options.signingKey),
      clock: options.clock ?? systemClock,
      fs: options.fileSystem ?? nodeFileSystem,
      timers: options.timers ?? systemTimers,
      onError: options.onError,
    };
    if (openPaths.has(path)) throw new LedgerError('locked', `ledger ${path} is already open in this process`);
    openPaths.add(path);
    let handle: LedgerFileHandle | null = null;
    try {
      const fs = settings.fs;
      const dir = dirname(path);
      await fs.ensureDir(dir);
      const files = fileSetFromNames(path, await fs.list(dir));
      handle = await fs.openAppend(path);
      if (!files.activeExists) await fs.syncDir(dir);
      const resume = await recoverActive(path, handle);
      if (resume.recovery !== null) {
        await handle.truncate(resume.keepBytes);
        await handle.sync();
      }
      let last = resume.last;
      for (let i = files.rotated.length - 1; last === null && i >= 0; i--) {
        last = await lastEntryOf(fs, files.rotated[i].path);
      }
      const writer = new LedgerWriter(settings, {
        handle,
        fileSize: resume.keepBytes,
        rotationIndex: files.rotated.at(-1)?.index ?? 0,
        lastSeq: last?.seq ?? 0,
        lastHash: last?.hash ?? GENESIS_HASH,
        recovery: resume.recovery === null ? null : { ...resume.recovery, afterSeq: last?.seq ?? 0 },
      });
      if (writer.recovery !== null) {
        writer.push(LEDGER_RECOVERED_TYPE, null, canonicalJson(writer.recovery));
        await writer.flush();
      }
      return writer;
    } catch (error) {
      openPaths.delete(path);
      await handle?.close().catch(noop);
      throw error;
    }
  }

  /** Counters and chain position (a fresh object per call). */
  get stats(): LedgerWriterStats {
    return {
      lastSeq: this.lastSeq,
      lastHash: this.lastHash,
      syncedSeq: this.syncedSeq,
      pendingEntries: this.lastSeq - this.syncedSeq,
      batchesWritten: this.batchesWritten,
      bytesWritten: this.bytesWritten,
      rotations: this.rotations,
      lastError: this.failure,
    };
  }

  /**
   * Accepts an entry for the next batch and returns its seq at once, without waiting for the disk (hot paths).
   * Call {@link flush} to wait until it is durable.
   * @throws LedgerError `invalid_value` for a bad input (nothing is appended), {@link LedgerClosedError} after
   *   {@link close}, {@link LedgerWriteError} once the writer has failed
   */
  enqueue(input: AppendInput): number {
    const { type, corrId, dataJson } = this.checkInput(input);
    return this.push(type, corrId, dataJson).seq;
  }

  /**
   * Accepts an entry like {@link enqueue} and resolves with it once its batch is written and fsynced. The promise
   * rejects only for an I/O failure, and is pre-handled: a caller that does not await it cannot cause an unhandled
   * rejection (the failure is still visible in `stats.lastError` and `onError`).
   * @throws synchronously, like {@link enqueue}, for a bad input or a closed or failed writer
   */
  append(input: AppendInput): Promise<LedgerEntry> {
    const { type, corrId, dataJson } = this.checkInput(input);
    const pushed = this.push(type, corrId, dataJson);
    const entry: LedgerEntry = {
      seq: pushed.seq,
      ts: pushed.ts,
      service: this.service,
      type,
      corrId,
      data: JSON.parse(dataJson) as unknown,
      prevHash: pushed.prevHash,
      hash: pushed.hash,
    };
    return handled(this.waitFor(pushed.batch).then(() => entry));
  }

  /**
   * Writes every accepted entry now and resolves when all of them are durable. Pre-handled like {@link append};
   * rejects with the writer's {@link LedgerWriteError} once it has failed.
   */
  flush(): Promise<void> {
    if (this.failure !== null) return handled(Promise.reject(this.failure));
    this.seal();
    const last = this.sealed.at(-1) ?? this.inFlight;
    return last === null ? Promise.resolve() : this.waitFor(last);
  }

  /**
   * Flushes, then closes the file; idempotent. Later appends throw {@link LedgerClosedError}. Rejects (after
   * closing) when the final flush failed.
   */
  close(): Promise<void> {
    if (this.closing === null) {
      this.state = 'closing';
      this.closing = handled(this.shutDown());
    }
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    let failure: Error | null = null;
    try {
      await this.flush();
    } catch (error) {
      failure = error instanceof Error ? error : new LedgerWriteError(this.path, error);
    }
    this.clearTimer();
    const handle = this.handle;
    this.handle = null;
    try {
      await handle?.close();
    } finally {
      this.state = 'closed';
      openPaths.delete(this.path);
    }
    if (failure !== null) throw failure;
  }

  private checkInput(input: AppendInput): { type: string; corrId: string | null; dataJson: string } {
    if (this.state !== 'open') throw new LedgerClosedError(this.path);
    if (this.failure !== null) throw this.failure;
    const { type } = input;
    if (typeof type !== 'string' || type === '') {
      throw new LedgerError('invalid_value', `type must be a non-empty string, got ${JSON.stringify(type)}`);
    }
    if (type.startsWith('ledger.')) {
      throw new LedgerError('invalid_value', `type ${type}: the "ledger." prefix is reserved for the writer`);
    }
    const corrId = input.corrId ?? null;
    if (corrId !== null && typeof corrId !== 'string') {
      throw new LedgerError('invalid_value', `corrId must be a string or null, got ${typeof corrId}`);
    }
    return { type, corrId, dataJson: canonicalJson(input.data === undefined ? {} : input.data) };
  }

  /** Chains one entry into the open batch (and a checkpoint after it when due). */
  private push(
    type: string,
    corrId: string | null,
    dataJson: string,
  ): { seq: number; ts: string; prevHash: string; hash: string; batch: Batch } {
    const seq = this.lastSeq + 1;
    const ts = new Date(this.clock.now()).toISOString();
    const prevHash = this.lastHash;
    const { hash, line } = encodeEntry(seq, ts, this.service, type, corrId, dataJson, prevHash);
    const batch = this.filling;
    batch.lines.push(line);
    batch.lastSeq = seq;
    this.lastSeq = seq;
    this.lastHash = hash;
    if (batch.lines.length >= this.batchMaxEntries) this.seal();
    else if (this.timer === null) this.timer = this.timers.setTimeout(this.onTimer, this.batchIntervalMs);
    if (
      this.signer !== null &&
      this.checkpointEvery > 0 &&
      seq % this.checkpointEvery === 0 &&
      type !== LEDGER_CHECKPOINT_TYPE
    ) {
      const alg = this.signer.alg;
      const data: CheckpointData = {
        uptoSeq: seq,
        uptoHash: hash,
        alg,
        sig: this.signer.sign(checkpointPayload(this.service, seq, hash, alg)),
      };
      this.push(LEDGER_CHECKPOINT_TYPE, null, canonicalJson(data));
    }
    return { seq, ts, prevHash, hash, batch };
  }

  private readonly onTimer = (): void => {
    this.timer = null;
    this.seal();
  };

  private clearTimer(): void {
    if (this.timer !== null) {
      this.timers.clearTimeout(this.timer);
      this.timer = null;
    }
  }

  /** Closes the open batch (if it has entries) and starts writing. */
  private seal(): void {
    this.clearTimer();
    if (this.filling.lines.length === 0) return;
    this.sealed.push(this.filling);
    this.filling = newBatch();
    if (!this.writing && this.failure === null) void this.pump();
  }

  private waitFor(batch: Batch): Promise<void> {
    batch.waiter ??= deferred();
    return batch.waiter.promise;
  }

  /** Writes sealed batches in order, one at a time; never rejects (a failure stops the writer). */
  private async pump(): Promise<void> {
    this.writing = true;
    try {
      let batch: Batch | undefined;
      while ((batch = this.sealed.shift()) !== undefined) {
        this.inFlight = batch;
        await this.writeBatch(batch);
        this.inFlight = null;
        this.syncedSeq = batch.lastSeq;
        this.batchesWritten++;
        batch.waiter?.resolve();
      }
    } catch (error) {
      this.fail(error);
    } finally {
      this.writing = false;
    }
  }

  private fail(cause: unknown): void {
    const failure = cause instanceof LedgerError ? cause : new LedgerWriteError(this.path, cause);
    this.failure = failure;
    this.clearTimer();
    const lost = [...(this.inFlight === null ? [] : [this.inFlight]), ...this.sealed.splice(0), this.filling];
    this.inFlight = null;
    this.filling = newBatch();
    for (const batch of lost) batch.waiter?.reject(failure);
    try {
      this.onError?.(failure);
    } catch {
      // onError must not throw; the failure is already recorded in stats.lastError.
    }
  }

  private async writeBatch(batch: Batch): Promise<void> {
    const data = Buffer.from(batch.lines.join(''), 'utf8');
    if (this.rotateBytes === 0 || this.fileSize + data.length <= this.rotateBytes) {
      await this.writeChunk(data);
      return;
    }
    let chunk: string[] = [];
    let chunkBytes = 0;
    for (const line of batch.lines) {
      const bytes = Buffer.byteLength(line, 'utf8');
      if (this.fileSize + chunkBytes + bytes > this.rotateBytes && this.fileSize + chunkBytes > 0) {
        if (chunk.length > 0) await this.writeChunk(Buffer.from(chunk.join(''), 'utf8'));
        chunk = [];
        chunkBytes = 0;
        await this.rotate();
      }
      chunk.push(line);
      chunkBytes += bytes;
    }
    if (chunk.length > 0) await this.writeChunk(Buffer.from(chunk.join(''), 'utf8'));
  }

  private async writeChunk(data: Buffer): Promise<void> {
    const handle = this.activeHandle();
    await handle.append(data);
    await handle.sync();
    this.fileSize += data.length;
    this.bytesWritten += data.length;
  }

  /** Renames the (synced) active file to the next rotated name and starts a new, empty active file. */
  private async rotate(): Promise<void> {
    const handle = this.activeHandle();
    this.handle = null;
    await handle.close();
    this.rotationIndex++;
    await this.fs.rename(this.path, rotatedPath(this.path, this.rotationIndex));
    this.handle = await this.fs.openAppend(this.path);
    // One directory sync makes both the rename and the new file durable before any entry goes into the new file.
    await this.fs.syncDir(dirname(this.path));
    this.fileSize = 0;
    this.rotations++;
  }

  private activeHandle(): LedgerFileHandle {
    if (this.handle === null) throw new LedgerClosedError(this.path);
    return this.handle;
  }
}

/** Where the active file's chain resumes, and what to cut. */
interface ActiveResume {
  last: LedgerEntry | null;
  keepBytes: number;
  recovery: Omit<LedgerRecovery, 'afterSeq'> | null;
}

function describe(parsed: Exclude<ParsedLine, { kind: 'ok' }>): string {
  switch (parsed.kind) {
    case 'unparsable':
    case 'malformed':
      return parsed.message;
    case 'hash_mismatch':
      return `hash mismatch at seq ${parsed.entry.seq}`;
    default: {
      const unexpected: never = parsed;
      return String(unexpected);
    }
  }
}

/** Finds the last good entry of the active file; a torn or invalid last line is to be cut (only that one line). */
async function recoverActive(path: string, handle: LedgerFileHandle): Promise<ActiveResume> {
  const size = await handle.size();
  const lines = await readTailLines(handle, size, 2);
  let keepBytes = size;
  let recovery: ActiveResume['recovery'] = null;
  let candidate = lines[0];
  if (candidate !== undefined) {
    const reason = !candidate.terminated
      ? 'torn_line'
      : parseEntryLine(candidate.text).kind === 'ok'
        ? null
        : 'invalid_line';
    if (reason !== null) {
      keepBytes = candidate.offset;
      recovery = {
        file: basename(path),
        reason,
        truncatedBytes: size - candidate.offset,
        truncatedSha256: sha256Hex(candidate.raw),
      };
      candidate = lines[1];
    }
  }
  if (candidate === undefined) return { last: null, keepBytes, recovery };
  const parsed = parseEntryLine(candidate.text);
  if (parsed.kind !== 'ok') {
    throw new LedgerCorruptError(
      `ledger ${path}: the entry at byte ${candidate.offset} cannot be resumed from (${describe(parsed)})` +
        (recovery === null ? '' : ' after cutting an invalid last line') +
        '; run verify and move the file aside',
    );
  }
  return { last: parsed.entry, keepBytes, recovery };
}

/** The last entry of a rotated file, or `null` when it is empty. */
async function lastEntryOf(fs: LedgerFileSystem, path: string): Promise<LedgerEntry | null> {
  const handle = await fs.openRead(path);
  try {
    const [line] = await readTailLines(handle, await handle.size(), 1);
    if (line === undefined) return null;
    const parsed = line.terminated ? parseEntryLine(line.text) : null;
    if (parsed?.kind !== 'ok') {
      throw new LedgerCorruptError(
        `ledger ${path}: the last line of this rotated file is ${parsed === null ? 'torn' : describe(parsed)}; run verify`,
      );
    }
    return parsed.entry;
  } finally {
    await handle.close();
  }
}
