import { HttpException } from '@nestjs/common';
import { GatewayError } from './errors';

/** The error body every refusal carries (docs/http-api.md). */
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

/** Longest header value written from an error; longer text is cut and ends in `...`. */
const MAX_HEADER_VALUE = 1024;
/** Longest content of one quoted auth-param (a `WWW-Authenticate` error_description). */
const MAX_QUOTED = 256;
/** What a header value may hold: visible ASCII and space (RFC 9110 §5.5 field-vchar, without obs-text). */
const UNSAFE_CHARS = /[^\x20-\x7e]/gu;
/** ASCII stand-ins for the punctuation the gateway's own messages use; any other unsafe character becomes `?`. */
const ASCII_FALLBACK: Readonly<Record<string, string>> = {
  '\u2013': '-',
  '\u2014': '-',
  '\u2026': '...',
  '\u00b1': '+/-',
  '\u00d7': 'x',
  '\u2264': '<=',
  '\u2265': '>=',
  '\u2212': '-',
  '\u2192': '->',
  '\u2018': "'",
  '\u2019': "'",
  '\u201c': '"',
  '\u201d': '"',
};
const toAscii = (char: string): string => ASCII_FALLBACK[char] ?? '?';
const SAFE_VALUE = /^[\x20-\x7e]*$/;
const QUOTED_SPECIALS = /["\\]/g;
/** A header name: an RFC 9110 token. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

/**
 * A header value that is safe by construction, whatever text it is given: every character that is not visible ASCII
 * or space (control characters, CR, LF, DEL, anything non-ASCII) becomes `?` (a dash, ellipsis or ± of our own
 * messages its ASCII form), surrounding spaces go, and it is cut to 1024 characters. Node never refuses it (no `ERR_INVALID_CHAR`), and it cannot split or add a header.
 */
export function safeHeaderValue(value: string): string {
  const safe = SAFE_VALUE.test(value) ? value : value.replace(UNSAFE_CHARS, toAscii);
  return cut(safe.trim(), MAX_HEADER_VALUE);
}

/**
 * The quoted-string (RFC 9110 §5.6.4) of an auth-param value, quotes included: cut to 256 characters, anything
 * that is not visible ASCII or space replaced by `?`, then `"` and `\` written as quoted-pairs. For every parameter
 * of a `WWW-Authenticate` challenge.
 */
export function quotedString(value: string): string {
  const text = cut(value, MAX_QUOTED);
  const safe = SAFE_VALUE.test(text) ? text : text.replace(UNSAFE_CHARS, toAscii);
  return `"${safe.replace(QUOTED_SPECIALS, '\\$&')}"`;
}

/**
 * The headers of an error response, each value through {@link safeHeaderValue} and any name that is not a token
 * dropped: the one place error headers are built, so nothing a client sent can reach a header raw.
 */
export function safeHeaders(headers: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
  const names = Object.keys(headers);
  let safe: Record<string, string> | undefined;
  for (let i = 0; i < names.length; i++) {
    const value = headers[names[i]];
    const clean = HEADER_NAME.test(names[i]) ? safeHeaderValue(String(value)) : undefined;
    if (safe === undefined) {
      if (clean === value) continue;
      safe = {};
      for (let j = 0; j < i; j++) safe[names[j]] = headers[names[j]];
    }
    if (clean !== undefined) safe[names[i]] = clean;
  }
  return safe ?? headers;
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
 * Maps anything thrown while handling a request to the documented JSON error (docs/http-api.md). Client errors keep their meaning;
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
    return { status: error.status, body, headers: safeHeaders(error.headers), unexpected: false };
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
