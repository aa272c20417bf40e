/** Limits of a {@link ConnectionGate}. */
export interface ConnectionGateLimits {
  /** Proxied requests in flight per backend at once (ORCH_PROXY_MAX_CONNECTIONS: one connection each). */
  readonly capacity: number;
  /** Of those, the most one client may hold, queued ones included (ORCH_PROXY_CLIENT_SHARE × capacity, at least 1). */
  readonly perClient: number;
  /** Longest wait for a free slot, ms (ORCH_PROXY_QUEUE_TIMEOUT). */
  readonly queueTimeoutMs: number;
}

/**
 * How {@link ConnectionGate.enter} answered: `admitted` = a slot is taken, send now and then call `leave`; `full` =
 * every slot is taken, call `wait` (the client's place is already counted); `over_share` = the client already holds
 * its share of this backend, refuse (and do not call `leave`).
 */
export type Entry = 'admitted' | 'full' | 'over_share';

/** A place in a backend's queue. */
export interface Waiting {
  /** True once a slot is handed over (then call `leave`), false when the wait timed out or was cancelled. */
  readonly admitted: Promise<boolean>;
  /** Gives up the place (the client left); `admitted` then resolves false. A bound function: pass it as a listener. */
  readonly cancel: () => void;
}

interface Waiter {
  resolve: (admitted: boolean) => void;
  timer: NodeJS.Timeout;
  client: string;
}

interface BackendSlots {
  inUse: number;
  /** FIFO; a Set so a timed-out or cancelled waiter leaves in O(1). */
  readonly waiters: Set<Waiter>;
  /** Slots held or awaited per client IP; an entry is deleted when it drops to 0. */
  readonly clients: Map<string, number>;
}

/**
 * Admission of proxied requests to each backend, in front of its undici pool: at most `capacity` in flight (so a
 * request never waits inside undici's queue, where nothing times it out), a FIFO queue beyond that whose waits end
 * after `queueTimeoutMs`, and at most `perClient` slots held or awaited by one client IP, so a few clients cannot
 * take all of a backend's connections. Slots are per backend URL, like the undici pools.
 */
export class ConnectionGate {
  private readonly backends = new Map<string, BackendSlots>();

  /**
   * `defer` resumes the request a slot was handed to (default `setImmediate`): undici makes a keep-alive connection
   * reusable only in a `setImmediate` of its own once a response ends, and a request sent sooner opens another one.
   */
  constructor(
    readonly limits: ConnectionGateLimits,
    private readonly defer: (run: () => void) => void = setImmediate,
  ) {}

  /** Asks for a slot on `backend` for `client`; see {@link Entry}. */
  enter(backend: string, client: string): Entry {
    let slots = this.backends.get(backend);
    if (slots === undefined) {
      slots = { inUse: 0, waiters: new Set(), clients: new Map() };
      this.backends.set(backend, slots);
    }
    const held = slots.clients.get(client) ?? 0;
    if (held >= this.limits.perClient) return 'over_share';
    slots.clients.set(client, held + 1);
    if (slots.inUse < this.limits.capacity) {
      slots.inUse++;
      return 'admitted';
    }
    return 'full';
  }

  /** After `full`: waits in `backend`'s queue for a slot, at most `queueTimeoutMs`. */
  wait(backend: string, client: string): Waiting {
    const slots = this.backends.get(backend) as BackendSlots;
    let waiter!: Waiter;
    const admitted = new Promise<boolean>((resolve) => {
      waiter = { resolve, timer: setTimeout(() => this.giveUp(slots, waiter), this.limits.queueTimeoutMs), client };
    });
    slots.waiters.add(waiter);
    return { admitted, cancel: () => this.giveUp(slots, waiter) };
  }

  /** Gives back the slot `client` held on `backend` (after `admitted` or a successful wait). */
  leave(backend: string, client: string): void {
    const slots = this.backends.get(backend);
    if (slots === undefined) return;
    this.forget(slots, client);
    if (slots.waiters.size === 0) {
      slots.inUse--;
      return;
    }
    // The slot passes to the longest waiter; `inUse` does not change.
    const next = slots.waiters.values().next().value as Waiter;
    slots.waiters.delete(next);
    clearTimeout(next.timer);
    this.defer(() => next.resolve(true));
  }

  /** Slots in use and waiting on `backend`, and what `client` holds there (for tests and diagnostics). */
  usage(backend: string, client?: string): { inUse: number; waiting: number; client: number } {
    const slots = this.backends.get(backend);
    return {
      inUse: slots?.inUse ?? 0,
      waiting: slots?.waiters.size ?? 0,
      client: client === undefined ? 0 : (slots?.clients.get(client) ?? 0),
    };
  }

  private giveUp(slots: BackendSlots, waiter: Waiter): void {
    if (!slots.waiters.delete(waiter)) return;
    clearTimeout(waiter.timer);
    this.forget(slots, waiter.client);
    waiter.resolve(false);
  }

  private forget(slots: BackendSlots, client: string): void {
    const held = slots.clients.get(client) ?? 0;
    if (held <= 1) slots.clients.delete(client);
    else slots.clients.set(client, held - 1);
  }
}
