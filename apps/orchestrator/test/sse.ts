/** One server-sent event as a client sees it. */
export interface ReceivedEvent {
  readonly event: string;
  readonly data: unknown;
  /** `performance.now()` when it was parsed. */
  readonly receivedAt: number;
}

/**
 * A server-sent-events client over `fetch` streaming, for e2e tests: parses `event:`/`data:` blocks, ignores
 * comments, and lets a test wait for the first event matching a predicate (events already received count).
 */
export class EventStreamReader {
  readonly received: ReceivedEvent[] = [];
  private waiters: { match: (e: ReceivedEvent) => boolean; resolve: (e: ReceivedEvent) => void }[] = [];
  private buffer = '';
  private ended = false;

  private constructor(
    readonly status: number,
    readonly headers: Headers,
    private readonly abort: AbortController,
    body: ReadableStream<Uint8Array> | null,
  ) {
    if (body !== null) void this.pump(body);
  }

  /** Opens the stream; a non-200 answer is returned with its status and no events. */
  static async open(url: string, headers: Record<string, string> = {}): Promise<EventStreamReader> {
    const abort = new AbortController();
    const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
    if (response.status !== 200) {
      await response.body?.cancel();
      return new EventStreamReader(response.status, response.headers, abort, null);
    }
    return new EventStreamReader(response.status, response.headers, abort, response.body);
  }

  /** Resolves with the first event (received or to come) that matches, or rejects after `timeoutMs`. */
  next(match: (event: ReceivedEvent) => boolean, timeoutMs = 5000): Promise<ReceivedEvent> {
    const found = this.received.find(match);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(
          new Error(`no matching event within ${timeoutMs} ms (got: ${this.received.map((e) => e.event).join(', ')})`),
        );
      }, timeoutMs);
      const waiter = {
        match,
        resolve: (event: ReceivedEvent) => {
          clearTimeout(timer);
          resolve(event);
        },
      };
      this.waiters.push(waiter);
    });
  }

  /** True once the server ended the stream. */
  get done(): boolean {
    return this.ended;
  }

  close(): void {
    this.abort.abort();
  }

  private async pump(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    const reader = body.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        this.buffer += decoder.decode(value, { stream: true });
        let end = this.buffer.indexOf('\n\n');
        while (end !== -1) {
          this.parse(this.buffer.slice(0, end));
          this.buffer = this.buffer.slice(end + 2);
          end = this.buffer.indexOf('\n\n');
        }
      }
    } catch {
      // Aborted by close(), or the connection went away: either way the stream is over.
    } finally {
      this.ended = true;
    }
  }

  private parse(block: string): void {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    if (data.length === 0) return;
    const received: ReceivedEvent = { event, data: JSON.parse(data.join('\n')), receivedAt: performance.now() };
    this.received.push(received);
    for (const waiter of [...this.waiters]) {
      if (waiter.match(received)) {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        waiter.resolve(received);
      }
    }
  }
}
