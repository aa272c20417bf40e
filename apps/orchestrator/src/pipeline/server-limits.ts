import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** Server timeouts and limits (docs/http-api.md, "Server limits"). */
export const SERVER_LIMITS = {
  /** Time allowed to receive a request's headers. */
  requestHeadersTimeoutMs: 10_000,
  /** Time allowed to receive a whole request. */
  requestTimeoutMs: 30_000,
  /**
   * How often Node checks the two limits above (its `connectionsCheckingInterval`, 30 s by default, which cut
   * requests up to 30 s late): a request is cut within this much of its limit.
   */
  connectionsCheckingIntervalMs: 500,
  /** Idle keep-alive connections are closed after this. */
  keepAliveTimeoutMs: 65_000,
  /** Requests served on one keep-alive connection before it is closed (0 = unlimited). */
  maxRequestsPerSocket: 0,
  /** Header section size limit in bytes. */
  maxHeaderBytes: 16_384,
  /** Time allowed for a TLS handshake (Node's default is 120 s). */
  tlsHandshakeTimeoutMs: 10_000,
  /** Open connections beyond this are closed as they arrive (`server.maxConnections`). */
  maxConnections: 10_000,
} as const;

/** Connection-level client errors (before or outside any route), by Node error code: status, code, message. */
const CLIENT_ERRORS: ReadonlyMap<string, readonly [number, string, string]> = new Map([
  [
    'ERR_HTTP_REQUEST_TIMEOUT',
    [
      408,
      'request_timeout',
      `the request was not received in time (headers within ${SERVER_LIMITS.requestHeadersTimeoutMs / 1000} s, ` +
        `the whole request within ${SERVER_LIMITS.requestTimeoutMs / 1000} s)`,
    ],
  ],
  [
    'HPE_HEADER_OVERFLOW',
    [431, 'headers_too_large', `the header section is larger than ${SERVER_LIMITS.maxHeaderBytes} bytes`],
  ],
]);
const MALFORMED: readonly [number, string, string] = [
  400,
  'bad_request',
  'the request could not be parsed as HTTP/1.1',
];

/**
 * The listeners' `clientError` handler: a request cut by a server limit (408), with too large a header section (431)
 * or that is not HTTP (400) gets the documented JSON error (docs/http-api.md), when no response has started on the connection (else
 * nothing may be written into it); the connection is then closed.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  // Node's own check (`socketOnError`): a response whose head is out must not get another one spliced in.
  const current = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (socket.writable && (current === undefined || current === null || !current.headersSent)) {
    const [status, code, message] = CLIENT_ERRORS.get(error.code ?? '') ?? MALFORMED;
    socket.write(rawErrorResponse(status, code, message));
  }
  socket.destroy(error);
}

/**
 * The documented JSON error (docs/http-api.md) of a request that was never routed (a fresh correlation id), closing
 * its connection: the headers and the body.
 */
function unroutedError(code: string, message: string): { headers: Record<string, string>; body: string } {
  const correlationId = randomUUID();
  const body = JSON.stringify({ error: code, message, correlationId });
  return {
    headers: {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': String(Buffer.byteLength(body)),
      'X-Correlation-ID': correlationId,
      Connection: 'close',
    },
    body,
  };
}

/** {@link unroutedError} as a whole HTTP/1.1 response, for a socket no framework response exists on. */
export function rawErrorResponse(status: number, code: string, message: string): string {
  const { headers, body } = unroutedError(code, message);
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  return `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${lines.join('')}\r\n${body}`;
}

/**
 * The listeners' `checkExpectation` handler: a request whose `Expect` is not `100-continue` (the only expectation
 * defined, RFC 9110 §10.1.1; Node answers that one itself) gets the documented JSON 417 rather than Node's empty one.
 */
export function answerUnmetExpectation(_request: IncomingMessage, response: ServerResponse): void {
  const { headers, body } = unroutedError(
    'expectation_failed',
    'the only expectation this gateway meets is Expect: 100-continue',
  );
  response.writeHead(417, headers);
  response.end(body);
}
