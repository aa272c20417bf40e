import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import {
  LedgerError,
  LedgerWriter,
  type LedgerWriterOptions,
  verificationKeyFor,
  type VerificationKey,
  verifyLedger,
  type VerifyResult,
} from '@shieldx/ledger';
import { resolve } from 'node:path';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import { currentCorrId } from '../logging/request-context';
import { readAuditPage, type AuditPage, type AuditQuery } from './audit-reader';
import { EventGuard, type GuardedEntry, unrefTimers } from './event-guard';
import { acquireLedgerLock } from './ledger-lock';
import { LedgerMetrics } from './ledger-metrics';

/** `service` of every entry this process writes. */
export const LEDGER_SERVICE_NAME = 'orchestrator';
/** Entry written once the ledger is open: the process (re)started and from where the chain continues. */
export const STARTED_TYPE = 'audit.started';
/** Entry written on a clean shutdown. */
export const STOPPED_TYPE = 'audit.stopped';
/** Entry written when the ledger is back after a failure: what was lost while it was down. */
export const EVENTS_LOST_TYPE = 'audit.events_lost';

/** Events kept while the ledger is opening at boot; more are counted as lost. */
const BOOT_BUFFER_MAX = 10_000;
/** Reopen attempts after a failure: first after this, doubling, at most {@link REOPEN_MAX_MS}. */
const REOPEN_FIRST_MS = 1000;
const REOPEN_MAX_MS = 30_000;
/** Longest wait for a flush before reading the files for the admin API. */
const READ_FLUSH_TIMEOUT_MS = 2000;

/** What `/readyz` and `GET /admin/ledger/verify` say about the writer. */
export interface LedgerStatus {
  readonly state: 'opening' | 'up' | 'down' | 'closed';
  readonly path: string;
  readonly lastSeq: number;
  readonly syncedSeq: number;
  readonly lastError: string | null;
}

/** A security event as the ledger takes it. */
export interface LedgerEvent {
  readonly type: string;
  readonly corrId?: string | null;
  readonly data: Readonly<Record<string, unknown>>;
}

/** An entry as accepted into this process's chain: what mirrors (the cluster's audit stream) receive. */
export interface AcceptedLedgerEntry extends GuardedEntry {
  readonly seq: number;
  /** The entry's hash in this process's chain. */
  readonly hash: string;
  /** When it was accepted (ISO-8601). */
  readonly ts: string;
}

const noop = (): void => undefined;

/** The audit ledger could not be opened at start-up: a bad `ORCH_LEDGER_PATH`, or another process holds it. */
export class LedgerOpenError extends Error {
  constructor(
    readonly path: string,
    cause: unknown,
  ) {
    super(
      `cannot open the audit ledger ${path} (ORCH_LEDGER_PATH): ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
    this.name = 'LedgerOpenError';
  }
}

/**
 * The orchestrator's audit ledger (contract "Audit ledger"): opens the `@shieldx/ledger` writer at
 * `ORCH_LEDGER_PATH` when the app starts (creating the directory; a ledger that cannot be opened, is corrupt, or is
 * in use by another process — `<path>.lock` — stops start-up), takes security events through an {@link EventGuard} (aggregation and a per-type cap), and flushes
 * and closes on shutdown.
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
  private entryListeners: ((entry: AcceptedLedgerEntry) => void)[] = [];

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
      this.writer = await LedgerWriter.open(this.writerOptions());
    } catch (error) {
      this.state = 'down';
      await this.releaseLock?.().catch(noop);
      this.releaseLock = null;
      throw new LedgerOpenError(this.path, error);
    }
    const { recovery } = this.writer;
    if (recovery !== null) this.logger.warn({ event: 'ledger_recovered', path: this.path, ...recovery });
    this.state = 'up';
    this.metrics.setUp(true);
    this.append({
      type: STARTED_TYPE,
      corrId: null,
      data: { pid: process.pid, resumedAfterSeq: this.writer.stats.lastSeq, recovered: recovery !== null },
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
    try {
      this.guard.offer({ type: event.type, corrId: event.corrId ?? currentCorrId() ?? null, data: event.data });
    } catch (error) {
      this.invalid(event.type, error);
    }
  }

  /**
   * Calls `listener` with every entry the writer accepts (seq and hash of this chain), after it was queued for the
   * disk. A throwing listener is logged and ignored. Returns an unsubscribe.
   */
  onEntry(listener: (entry: AcceptedLedgerEntry) => void): () => void {
    this.entryListeners = [...this.entryListeners, listener];
    return () => {
      this.entryListeners = this.entryListeners.filter((l) => l !== listener);
    };
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
   * Verifies the whole ledger (rotated files included; checkpoint signatures with the configured key). Concurrent
   * calls share one run.
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

  private async runVerify(): Promise<VerifyResult> {
    await this.flush();
    const options = this.verificationKey === undefined ? {} : { key: this.verificationKey };
    const rotations = this.writer?.stats.rotations;
    const result = await verifyLedger(this.path, options);
    // The writer goes on appending (and may rotate) while the files are read: a batch half-written when the last line
    // was read, or a file renamed after the directory was listed, looks like damage. Verify again once; real damage
    // is found again.
    if (!result.ok && (result.file === this.path || this.writer?.stats.rotations !== rotations)) {
      await this.flush();
      return verifyLedger(this.path, options);
    }
    return result;
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
      const seq = this.writer?.enqueue(entry);
      if (seq !== undefined && this.entryListeners.length > 0) this.accepted(entry, seq);
    } catch (error) {
      if (error instanceof LedgerError && error.code === 'invalid_value') this.invalid(entry.type, error);
      else {
        if (this.state === 'up') this.failed(error);
        this.countLost(entry.type);
      }
    }
  }

  private accepted(entry: GuardedEntry, seq: number): void {
    const accepted: AcceptedLedgerEntry = {
      ...entry,
      seq,
      hash: this.writer?.stats.lastHash ?? '',
      ts: new Date().toISOString(),
    };
    for (const listener of this.entryListeners) {
      try {
        listener(accepted);
      } catch (error) {
        this.logger.error({ event: 'ledger_listener_failed', type: entry.type, err: error });
      }
    }
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
      writer = await LedgerWriter.open(this.writerOptions());
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
