import { Breaker, type BreakerStateName } from '@shieldx/lb';
import type { Dispatcher } from 'undici';
import { Agent } from '../upstream/undici';

/** The external advisors: the threat-score service and the quota service. */
export type AdvisorName = 'threat' | 'quota';

/** How a call failed: over its time budget, the connection failed, a non-200 answer, an answer we cannot read, or
 * not even tried because the breaker is open. */
export type AdvisorFailure = 'timeout' | 'error' | 'status' | 'invalid' | 'breaker_open';

/** A call that did not produce an answer (the caller applies its fail mode). */
export class AdvisorCallError extends Error {
  override readonly name = 'AdvisorCallError';
  constructor(
    readonly failure: AdvisorFailure,
    message: string,
  ) {
    super(message);
  }
}

/** What an advisor client reports, for metrics: every call's outcome and latency, and breaker changes. */
export interface AdvisorObserver {
  call(advisor: AdvisorName, outcome: 'ok' | AdvisorFailure, seconds: number | undefined): void;
  breaker(advisor: AdvisorName, open: boolean): void;
}

/** Options of an {@link AdvisorClient}. */
export interface AdvisorClientOptions {
  readonly name: AdvisorName;
  readonly timeoutMs: number;
  readonly breakerFails: number;
  readonly breakerOpenForMs: number;
  readonly observer: AdvisorObserver;
}

/** Largest answer read from an advisor; a longer one is not an answer. */
const MAX_ANSWER_BYTES = 64 * 1024;
/** Longest open period of an advisor's breaker. */
const MAX_OPEN_FOR_MS = 60_000;

/**
 * One external advisor reached over HTTP with the discipline every dependency on the request path needs: a time budget
 * per call (connection, answer and body together), a consecutive-failure breaker that makes calls fail at once while
 * the service is down (one trial after the open period, which doubles after each failed trial), and keep-alive
 * connections of its own. Calls never throw anything but {@link AdvisorCallError}.
 */
export class AdvisorClient {
  private readonly breaker: Breaker;
  private readonly dispatcher: Dispatcher;

  constructor(private readonly options: AdvisorClientOptions) {
    this.breaker = new Breaker({
      failureThreshold: options.breakerFails,
      openForMs: options.breakerOpenForMs,
      maxOpenForMs: Math.max(options.breakerOpenForMs, MAX_OPEN_FOR_MS),
      trialTimeoutMs: Math.max(options.timeoutMs * 2, 1000),
    });
    this.breaker.onStateChange((event) => options.observer.breaker(options.name, event.to === 'open'));
    this.dispatcher = new Agent({ keepAliveTimeout: 30_000, connections: 64, pipelining: 1 });
  }

  /** The breaker's state now (for the admin API). */
  get breakerState(): BreakerStateName {
    return this.breaker.stateName;
  }

  /**
   * Sends one request and returns `read` of the JSON answer of a 200; anything else — `read` throwing included (an
   * answer of the wrong shape) — is an {@link AdvisorCallError} and a failure for the breaker.
   */
  async call<T>(url: string, method: 'GET' | 'POST', body: string | undefined, read: (json: unknown) => T): Promise<T> {
    const { name, observer, timeoutMs } = this.options;
    if (!this.breaker.allow()) {
      observer.call(name, 'breaker_open', undefined);
      throw new AdvisorCallError('breaker_open', `the ${name} service's breaker is open`);
    }
    const started = performance.now();
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    try {
      const json = await this.exchange(url, method, body, abort.signal);
      let answer: T;
      try {
        answer = read(json);
      } catch (error) {
        throw new AdvisorCallError('invalid', `the ${name} service's answer is malformed: ${describe(error)}`);
      }
      this.breaker.success();
      observer.call(name, 'ok', (performance.now() - started) / 1000);
      return answer;
    } catch (caught) {
      const error =
        caught instanceof AdvisorCallError
          ? caught
          : abort.signal.aborted
            ? new AdvisorCallError('timeout', `the ${name} service did not answer within ${timeoutMs} ms`)
            : new AdvisorCallError('error', `the ${name} service could not be reached: ${describe(caught)}`);
      this.breaker.failure();
      observer.call(name, error.failure, (performance.now() - started) / 1000);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the client's connections. */
  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  private async exchange(url: string, method: 'GET' | 'POST', body: string | undefined, signal: AbortSignal) {
    const target = new URL(url);
    const response = await this.dispatcher.request({
      origin: target.origin,
      path: `${target.pathname}${target.search}`,
      method,
      body,
      headers: body === undefined ? { accept: 'application/json' } : { 'content-type': 'application/json' },
      signal,
    });
    let size = 0;
    const chunks: Buffer[] = [];
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_ANSWER_BYTES) {
        response.body.destroy();
        throw new AdvisorCallError('invalid', `the ${this.options.name} service answered more than 64 KiB`);
      }
      chunks.push(chunk);
    }
    if (response.statusCode !== 200) {
      throw new AdvisorCallError('status', `the ${this.options.name} service answered ${response.statusCode}`);
    }
    try {
      return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    } catch {
      throw new AdvisorCallError('invalid', `the ${this.options.name} service answered something other than JSON`);
    }
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return (error as NodeJS.ErrnoException).code ?? error.message;
  return String(error);
}

/**
 * The client of an advisor configured with `url` (undefined when it is not): its own time budget, the breaker settings
 * shared by every advisor.
 */
export function advisorClient(
  name: AdvisorName,
  advisor: { readonly url?: string; readonly timeoutMs: number },
  breaker: { readonly breakerFails: number; readonly breakerOpenForMs: number },
  observer: AdvisorObserver,
): AdvisorClient | undefined {
  if (advisor.url === undefined) return undefined;
  return new AdvisorClient({ name, timeoutMs: advisor.timeoutMs, ...breaker, observer });
}
