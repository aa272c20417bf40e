/*
 * LedgerWriter is one unit on purpose: the batch being filled, the file handle, the chain's last hash, rotation, the
 * checkpoint counter and the fail-stop state change together under one ordering rule (an entry is durable, hashed and
 * counted in the order it was accepted), and splitting the class would spread that invariant over several files. Its
 * options and reports are in writer-options.ts, reopening a file in writer-recovery.ts.
 */
import { basename, dirname, resolve } from 'node:path';
import { canonicalJson, ledgerJson } from './canonical-json';
import { type WallClock, wallClock } from './clock';
import { encodeEntry, GENESIS_HASH, LEDGER_CHECKPOINT_TYPE, LEDGER_RECOVERED_TYPE, type LedgerEntry } from './entry';
import { LedgerClosedError, LedgerError, LedgerWriteError } from './errors';
import { type LedgerFileHandle, type LedgerFileSystem, nodeFileSystem } from './file-system';
import { defaultHeadPath, encodeHead, makeHead } from './head';
import { fileSetFromNames, looksRotated, rotatedPath } from './naming';
import {
  type CheckpointData,
  checkpointPayload,
  type CheckpointSigner,
  createSigner,
  createVerifier,
  verificationKeyFor,
} from './signing';
import {
  type LedgerTimers,
  systemTimers,
  type LedgerWriterOptions,
  type AppendInput,
  type LedgerWriterStats,
  type LedgerRecovery,
  type LedgerHeadCheck,
} from './writer-options';
import { recoverActive, lastEntryOf, checkHead } from './writer-recovery';

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

interface Batch {
  lines: string[];
  lastSeq: number;
  lastHash: string;
  /** Holds a head point: write the head once the batch is durable. */
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
  return { lines: [], lastSeq: 0, lastHash: GENESIS_HASH, waiter: null };
}

/** Writers open in this process, by resolved path: two writers on one file would fork the chain. */
const openPaths = new Set<string>();

const DEFAULTS = {
  batchMaxEntries: 256,
  batchIntervalMs: 50,
  rotateBytes: 64 * 1024 * 1024,
  checkpointEvery: 1000,
  headIntervalMs: 1000,
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
 * Append-only writer of a hash-chained JSON Lines audit ledger (docs/ledger.md) with group commit.
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
 *
 * Tamper evidence beyond the hash chain: with a signing key, signed `ledger.checkpoint` entries at least every
 * `checkpointEvery` entries (and at open after a crash, and at close); and the head file (see `headPath`), written
 * outside the ledger only once what it names is durable, so removing the newest entries shows on the next open and in
 * `verifyLedger`.
 */
export class LedgerWriter {
  /** The active file (absolute). */
  readonly path: string;
  /** What recovery on open cut, or `null` when the ledger was clean. */
  readonly recovery: LedgerRecovery | null;
  /** What open found in the head file. */
  readonly headCheck: LedgerHeadCheck;

  private readonly service: string;
  private readonly batchMaxEntries: number;
  private readonly batchIntervalMs: number;
  private readonly rotateBytes: number;
  private readonly checkpointEvery: number;
  private readonly signer: CheckpointSigner | null;
  private readonly headPath: string | null;
  private readonly headIntervalMs: number;
  private readonly clock: WallClock;
  private readonly fs: LedgerFileSystem;
  private readonly timers: LedgerTimers;
  private readonly onError: ((error: LedgerError) => void) | undefined;

  private handle: LedgerFileHandle | null;
  private fileSize: number;
  private rotationIndex: number;
  private lastSeq: number;
  private lastHash: string;
  private lastIsCheckpoint: boolean;
  private syncedSeq: number;
  private syncedHash: string;
  private headSeq = -1;
  private headAt = 0;
  /** Head writes, one after the other (a later head never lands before an earlier one). */
  private headChain: Promise<void> = Promise.resolve();
  private headTimer: unknown = null;
  private headRequested = false;
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
      headPath: string | null;
      headIntervalMs: number;
      clock: WallClock;
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
      lastIsCheckpoint: boolean;
      recovery: LedgerRecovery | null;
      headCheck: LedgerHeadCheck;
    },
  ) {
    this.path = settings.path;
    this.service = settings.service;
    this.batchMaxEntries = settings.batchMaxEntries;
    this.batchIntervalMs = settings.batchIntervalMs;
    this.rotateBytes = settings.rotateBytes;
    this.checkpointEvery = settings.checkpointEvery;
    this.signer = settings.signer;
    this.headPath = settings.headPath;
    this.headIntervalMs = settings.headIntervalMs;
    this.clock = settings.clock;
    this.fs = settings.fs;
    this.timers = settings.timers;
    this.onError = settings.onError;
    this.handle = resume.handle;
    this.fileSize = resume.fileSize;
    this.rotationIndex = resume.rotationIndex;
    this.lastSeq = resume.lastSeq;
    this.lastHash = resume.lastHash;
    this.lastIsCheckpoint = resume.lastIsCheckpoint;
    this.syncedSeq = resume.lastSeq;
    this.syncedHash = resume.lastHash;
    this.recovery = resume.recovery;
    this.headCheck = resume.headCheck;
  }

  /**
   * Opens (creating when missing) the ledger at `options.path` and resumes its chain: finds the rotated files, cuts a
   * torn or invalid last line of the active file (then appends and syncs a `ledger.recovered` entry recording it, see
   * {@link recovery}), and continues `seq` and `prevHash` from the last good entry (of the newest rotated file when the
   * active file is empty or missing). Lines before the last one are not checked here; `verifyLedger` does that.
   *
   * Before anything is changed on disk, the ledger is checked against its head file ({@link headCheck}): it must reach
   * the head's seq, hold the head's hash there, and hold nothing after a head written by a clean close. Then the head
   * is written for the resumed position; with a key, a checkpoint is appended when the last entry is not one.
   * @throws LedgerError `invalid_options` naming the bad option, `locked` when this process already has the file
   *   open, `corrupt` when the last entry cannot be trusted even after cutting one line, {@link LedgerHeadError}
   *   (`head_mismatch`) when the ledger does not match its head
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
    const headIntervalMs = options.headIntervalMs ?? DEFAULTS.headIntervalMs;
    if (typeof headIntervalMs !== 'number' || !Number.isFinite(headIntervalMs) || headIntervalMs < 0) {
      throw invalid(`headIntervalMs must be a finite number >= 0, got ${headIntervalMs}`);
    }
    const headOption = options.headPath ?? defaultHeadPath(path);
    if (headOption !== false && (typeof headOption !== 'string' || headOption === '')) {
      throw invalid('headPath must be a non-empty string or false');
    }
    const headPath = headOption === false ? null : resolve(headOption);
    if (headPath === path) throw invalid('headPath must not be the ledger file itself');
    const settings = {
      path,
      service: options.service,
      batchMaxEntries: integerOption('batchMaxEntries', options.batchMaxEntries, DEFAULTS.batchMaxEntries, 1),
      batchIntervalMs,
      rotateBytes: integerOption('rotateBytes', options.rotateBytes, DEFAULTS.rotateBytes, 0),
      checkpointEvery: integerOption('checkpointEvery', options.checkpointEvery, DEFAULTS.checkpointEvery, 0),
      signer: options.signingKey === undefined ? null : createSigner(options.signingKey),
      headPath,
      headIntervalMs,
      clock: options.clock ?? wallClock,
      fs: options.fileSystem ?? nodeFileSystem,
      timers: options.timers ?? systemTimers,
      onError: options.onError,
    };
    if (openPaths.has(path)) throw new LedgerError('locked', `ledger ${path} is already open in this process`);
    openPaths.add(path);
    let handle: LedgerFileHandle | null = null;
    let writer: LedgerWriter | null = null;
    try {
      const fs = settings.fs;
      const dir = dirname(path);
      await fs.ensureDir(dir);
      if (headPath !== null) await fs.ensureDir(dirname(headPath));
      const files = fileSetFromNames(path, await fs.list(dir));
      handle = await fs.openAppend(path);
      if (!files.activeExists) await fs.syncDir(dir);
      const resume = await recoverActive(path, handle);
      let last = resume.last;
      for (let i = files.rotated.length - 1; last === null && i >= 0; i--) {
        last = await lastEntryOf(fs, files.rotated[i].path);
      }
      const verifier =
        options.signingKey === undefined ? null : createVerifier(verificationKeyFor(options.signingKey), 'signingKey');
      const headCheck = await checkHead({
        fs,
        path,
        headPath,
        verifier,
        active: { handle, end: resume.keepBytes },
        rotated: files.rotated,
        last,
        cutting: resume.recovery !== null,
      });
      if (resume.recovery !== null) {
        await handle.truncate(resume.keepBytes);
        await handle.sync();
      }
      writer = new LedgerWriter(settings, {
        handle,
        fileSize: resume.keepBytes,
        rotationIndex: files.rotated.at(-1)?.index ?? 0,
        lastSeq: last?.seq ?? 0,
        lastHash: last?.hash ?? GENESIS_HASH,
        lastIsCheckpoint: last?.type === LEDGER_CHECKPOINT_TYPE,
        recovery: resume.recovery === null ? null : { ...resume.recovery, afterSeq: last?.seq ?? 0 },
        headCheck,
      });
      // First a head for where the chain resumes (a head written by a clean close must never have entries after it),
      // then what opening appends, then a head over that too.
      await writer.writeHead(false);
      if (writer.signer !== null && writer.checkpointEvery > 0 && writer.lastSeq > 0 && !writer.lastIsCheckpoint) {
        // Over the entries a crash left unsigned, before anything else: no stretch exceeds checkpointEvery.
        writer.pushCheckpoint();
      }
      if (writer.recovery !== null) writer.push(LEDGER_RECOVERED_TYPE, null, canonicalJson(writer.recovery));
      if (writer.lastSeq !== writer.syncedSeq) {
        await writer.flush();
        await writer.writeHead(false);
      }
      return writer;
    } catch (error) {
      writer?.stopTimers();
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
      syncedHash: this.syncedHash,
      headSeq: this.headSeq,
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
   * Appends a signed checkpoint when a key is set and the last entry is not one, flushes, writes the head marked
   * `closed`, then closes the file; idempotent. Later appends throw {@link LedgerClosedError}. Rejects (after closing)
   * when the final flush or head write failed.
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
    this.clearHeadTimer();
    try {
      if (
        this.failure === null &&
        this.signer !== null &&
        this.checkpointEvery > 0 &&
        this.lastSeq > 0 &&
        !this.lastIsCheckpoint
      ) {
        this.pushCheckpoint();
      }
      await this.flush();
      await this.writeHead(true);
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
    return { type, corrId, dataJson: ledgerJson(input.data === undefined ? {} : input.data) };
  }

  /**
   * Chains one entry into the open batch; with a key, a checkpoint follows every entry whose seq is a multiple of
   * `checkpointEvery`. (The checkpoint after seq k·N is k·N + 1, so at most N entries go without one, whatever
   * checkpoints opening and closing add in between.)
   */
  private push(
    type: string,
    corrId: string | null,
    dataJson: string,
  ): { seq: number; ts: string; prevHash: string; hash: string; batch: Batch } {
    const pushed = this.pushLine(type, corrId, dataJson);
    if (this.signer !== null && this.checkpointEvery > 0 && pushed.seq % this.checkpointEvery === 0) {
      this.pushCheckpoint();
    }
    return pushed;
  }

  /** Appends a signed checkpoint over the newest entry (the caller checked that a signer is set). */
  private pushCheckpoint(): void {
    const signer = this.signer as CheckpointSigner;
    const alg = signer.alg;
    const data: CheckpointData = {
      uptoSeq: this.lastSeq,
      uptoHash: this.lastHash,
      alg,
      sig: signer.sign(checkpointPayload(this.service, this.lastSeq, this.lastHash, alg)),
    };
    this.pushLine(LEDGER_CHECKPOINT_TYPE, null, canonicalJson(data));
  }

  private pushLine(
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
    batch.lastHash = hash;
    this.lastSeq = seq;
    this.lastHash = hash;
    this.lastIsCheckpoint = type === LEDGER_CHECKPOINT_TYPE;
    if (batch.lines.length >= this.batchMaxEntries) this.seal();
    else if (this.timer === null) this.timer = this.timers.setTimeout(this.onTimer, this.batchIntervalMs);
    return { seq, ts, prevHash, hash, batch };
  }

  /**
   * Writes the head file for the newest durable entry, after any head write still running; a no-op without a head
   * file. Rejects (and keeps rejecting) once a head write failed.
   */
  private writeHead(closed: boolean): Promise<void> {
    const headPath = this.headPath;
    if (headPath === null) return Promise.resolve();
    const seq = this.syncedSeq;
    const hash = this.syncedHash;
    this.headChain = handled(
      this.headChain.then(async () => {
        // The head's time is for people reading it; entry timestamps (the injected clock) are not touched by it.
        const ts = new Date(wallClock.now()).toISOString();
        const head = makeHead({ service: this.service, seq, hash, ts, closed }, this.signer);
        await this.fs.replaceFile(headPath, Buffer.from(encodeHead(head), 'utf8'));
        this.headSeq = seq;
        this.headAt = performance.now();
      }),
    );
    return this.headChain;
  }

  /** Whether a durable batch should be followed by a head write because the last one is old. */
  private headDueByTime(): boolean {
    return this.headPath !== null && this.headIntervalMs > 0 && performance.now() - this.headAt >= this.headIntervalMs;
  }

  /** After writing stops: when the head lags behind the disk, write it once the interval is over. */
  private armHeadTimer(): void {
    if (
      this.headPath === null ||
      this.headIntervalMs === 0 ||
      this.state !== 'open' ||
      this.failure !== null ||
      this.headTimer !== null ||
      this.headSeq >= this.syncedSeq
    ) {
      return;
    }
    const delay = Math.max(0, this.headAt + this.headIntervalMs - performance.now());
    this.headTimer = this.timers.setTimeout(this.onHeadTimer, delay);
    // A lagging head must not keep a process alive that has nothing else to do (it is what a crash leaves, too).
    (this.headTimer as { unref?: () => void } | null)?.unref?.();
  }

  private readonly onHeadTimer = (): void => {
    this.headTimer = null;
    if (this.state !== 'open' || this.failure !== null) return;
    this.headRequested = true;
    if (!this.writing) void this.pump();
  };

  private clearHeadTimer(): void {
    if (this.headTimer !== null) {
      this.timers.clearTimeout(this.headTimer);
      this.headTimer = null;
    }
  }

  /** Stops every timer (a writer that failed to open). */
  private stopTimers(): void {
    this.clearTimer();
    this.clearHeadTimer();
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

  /**
   * Writes sealed batches in order, one at a time, and the head after a batch holding a head point (or when the last
   * head is old); never rejects (a failure stops the writer).
   */
  private async pump(): Promise<void> {
    this.writing = true;
    try {
      for (;;) {
        const batch = this.sealed.shift();
        if (batch !== undefined) {
          this.inFlight = batch;
          await this.writeBatch(batch);
          this.inFlight = null;
          this.syncedSeq = batch.lastSeq;
          this.syncedHash = batch.lastHash;
          this.batchesWritten++;
          batch.waiter?.resolve();
          // At most one head write per interval: each costs two fsyncs, and under load a batch is durable every few ms.
          if (this.headDueByTime()) await this.writeHead(false);
        } else if (this.headRequested) {
          this.headRequested = false;
          if (this.headSeq < this.syncedSeq) await this.writeHead(false);
        } else {
          break;
        }
      }
    } catch (error) {
      this.fail(error);
    } finally {
      this.writing = false;
    }
    this.armHeadTimer();
  }

  private fail(cause: unknown): void {
    const failure = cause instanceof LedgerError ? cause : new LedgerWriteError(this.path, cause);
    this.failure = failure;
    this.clearTimer();
    this.clearHeadTimer();
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
