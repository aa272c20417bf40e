import type { FailureMode } from './failover-bucket-store';
import { MemoryReplayStore, ReplayCapacityError, type ReplayStore } from './replay-store';

/** Thrown (or rejected with) by a fail-closed {@link FailoverReplayStore} when its shared store fails. */
export class ReplayStoreUnavailableError extends Error {
  constructor(readonly reason: string) {
    super(`replay store unavailable: ${reason}`);
    this.name = 'ReplayStoreUnavailableError';
  }
}

/** Options of {@link FailoverReplayStore}. */
export interface FailoverReplayStoreOptions {
  /**
   * When the shared store fails: `closed` (default) rejects the check with {@link ReplayStoreUnavailableError}, so the
   * proof is refused; `open` answers from the in-process store, which sees every key this instance was asked about
   * (replays to the same instance are still refused; replays across instances are not, until Redis is back).
   */
  readonly mode?: FailureMode;
  /**
   * In-process store kept beside the shared one in `open` mode (bounded, with a share per client). Default: a new
   * {@link MemoryReplayStore} with its defaults.
   */
  readonly local?: MemoryReplayStore;
  /** Called on every failure of the shared store (a metric, a rate-limited log line). */
  readonly onError?: (error: unknown) => void;
}

/**
 * A {@link ReplayStore} in front of a shared one (Redis) with a defined answer when it fails. Each check goes to the
 * shared store (bounded by the client's own timeout; with no offline queue a disconnected client fails at once, so
 * there is no separate "down" state to track: the first check after Redis returns uses it again). In `open` mode
 * every key is also recorded in-process, so that during an outage this instance still refuses what it saw before.
 */
export class FailoverReplayStore implements ReplayStore {
  readonly mode: FailureMode;
  private readonly local: MemoryReplayStore | undefined;
  private readonly onError: (error: unknown) => void;

  constructor(
    private readonly shared: ReplayStore,
    options: FailoverReplayStoreOptions = {},
  ) {
    this.mode = options.mode ?? 'closed';
    if (this.mode !== 'open' && this.mode !== 'closed') {
      throw new Error(`FailoverReplayStore: mode must be 'open' or 'closed', got ${String(this.mode)}`);
    }
    this.local = this.mode === 'open' ? (options.local ?? new MemoryReplayStore()) : undefined;
    this.onError = options.onError ?? (() => undefined);
  }

  firstSeen(key: string, ttlMs: number, now: number, client?: string): boolean | Promise<boolean> {
    // The local record is asked first and may refuse for capacity; that only matters if the shared store fails.
    let locally: boolean | ReplayCapacityError | undefined;
    if (this.local !== undefined) {
      try {
        locally = this.local.firstSeen(key, ttlMs, now, client);
      } catch (error) {
        if (!(error instanceof ReplayCapacityError)) throw error;
        locally = error;
      }
    }
    let outcome: boolean | Promise<boolean>;
    try {
      outcome = this.shared.firstSeen(key, ttlMs, now, client);
    } catch (error) {
      return this.failed(error, locally);
    }
    if (typeof outcome === 'boolean') return outcome;
    return outcome.catch((error: unknown) => this.failed(error, locally));
  }

  private failed(error: unknown, locally: boolean | ReplayCapacityError | undefined): boolean {
    this.onError(error);
    if (locally === undefined)
      throw new ReplayStoreUnavailableError(error instanceof Error ? error.message : String(error));
    if (locally instanceof ReplayCapacityError) throw locally;
    return locally;
  }
}
