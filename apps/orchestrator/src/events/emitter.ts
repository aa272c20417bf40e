/**
 * One typed event channel, used wherever a service tells others that something happened (pool changes, breaker
 * transitions, policy and TLS reloads, probes, security events). Listeners subscribe with {@link on} and get their
 * unsubscribe back; {@link emit} calls them in subscription order. A listener that throws is reported to `onError`
 * and never keeps the others from hearing the event, nor reaches the code that emitted it. The list is replaced, not
 * mutated, on (un)subscribe, so a listener may unsubscribe while an event is being delivered.
 */
export class Emitter<E> {
  private listeners: readonly ((event: E) => void)[] = [];

  constructor(private readonly onError: (error: unknown, event: E) => void) {}

  /** How many listeners are subscribed (emitters on hot paths skip building an event nobody hears). */
  get size(): number {
    return this.listeners.length;
  }

  /** Calls `listener` with every event emitted from now on; returns the unsubscribe. */
  on(listener: (event: E) => void): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  /** Delivers `event` to every listener. */
  emit(event: E): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.onError(error, event);
      }
    }
  }

  /** Drops every listener (on shutdown). */
  clear(): void {
    this.listeners = [];
  }
}
