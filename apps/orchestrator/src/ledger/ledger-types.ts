import { LedgerHeadError } from '@shieldx/ledger';
import type { GuardedEntry } from './event-guard';

/** `service` of every entry this process writes. */
export const LEDGER_SERVICE_NAME = 'orchestrator';
/** Entry written once the ledger is open: the process (re)started and from where the chain continues. */
export const STARTED_TYPE = 'audit.started';
/** Entry written on a clean shutdown. */
export const STOPPED_TYPE = 'audit.stopped';
/** Entry written when the ledger is back after a failure: what was lost while it was down. */
export const EVENTS_LOST_TYPE = 'audit.events_lost';

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

/**
 * The audit ledger could not be opened at start-up: a bad `ORCH_LEDGER_PATH`, another process holds it, or it does
 * not match the head witnessed in `ORCH_LEDGER_HEAD_PATH` (its newest entries removed or changed).
 */
export class LedgerOpenError extends Error {
  constructor(
    readonly path: string,
    cause: unknown,
  ) {
    super(
      cause instanceof LedgerHeadError
        ? `refusing to open the audit ledger ${path}: it does not match its head (ORCH_LEDGER_HEAD_PATH): ${cause.message}`
        : `cannot open the audit ledger ${path} (ORCH_LEDGER_PATH): ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
    this.name = 'LedgerOpenError';
  }
}
