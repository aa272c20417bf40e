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
}

class ClientGone extends Error {
  constructor() {
    super('the client went away');
    this.name = 'ClientGone';
  }
}

/** Error thrown into undici to abandon a response whose status will be retried elsewhere. */
class RetryElsewhere extends Error {}

/**
 * Forwards one request through an undici dispatcher and streams the answer straight into the client's response:
 * response chunks are written as they arrive, the upstream is paused while the client's socket is full
 * (backpressure), and a client that goes away aborts the upstream request. Resolves once; never rejects.
 */
export function forward(
  dispatcher: Dispatcher,
  request: ForwardRequest,
  res: ServerResponse,
  started: number,
): Promise<ForwardResult> {
  return new Promise<ForwardResult>((resolve) => {
    let settled = false;
    let headersMs: number | null = null;
    let controller: Dispatcher.DispatchController | undefined;
    let status = 0;
    const settle = (result: ForwardResult): void => {
      if (settled) return;
      settled = true;
      res.off('close', onClientClose);
      resolve(result);
    };
    const onClientClose = (): void => {
      if (!res.writableFinished) controller?.abort(new ClientGone());
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
        if (!res.write(chunk)) {
          ctl.pause();
          res.once('drain', () => ctl.resume());
        }
      },
      onResponseEnd() {
        res.end();
        settle({ kind: 'done', status, headersMs: headersMs ?? performance.now() - started });
      },
      onResponseError(_ctl, error) {
        if (error instanceof RetryElsewhere) return;
        settle({ kind: 'error', error, responded: res.headersSent, headersMs });
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

/** True when the error means the client left (nothing to answer). */
export function isClientGone(error: Error): boolean {
  return error instanceof ClientGone;
}
