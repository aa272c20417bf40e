import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import {
  type AuditPage,
  type AuditQuery,
  LedgerError,
  type LedgerExportPlan,
  type LedgerExportRange,
  LedgerWriter,
  planLedgerExport,
  readAuditPage,
  type LedgerWriterOptions,
  toLedgerValue,
  verificationKeyFor,
  type VerificationKey,
  verifyLedger,
  type VerifyOptions,
  type VerifyResult,
} from '@shieldx/ledger';
import { resolve } from 'node:path';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import { currentCorrId } from '../request/request-context';
import { EventGuard, type GuardedEntry, unrefTimers } from './event-guard';
import { refuseLostHead } from './ledger-head';
import { acquireLedgerLock } from './ledger-lock';
import {
  type AcceptedLedgerEntry,
  EVENTS_LOST_TYPE,
  LEDGER_SERVICE_NAME,
  type LedgerEvent,
  LedgerOpenError,
  type LedgerStatus,
  STARTED_TYPE,
  STOPPED_TYPE,
} from './ledger-types';
import { Emitter } from '../events/emitter';
import { LedgerMetrics } from './ledger-metrics';

/** Events kept while the ledger is opening at boot; more are counted as lost. */
const BOOT_BUFFER_MAX = 10_000;
/** Reopen attempts after a failure: first after this, doubling, at most {@link REOPEN_MAX_MS}. */
const REOPEN_FIRST_MS = 1000;
const REOPEN_MAX_MS = 30_000;
/** Longest wait for a flush before reading the files for the admin API. */
const READ_FLUSH_TIMEOUT_MS = 2000;

const noop = (): void => undefined;

/**
 * The orchestrator's audit ledger (docs/ledger.md): opens the `@shieldx/ledger` writer at
 * `ORCH_LEDGER_PATH` when the app starts (creating the directory; a ledger that cannot be opened, is corrupt, is in use
 * by another process — `<path>.lock` — or does not reach and match its head file `ORCH_LEDGER_HEAD_PATH` stops
 * start-up), takes security events through an {@link EventGuard} (aggregation and a per-type cap), and flushes and
 * closes on shutdown (a signed checkpoint and a `closed` head with a key). Event data that has no exact JSON form
 * (numbers beyond 2^53, bigint, NaN, cycles…) is recorded with those values replaced by text, never dropped.
 *
 * Recording never fails a request: {@link record} does not throw and does not wait for the disk. When the writer fails
 * (an I/O error, fail-stop), the failure is logged, counted in `orchestrator_ledger_errors_total{kind="write"}`, the
 * `ledger` indicator of `/readyz` goes down, and events are counted by type while it is down
 * (`{kind="dropped"}`); the ledger is reopened after 1 s, 2 s, 4 s … (at most 30 s), and the first entry after it is
 * back is an `audit.events_lost` entry with those counts.
 */
@Injectable()
export class LedgerService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('ledger');
  private readonly path: string;
  private readonly verificationKey: VerificationKey | undefined;
  private readonly guard: EventGuard;
  private writer: LedgerWriter | null = null;
  private state: LedgerStatus['state'] = 'opening';
  private readonly bootBuffer: GuardedEntry[] = [];
  private lost = new Map<string, number>();
  private lostSince = 0;
  private lostUnsynced = 0;
  private lastError: string | null = null;
  private reopenTimer: ReturnType<typeof setTimeout> | undefined;
  private reopenDelayMs = REOPEN_FIRST_MS;
  private verifying: Promise<VerifyResult> | null = null;
  private releaseLock: (() => Promise<void>) | null = null;
  private readonly entries = new Emitter<AcceptedLedgerEntry>((error, entry) =>
    this.logger.error({ event: 'ledger_listener_failed', type: entry.type, err: error }),
  );

  constructor(
    @Inject(ORCH_CONFIG) private readonly config: OrchestratorConfig,
    private readonly metrics: LedgerMetrics,
  ) {
    this.path = resolve(config.ledger.path);
    this.verificationKey =
      config.ledger.signingKey === undefined ? undefined : verificationKeyFor(config.ledger.signingKey);
    this.guard = new EventGuard({
      windowMs: config.ledger.aggregateWindowMs,
      maxPerTypePerSecond: config.ledger.maxPerTypePerSecond,
      now: Date.now,
      timers: unrefTimers,
      write: (entry) => this.append(entry),
      count: (outcome, events) => this.metrics.event(outcome, events),
    });
    this.metrics.setUp(false);
  }

  /** Opens the ledger (resuming its chain) and writes an `audit.started` entry. Throws when it cannot be opened. */
  async onModuleInit(): Promise<void> {
    try {
      this.releaseLock = await acquireLedgerLock(this.path);
      this.writer = await this.openWriter();
    } catch (error) {
      this.state = 'down';
      await this.releaseLock?.().catch(noop);
      this.releaseLock = null;
      throw new LedgerOpenError(this.path, error);
    }
    const { recovery, headCheck } = this.writer;
    if (recovery !== null) this.logger.warn({ event: 'ledger_recovered', path: this.path, ...recovery });
    if (headCheck.status === 'missing' && this.writer.stats.lastSeq > 0) {
      // A ledger written before heads existed, or its head removed: nothing showed whether its newest entries are
      // all there. Recorded in audit.started ("head": "missing") for whoever reads the ledger later.
      this.logger.warn({ event: 'ledger_head_missing', path: this.path, headPath: headCheck.path });
    }
    this.state = 'up';
    this.metrics.setUp(true);
    this.append({
      type: STARTED_TYPE,
      corrId: null,
      data: {
        pid: process.pid,
        resumedAfterSeq: this.writer.stats.lastSeq,
        recovered: recovery !== null,
        head: headCheck.status,
      },
    });
    for (const entry of this.bootBuffer.splice(0)) this.append(entry);
    this.logger.log({ event: 'ledger_opened', path: this.path, lastSeq: this.writer.stats.lastSeq });
  }

  /** Writes pending aggregates and an `audit.stopped` entry, then flushes and closes the file. */
  async onApplicationShutdown(): Promise<void> {
    clearTimeout(this.reopenTimer);
    this.guard.flush();
    if (this.state === 'up') this.append({ type: STOPPED_TYPE, corrId: null, data: { pid: process.pid } });
    this.state = 'closed';
    this.metrics.setUp(false);
    const writer = this.writer;
    this.writer = null;
    try {
      await writer?.close();
    } catch (error) {
      this.logger.error({ event: 'ledger_close_failed', path: this.path, err: error });
    }
    await this.releaseLock?.().catch(noop);
    this.releaseLock = null;
  }

  /**
   * Records one security event: never throws, never waits. The entry's `corrId` is the event's, else the correlation
   * id of the request being served ({@link currentCorrId}), else `null`.
   */
  record(event: LedgerEvent): void {
    const entry: GuardedEntry = { type: event.type, corrId: event.corrId ?? currentCorrId() ?? null, data: event.data };
    try {
      this.guard.offer(entry);
    } catch (error) {
      // Only data without an exact JSON form throws here (aggregation keys it by its canonical JSON).
      const sanitised = error instanceof LedgerError && error.code === 'invalid_value' ? this.sanitised(entry) : null;
      if (sanitised === null) {
        this.invalid(event.type, error);
        return;
      }
      try {
        this.guard.offer(sanitised);
      } catch (again) {
        this.invalid(event.type, again);
      }
    }
  }

  /**
   * Calls `listener` with every entry the writer accepts (seq and hash of this chain), after it was queued for the
   * disk. A throwing listener is logged and ignored. Returns an unsubscribe.
   */
  onEntry(listener: (entry: AcceptedLedgerEntry) => void): () => void {
    return this.entries.on(listener);
  }

  /**
   * The entry with its data made writable ({@link toLedgerValue}), or `null` when nothing in the data needed replacing
   * (then the entry is refused for another reason).
   */
  private sanitised(entry: GuardedEntry): GuardedEntry | null {
    const { value, replaced } = toLedgerValue(entry.data);
    if (replaced === 0) return null;
    this.logger.warn({ event: 'ledger_event_sanitised', type: entry.type, replaced });
    const data =
      typeof value === 'object' && value !== null && !Array.isArray(value)
        ? (value as Record<string, unknown>)
        : { value };
    return { ...entry, data };
  }

  /** Writer state and chain position (for `/readyz`). */
  status(): LedgerStatus {
    const stats = this.writer?.stats;
    return {
      state: this.state,
      path: this.path,
      lastSeq: stats?.lastSeq ?? 0,
      syncedSeq: stats?.syncedSeq ?? 0,
      lastError: this.lastError,
    };
  }

  /** Waits until every accepted entry is on disk (at most `timeoutMs`); never rejects. */
  async flush(timeoutMs = READ_FLUSH_TIMEOUT_MS): Promise<void> {
    const writer = this.writer;
    if (writer === null || this.state !== 'up') return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((done) => (timer = setTimeout(done, timeoutMs)));
    await Promise.race([writer.flush().catch(noop), timeout]);
    clearTimeout(timer);
  }

  /**
   * Verifies the whole ledger (rotated files included; checkpoint signatures, and a checkpoint at least every
   * `ORCH_LEDGER_CHECKPOINT_EVERY` entries, with the configured key). The ledger must reach and match the running
   * writer's own durable position (so entries removed while it runs show at once), or the head file when the writer is
   * down. Concurrent calls share one run.
   */
  verify(): Promise<VerifyResult> {
    this.verifying ??= this.runVerify().finally(() => (this.verifying = null));
    return this.verifying;
  }

  /** One page of entries for `GET /admin/audit` (written entries only: pending ones are flushed first). */
  async page(query: AuditQuery): Promise<AuditPage & { lastSeq: number }> {
    await this.flush();
    const page = await readAuditPage(this.path, query);
    return { ...page, lastSeq: this.writer?.stats.syncedSeq ?? 0 };
  }

  /**
   * Plans an export of `range` for `GET /admin/ledger/export` (written entries only: pending ones are flushed
   * first), with the head file when the range reaches it.
   * @throws LedgerExportError when the range is empty, too large or a line in the way is not an entry
   */
  async exportPlan(range: LedgerExportRange): Promise<LedgerExportPlan> {
    await this.flush();
    return planLedgerExport(this.path, range, { headPath: resolve(this.config.ledger.headPath) });
  }

  private async runVerify(): Promise<VerifyResult> {
    await this.flush();
    const result = await verifyLedger(this.path, this.verifyOptions());
    // The writer goes on appending (and may rotate) while the files are read: a batch half-written when the last line
    // was read, or a file renamed after the directory was listed, looks like damage. Verify again once; real damage
    // is found again.
    if (!result.ok) {
      await this.flush();
      return verifyLedger(this.path, this.verifyOptions());
    }
    return result;
  }

  /** The key and interval, and the head: the writer's durable position while it is up, else the head file. */
  private verifyOptions(): VerifyOptions {
    const { ledger } = this.config;
    const stats = this.state === 'up' ? this.writer?.stats : undefined;
    return {
      ...(this.verificationKey === undefined ? {} : { key: this.verificationKey }),
      checkpointEvery: ledger.checkpointEvery,
      // The writer's own file is a ledger, whatever its first line looks like (never verified as an export alone).
      asLedger: true,
      headPath: resolve(ledger.headPath),
      ...(stats === undefined ? {} : { expectHead: { seq: stats.syncedSeq, hash: stats.syncedHash } }),
    };
  }

  /**
   * Opens the writer, at start-up and on every reopen: a head file gone since the last open is refused the same way
   * (the writer itself never removes it), before the writer changes anything.
   */
  private async openWriter(): Promise<LedgerWriter> {
    await refuseLostHead(this.path, { ...this.config.ledger, key: this.verificationKey }, (line) =>
      this.logger.warn(line),
    );
    return LedgerWriter.open(this.writerOptions());
  }

  private writerOptions(): LedgerWriterOptions {
    const { ledger } = this.config;
    return {
      path: this.path,
      service: LEDGER_SERVICE_NAME,
      batchMaxEntries: ledger.batchMaxEntries,
      batchIntervalMs: ledger.flushIntervalMs,
      rotateBytes: ledger.rotateBytes,
      signingKey: ledger.signingKey,
      checkpointEvery: ledger.checkpointEvery,
      headPath: resolve(ledger.headPath),
      onError: (error) => this.failed(error),
    };
  }

  /** Hands one guarded entry to the writer, or keeps or counts it when the writer cannot take it. */
  private append(entry: GuardedEntry): void {
    switch (this.state) {
      case 'up':
        break;
      case 'opening':
        if (this.bootBuffer.length < BOOT_BUFFER_MAX) this.bootBuffer.push(entry);
        else this.countLost(entry.type);
        return;
      case 'down':
        this.countLost(entry.type);
        return;
      case 'closed':
        this.metrics.error('dropped');
        this.logger.warn({ event: 'ledger_closed_event_dropped', type: entry.type });
        return;
      default: {
        const never: never = this.state;
        throw new Error(`unknown ledger state ${String(never)}`);
      }
    }
    try {
      this.enqueue(entry);
    } catch (error) {
      if (error instanceof LedgerError && error.code === 'invalid_value') {
        // Data without an exact JSON form is written with those values replaced (the retry needs none replaced).
        const sanitised = this.sanitised(entry);
        if (sanitised === null) this.invalid(entry.type, error);
        else this.append(sanitised);
      } else {
        if (this.state === 'up') this.failed(error);
        this.countLost(entry.type);
      }
    }
  }

  private enqueue(entry: GuardedEntry): void {
    const seq = this.writer?.enqueue(entry);
    if (seq !== undefined && this.entries.size > 0) this.accepted(entry, seq);
  }

  private accepted(entry: GuardedEntry, seq: number): void {
    this.entries.emit({ ...entry, seq, hash: this.writer?.stats.lastHash ?? '', ts: new Date().toISOString() });
  }

  private invalid(type: string, error: unknown): void {
    this.metrics.error('invalid');
    this.logger.error({ event: 'ledger_event_invalid', type, error: (error as Error).message });
  }

  private countLost(type: string): void {
    this.lost.set(type, (this.lost.get(type) ?? 0) + 1);
    this.metrics.error('dropped');
  }

  /** The writer stopped (fail-stop): mark down, and try again later. */
  private failed(error: unknown): void {
    if (this.state !== 'up') return;
    this.state = 'down';
    this.lastError = error instanceof Error ? error.message : String(error);
    this.lostSince = Date.now();
    const stats = this.writer?.stats;
    this.lostUnsynced = stats === undefined ? 0 : stats.lastSeq - stats.syncedSeq;
    this.metrics.error('write');
    this.metrics.setUp(false);
    this.logger.error({
      event: 'ledger_write_failed',
      path: this.path,
      error: this.lastError,
      unsyncedEntries: this.lostUnsynced,
      retryInMs: this.reopenDelayMs,
    });
    this.scheduleReopen();
  }

  private scheduleReopen(): void {
    clearTimeout(this.reopenTimer);
    this.reopenTimer = setTimeout(() => void this.reopen(), this.reopenDelayMs);
    this.reopenTimer.unref();
    this.reopenDelayMs = Math.min(this.reopenDelayMs * 2, REOPEN_MAX_MS);
  }

  private async reopen(): Promise<void> {
    if (this.state !== 'down') return;
    const old = this.writer;
    this.writer = null;
    await old?.close().catch(noop);
    let writer: LedgerWriter;
    try {
      writer = await this.openWriter();
    } catch (error) {
      this.lastError = error instanceof Error ? error.message : String(error);
      this.logger.error({ event: 'ledger_reopen_failed', path: this.path, error: this.lastError });
      if (this.state === 'down') this.scheduleReopen();
      return;
    }
    if (this.state !== 'down') {
      await writer.close().catch(noop);
      return;
    }
    this.writer = writer;
    this.state = 'up';
    this.metrics.setUp(true);
    const counts = Object.fromEntries([...this.lost].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    this.lost = new Map();
    this.append({
      type: EVENTS_LOST_TYPE,
      corrId: null,
      data: {
        from: new Date(this.lostSince).toISOString(),
        to: new Date().toISOString(),
        counts,
        unsyncedEntries: this.lostUnsynced,
        error: this.lastError,
      },
    });
    this.logger.log({ event: 'ledger_reopened', path: this.path, lastSeq: writer.stats.lastSeq, lost: counts });
    // Stay at the current back-off until a batch has really been written, so a disk that fails every write is retried
    // at most every 30 s.
    void writer.flush().then(() => (this.reopenDelayMs = REOPEN_FIRST_MS), noop);
  }
}
