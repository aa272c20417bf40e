import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ReplayCapacityError, type ReplayCapacityCode, type ReplayStore } from './replay-store';

/** Why an admission header was refused; the `error` code of the 401 body. */
export type AdmissionFailureCode =
  | 'admission_missing'
  | 'admission_malformed'
  | 'admission_expired'
  | 'admission_invalid'
  | 'admission_replayed'
  | 'replay_store_unavailable'
  | ReplayCapacityCode;

/** The outcome of {@link AdmissionVerifier.verify}. */
export type AdmissionResult =
  | {
      readonly ok: true;
      readonly nonce: string;
      readonly timestamp: number;
      /** Position of the secret that made the header (in the `secrets` given): which key the caller holds. */
      readonly keyIndex: number;
    }
  | {
      readonly ok: false;
      readonly code: AdmissionFailureCode;
      readonly message: string;
      /** With a replay-store capacity code: when a retry may succeed, ms. */
      readonly retryAfterMs?: number;
    };

/** What the verifier needs to know about a request. */
export interface AdmissionRequest {
  /** The admission header's value as received (an array when the header was sent more than once). */
  readonly header: string | readonly string[] | undefined;
  /** The HTTP method, as received (upper case for every standard method). */
  readonly method: string;
  /** The request target as sent: path and query (`/route?x=1`), never the fragment. */
  readonly pathWithQuery: string;
  /** Who the nonce is charged to in the replay store (the client address), for its per-client share. */
  readonly client?: string;
}

/** Options of {@link AdmissionVerifier}. */
export interface AdmissionVerifierOptions {
  /** HMAC keys (UTF-8), at least one; every one is accepted, so a new secret can be rolled out before the old goes. */
  readonly secrets: readonly string[];
  /** Largest accepted |now − t|, ms. Default 60 000. */
  readonly skewMs?: number;
  /** Where used nonces are remembered (in Redis when instances must refuse each other's replays). */
  readonly replay: ReplayStore;
}

/** Longest header value considered; anything longer is malformed before it is parsed. */
const MAX_HEADER_LENGTH = 256;
const NONCE = /^[A-Za-z0-9_-]{16,64}$/;
const TIMESTAMP = /^[0-9]{1,12}$/;
const SIGNATURE = /^[0-9a-fA-F]{64}$/;
/** The header as clients write it (fields in the documented order, no spaces): parsed with one match. */
const CANONICAL = /^t=([0-9]{1,12}),n=([A-Za-z0-9_-]{16,64}),v1=([0-9a-fA-F]{64})$/;

/** The string the HMAC is computed over: `<t>.<n>.<METHOD>.<path with query>`. */
export function admissionMessage(timestamp: number, nonce: string, method: string, pathWithQuery: string): string {
  return `${timestamp}.${nonce}.${method}.${pathWithQuery}`;
}

/** Options of {@link signAdmission}. */
export interface SignAdmissionOptions {
  readonly secret: string;
  readonly method: string;
  readonly pathWithQuery: string;
  /** Unix seconds. Default: now. */
  readonly timestamp?: number;
  /** 16–64 characters of `[A-Za-z0-9_-]`. Default: 22 random base64url characters (128 bits). */
  readonly nonce?: string;
}

/**
 * A valid admission header value `t=<unix>,n=<nonce>,v1=<hex HMAC-SHA256>` (what `shieldx admission sign` prints).
 * For clients, tests and benchmarks; throws on a nonce outside the scheme's alphabet.
 */
export function signAdmission(options: SignAdmissionOptions): string {
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const nonce = options.nonce ?? randomBytes(16).toString('base64url');
  if (!NONCE.test(nonce)) throw new Error(`signAdmission: the nonce must match ${NONCE.source}`);
  const mac = createHmac('sha256', options.secret)
    .update(admissionMessage(timestamp, nonce, options.method, options.pathWithQuery))
    .digest('hex');
  return `t=${timestamp},n=${nonce},v1=${mac}`;
}

/**
 * Verifies the admission header (docs/caller-identity.md):
 * `t=<unix seconds>,n=<nonce>,v1=<hex HMAC-SHA256(secret, "<t>.<n>.<METHOD>.<path with query>")>`.
 *
 * Checks, in order, stopping at the first failure: one well-formed header (each of `t`, `n`, `v1` exactly once, in
 * any order, nothing else); `|now − t| ≤ skew`; the HMAC under every configured secret, compared in constant time
 * (all secrets are tried, so the time taken does not tell which one matched); the nonce not seen before within the
 * window. The nonce is only recorded once everything else passed, so a forged header cannot burn someone's nonce.
 *
 * A nonce is remembered (key `admission:<nonce>`) for `2 × skew + 1 s`: a header is acceptable while `now ≤ t + skew`, and a `t` can be at
 * most `skew` ahead of the first use, so no replay can outlive the record. The same constant TTL for every key keeps
 * expiries in insertion order, which the in-process store relies on for O(1) checks.
 *
 * Synchronous with a synchronous replay store; a promise only when the store answers asynchronously (Redis). A store
 * failure (error, timeout, fail-closed outage) is answered `replay_store_unavailable`, a store that will not record
 * the nonce (the client's share is used up, or the store is full) `replay_quota_exceeded` / `replay_store_full`;
 * nothing is thrown.
 */
export class AdmissionVerifier {
  /** Raw key bytes: Node's HMAC over a Buffer key is about twice as fast as over a KeyObject. */
  private readonly keys: readonly Buffer[];
  private readonly skewSeconds: number;
  /** TTL of a used nonce in the replay store, ms. */
  readonly replayTtlMs: number;
  private readonly replay: ReplayStore;

  constructor(options: AdmissionVerifierOptions) {
    if (options.secrets.length === 0) throw new Error('AdmissionVerifier: at least one secret is needed');
    if (options.secrets.some((s) => s.length === 0)) throw new Error('AdmissionVerifier: a secret is empty');
    const skewMs = options.skewMs ?? 60_000;
    if (!Number.isInteger(skewMs) || skewMs < 1000 || skewMs % 1000 !== 0) {
      throw new Error(`AdmissionVerifier: skewMs must be a whole number of seconds ≥ 1 s, got ${String(skewMs)}`);
    }
    this.keys = options.secrets.map((secret) => Buffer.from(secret, 'utf8'));
    this.skewSeconds = skewMs / 1000;
    this.replayTtlMs = 2 * skewMs + 1000;
    this.replay = options.replay;
  }

  /** Verifies one request's header at `now` (epoch ms). */
  verify(request: AdmissionRequest, now: number): AdmissionResult | Promise<AdmissionResult> {
    const { header } = request;
    if (header === undefined || header === '') {
      return fail('admission_missing', 'the admission header is missing');
    }
    if (typeof header !== 'string') return fail('admission_malformed', 'the admission header was sent more than once');
    const parts = parseHeader(header);
    if (typeof parts === 'string') return fail('admission_malformed', parts);
    const nowSeconds = Math.floor(now / 1000);
    if (Math.abs(nowSeconds - parts.t) > this.skewSeconds) {
      return fail(
        'admission_expired',
        `the admission timestamp is more than ${this.skewSeconds} s away from the gateway's clock`,
      );
    }
    const message = admissionMessage(parts.t, parts.n, request.method, request.pathWithQuery);
    // Every secret is tried whatever matched, so the time taken does not tell which one did.
    let keyIndex = -1;
    for (let i = 0; i < this.keys.length; i++) {
      const expected = createHmac('sha256', this.keys[i]).update(message).digest();
      if (timingSafeEqual(expected, parts.v1) && keyIndex < 0) keyIndex = i;
    }
    if (keyIndex < 0) {
      return fail('admission_invalid', 'the admission signature does not match this request (method, path, query)');
    }
    const settle = (isFirst: boolean): AdmissionResult =>
      isFirst
        ? { ok: true, nonce: parts.n, timestamp: parts.t, keyIndex }
        : fail('admission_replayed', 'this admission nonce was already used');
    let first: boolean | Promise<boolean>;
    try {
      // The nonce is already a bounded token of a safe alphabet: used as it is, no hash needed.
      first = this.replay.firstSeen(`admission:${parts.n}`, this.replayTtlMs, now, request.client);
    } catch (error) {
      return unavailable(error);
    }
    return typeof first === 'boolean' ? settle(first) : first.then(settle, unavailable);
  }
}

function fail(code: AdmissionFailureCode, message: string): AdmissionResult {
  return { ok: false, code, message };
}

function unavailable(error: unknown): AdmissionResult {
  if (error instanceof ReplayCapacityError) {
    return { ok: false, code: error.code, message: error.message, retryAfterMs: error.retryAfterMs };
  }
  const reason = error instanceof Error ? error.message : String(error);
  return fail('replay_store_unavailable', `the replay check is unavailable (${reason}); retry shortly`);
}

/** `t`, `n`, `v1` of a header, or what is wrong with it. */
function parseHeader(header: string): { t: number; n: string; v1: Buffer } | string {
  if (header.length > MAX_HEADER_LENGTH) return `the admission header is longer than ${MAX_HEADER_LENGTH} characters`;
  const canonical = CANONICAL.exec(header);
  if (canonical !== null) return { t: Number(canonical[1]), n: canonical[2], v1: Buffer.from(canonical[3], 'hex') };
  let t: string | undefined;
  let n: string | undefined;
  let v1: string | undefined;
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    const name = eq === -1 ? part.trim() : part.slice(0, eq).trim();
    const value = eq === -1 ? '' : part.slice(eq + 1).trim();
    if (name === 't' && t === undefined) t = value;
    else if (name === 'n' && n === undefined) n = value;
    else if (name === 'v1' && v1 === undefined) v1 = value;
    else return `unexpected or repeated field '${name.slice(0, 16)}'; expected t=<unix>,n=<nonce>,v1=<hex>`;
  }
  if (t === undefined || n === undefined || v1 === undefined) return 'expected t=<unix>,n=<nonce>,v1=<hex>';
  if (!TIMESTAMP.test(t)) return 't must be unix seconds';
  if (!NONCE.test(n)) return 'n must be 16–64 characters of [A-Za-z0-9_-]';
  if (!SIGNATURE.test(v1)) return 'v1 must be 64 hex digits (HMAC-SHA256)';
  return { t: Number(t), n, v1: Buffer.from(v1, 'hex') };
}
