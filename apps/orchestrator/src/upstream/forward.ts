import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { downstreamResponseHeaders } from './headers';

/** How one attempt to forward a request ended. Times are milliseconds. */
export type ForwardResult =
  /** The backend answered and the whole answer was streamed to the client. */
  | { readonly kind: 'done'; readonly status: number; readonly headersMs: number }
  /** The backend answered with a status the caller chose to retry; nothing was sent to the client. */
  | { readonly kind: 'retry_status'; readonly status: number; readonly headersMs: number }
  /** The attempt failed. `responded` says whether the client already got the response head. */
  | { readonly kind: 'error'; readonly error: Error; readonly responded: boolean; readonly headersMs: number | null };

/** One attempt's request. */
export interface ForwardRequest {
  readonly method: string;
  /** Path and query on the backend. */
  readonly path: string;
  readonly headers: Record<string, string | string[]>;
  /** The client's body stream, or null when there is none. */
  readonly body: Readable | null;
  /** Statuses that, when retries remain, are not sent to the client but reported as `retry_status`. */
  readonly retryOn: ReadonlySet<number> | undefined;
  /** Called with the backend's response head; returns the headers to send (the proxy adds its own). */
  readonly head: (status: number, headers: OutgoingHttpHeaders) => OutgoingHttpHeaders;
  /** Longest time the client may leave the response unread (its socket full) before both sides are cut, ms. */
  readonly stallMs: number;
}

class ClientGone extends Error {
  constructor(message = 'the client went away') {
    super(message);
    this.name = 'ClientGone';
  }
}

/** The client stopped reading: its connection was cut and the upstream request aborted. */
class ClientStalled extends ClientGone {
  constructor(stallMs: number) {
    super(`the client read nothing of the response for ${stallMs} ms`);
    this.name = 'ClientStalled';
  }
}

/** Error thrown into undici to abandon a response whose status will be retried elsewhere. */
class RetryElsewhere extends Error {}

/**
 * Forwards one request through an undici dispatcher and streams the answer straight into the client's response:
 * response chunks are written as they arrive, the upstream is paused while the client's socket is full
 * (backpressure), and a client that goes away aborts the upstream request. A client that keeps its socket full for
 * `stallMs` (it stopped reading) has its connection cut and the upstream request aborted, which frees the backend's
 * connection: undici never times out a body it was told to pause. Resolves once; never rejects.
 */
export function forward(
  dispatcher: Dispatcher,
  request: ForwardRequest,
  res: ServerResponse,
  started: number,
): Promise<ForwardResult> {
  return new Promise<ForwardResult>((resolve) => {
    let settled = false;
    let ended = false;
    let headersMs: number | null = null;
    let controller: Dispatcher.DispatchController | undefined;
    let status = 0;
    // Since when the client's socket has been full (-1: it is not); one timer per stall, re-armed only if a drain
    // and a new stall happened while it ran, so a fast client with frequent short stalls costs no timer churn.
    let stalledSince = -1;
    let stallTimer: NodeJS.Timeout | undefined;
    const settle = (result: ForwardResult): void => {
      if (settled) return;
      settled = true;
      res.off('close', onClientClose);
      if (stallTimer !== undefined) {
        // The backend is done and its connection free; a client still not reading the tail is cut by the same rule.
        if (ended && stalledSince >= 0) res.once('close', stopStallTimer);
        else stopStallTimer();
      }
      resolve(result);
    };
    const stopStallTimer = (): void => {
      clearTimeout(stallTimer);
      stallTimer = undefined;
    };
    const onClientClose = (): void => {
      if (!res.writableFinished) controller?.abort(new ClientGone());
    };
    const onDrain = (): void => {
      stalledSince = -1;
      if (!ended) controller?.resume();
    };
    const checkStall = (): void => {
      stallTimer = undefined;
      if (stalledSince < 0 || res.destroyed || res.writableFinished) return;
      const left = stalledSince + request.stallMs - performance.now();
      if (left > 0) {
        stallTimer = setTimeout(checkStall, left);
        return;
      }
      if (!ended) controller?.abort(new ClientStalled(request.stallMs));
      res.destroy();
    };
    res.on('close', onClientClose);

    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(ctl) {
        controller = ctl;
        if (res.destroyed) ctl.abort(new ClientGone());
      },
      onResponseStart(ctl, statusCode, headers: IncomingHttpHeaders) {
        if (statusCode < 200) return;
        status = statusCode;
        headersMs = performance.now() - started;
        if (request.retryOn?.has(statusCode) === true) {
          settle({ kind: 'retry_status', status: statusCode, headersMs });
          ctl.abort(new RetryElsewhere());
          return;
        }
        res.writeHead(statusCode, request.head(statusCode, downstreamResponseHeaders(headers)));
      },
      onResponseData(ctl, chunk) {
        if (res.write(chunk) || stalledSince >= 0) return;
        ctl.pause();
        stalledSince = performance.now();
        res.once('drain', onDrain);
        stallTimer ??= setTimeout(checkStall, request.stallMs);
      },
      onResponseEnd() {
        ended = true;
        res.end();
        settle({ kind: 'done', status, headersMs: headersMs ?? performance.now() - started });
      },
      onResponseError(_ctl, error) {
        if (error instanceof RetryElsewhere) return;
        // A client that left while its body was still streaming may surface as the body's own error: not the backend's.
        const gone = !(error instanceof ClientGone) && res.destroyed && !res.writableFinished;
        settle({ kind: 'error', error: gone ? new ClientGone() : error, responded: res.headersSent, headersMs });
      },
    };
    try {
      dispatcher.dispatch(
        { path: request.path, method: request.method, headers: request.headers, body: request.body, blocking: false },
        handler,
      );
    } catch (error) {
      settle({ kind: 'error', error: error as Error, responded: false, headersMs: null });
    }
  });
}

/** The error's code (`ECONNREFUSED`, `UND_ERR_HEADERS_TIMEOUT`, …), or its name when it has none. */
export function errorCode(error: Error): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : error.name;
}

/** True when the error means the client left or was cut for not reading (nothing to answer, no backend to blame). */
export function isClientGone(error: Error): boolean {
  return error instanceof ClientGone;
}

/** True when the client was cut for leaving the response unread longer than allowed. */
export function isClientStalled(error: Error): boolean {
  return error instanceof ClientStalled;
}
