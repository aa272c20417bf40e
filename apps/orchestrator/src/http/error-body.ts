import { HttpException } from '@nestjs/common';
import { GatewayError } from './errors';

/** The contract's error body. */
export interface ErrorBody {
  error: string;
  message: string;
  correlationId: string;
  details?: unknown;
}

/** A response to send for an error: status, body and extra headers. */
export interface ErrorResponse {
  readonly status: number;
  readonly body: ErrorBody;
  readonly headers: Readonly<Record<string, string>>;
  /** True when the error is ours (a bug or a failed dependency) rather than the client's. */
  readonly unexpected: boolean;
}

/** Fastify's own errors that reach us, by code: what the client did wrong, as status + our code. */
const FASTIFY_CODES: Readonly<Record<string, readonly [number, string, string]>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'body_too_large', 'the request body is larger than the limit'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'invalid_json', 'the request body is not valid JSON'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'invalid_json', 'the request body is empty; send a JSON object'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'unsupported_media_type', 'send the body as application/json'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'invalid_content_length', 'the Content-Length does not match the body'],
  FST_ERR_CTP_INVALID_TYPE: [415, 'unsupported_media_type', 'the Content-Type header is invalid'],
  FST_ERR_BAD_URL: [400, 'bad_url', 'the request URL is malformed'],
  FST_ERR_MAX_PARAM_LENGTH: [414, 'uri_too_long', 'a segment of the request path is too long'],
  FST_ERR_ASYNC_CONSTRAINT: [400, 'bad_request', 'the request could not be routed'],
};

const STATUS_CODES: Readonly<Record<number, string>> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  406: 'not_acceptable',
  408: 'request_timeout',
  413: 'body_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  503: 'unavailable',
};

/**
 * Maps anything thrown while handling a request to the contract's JSON error. Client errors keep their meaning;
 * anything unknown becomes a 500 `internal_error` whose message reveals nothing internal.
 */
export function toErrorResponse(error: unknown, correlationId: string): ErrorResponse {
  // Nest wraps Fastify's client errors (bad JSON, body too large) in an HttpException; the code is on the cause.
  const cause = error instanceof HttpException ? (error.cause as { code?: unknown } | undefined) : undefined;
  const fastifyCode = (cause ?? (error as { code?: unknown } | null))?.code;
  const known = typeof fastifyCode === 'string' ? FASTIFY_CODES[fastifyCode] : undefined;
  if (known !== undefined) {
    return {
      status: known[0],
      body: { error: known[1], message: known[2], correlationId },
      headers: {},
      unexpected: false,
    };
  }
  if (error instanceof GatewayError) {
    const body: ErrorBody = { error: error.code, message: error.message, correlationId };
    if (error.details !== undefined) body.details = error.details;
    return { status: error.status, body, headers: error.headers, unexpected: false };
  }
  if (error instanceof HttpException) {
    const status = error.getStatus();
    const code = STATUS_CODES[status] ?? (status >= 500 ? 'internal_error' : 'bad_request');
    const message = status === 404 ? 'no such endpoint' : error.message;
    const body: ErrorBody = { error: code, message, correlationId };
    // Terminus reports which check failed in its response object; keep it for operators.
    const response = error.getResponse();
    if (status === 503 && typeof response === 'object' && 'details' in response) body.details = response.details;
    return { status, body, headers: {}, unexpected: status >= 500 && status !== 503 };
  }
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const body = { error: STATUS_CODES[status] ?? 'bad_request', message: 'the request was refused', correlationId };
    return { status, body, headers: {}, unexpected: false };
  }
  return {
    status: 500,
    body: {
      error: 'internal_error',
      message: 'the gateway failed to handle this request; it was logged',
      correlationId,
    },
    headers: {},
    unexpected: true,
  };
}
