import { hkdfSync, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  AdmissionVerifier,
  clientKey,
  dpopAccessToken,
  DpopNonces,
  DpopVerifier,
  isDpopAuthorization,
  type AdmissionResult,
  type WallClock,
  type DpopResult,
} from '@shieldx/security';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { WALL_CLOCK, withinWindow } from '../clock/clock';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import { SecurityEvents } from '../events/security-events';
import { GatewayMetrics } from '../metrics/gateway-metrics';
import { AuthMetrics } from './auth-metrics';
import { CallerProofError, type CallerProofCode, type ProofScheme } from './caller-proof.errors';
import { ReplayBackend } from './replay-backend';

/** Interval over which refusals of one (scheme, code, reason, client IP) are folded into one security event, ms. */
const EVENT_WINDOW_MS = 10_000;
/** Most keys whose refusals are being folded at once. */
const EVENT_KEYS_MAX = 10_000;
/** HKDF label deriving the DPoP nonce key from an admission secret. */
const NONCE_KEY_INFO = 'shieldx dpop-nonce v1';

/** The request target's path and query (origin form), also when a client sent the absolute form. */
export function requestTarget(rawUrl: string | undefined): string {
  if (rawUrl === undefined || rawUrl === '') return '/';
  if (rawUrl.startsWith('/')) return rawUrl;
  try {
    const url = new URL(rawUrl);
    return url.pathname + url.search;
  } catch {
    return rawUrl;
  }
}

/**
 * The caller-proof stage of the pipeline (DESIGN: after the client identity, before the rate limit), run from the
 * `onRequest` hook for every endpoint except `/healthz`, `/readyz` and `/metrics`, before the body is read:
 *
 * 1. **Admission header** when ADMISSION_SECRET is set ({@link AdmissionVerifier}): required on every request.
 * 2. **DPoP** ({@link DpopVerifier}): checked whenever a `DPoP` header is sent; required when ORCH_DPOP_REQUIRED=1
 *    or when the request carries `Authorization: DPoP <token>` (a DPoP-bound token is worthless without its proof,
 *    RFC 9449 §7.1). The verified key thumbprint goes to `request.gateway.dpopJkt`, and from there to the policy
 *    input (`input.dpop.jkt`). With ORCH_DPOP_NONCE=1 every guarded answer carries `DPoP-Nonce` and proofs must
 *    hold a current one.
 *
 * A refusal is a {@link CallerProofError} (401 with the scheme's challenge), counted in
 * `orchestrator_auth_failed_total{scheme,code}` and reported as an `auth.failed` security event, one per (scheme,
 * code, failed check, client IP) per 10 s carrying how many it stands for, so a flood of bad proofs cannot flood the ledger. The
 * header values (secrets, signatures, proofs, tokens) are never logged or put in an event.
 *
 * Synchronous when only the admission header is checked against the in-process store; a promise when DPoP is
 * verified (WebCrypto) or the replay store is Redis.
 */
@Injectable()
export class CallerProofService {
  private readonly admission: AdmissionVerifier | undefined;
  private readonly admissionHeader: string;
  /** Key id of each admission secret, by position (ORCH_ADMISSION_KEY_IDS). */
  private readonly admissionKeyIds: readonly string[];
  private readonly dpop: DpopVerifier;
  private readonly nonces: DpopNonces | undefined;
  private readonly required: boolean;
  /** The origin proofs must name in `htu` (ORCH_PUBLIC_URL); undefined: see {@link CallerProofService.htu}. */
  private readonly publicUrl: string | undefined;
  /** Insecure dev mode (plain HTTP): without ORCH_PUBLIC_URL, a loopback listener's own origin is expected. */
  private readonly devLoopback: boolean;
  private readonly algs: string;
  /**
   * The IPv6 network a replay-store share is charged to: the per-IP bucket's (ORCH_IPV6_CLIENT_PREFIX), but never
   * finer than a /64, which one host holds whole: at 128, counted per address, one host's 1/share addresses would fill
   * the store for everyone.
   */
  private readonly replayPrefix: number | undefined;
  private readonly refusals = new Map<string, { since: number; count: number }>();

  constructor(
    @Inject(ORCH_CONFIG) config: OrchestratorConfig,
    @Inject(WALL_CLOCK) private readonly clock: WallClock,
    replay: ReplayBackend,
    private readonly metrics: GatewayMetrics,
    private readonly authMetrics: AuthMetrics,
    private readonly events: SecurityEvents,
  ) {
    const { secrets, header, skewMs, keyIds } = config.admission;
    this.admissionKeyIds = keyIds;
    this.admissionHeader = header.toLowerCase();
    if (secrets.length > 0) this.admission = new AdmissionVerifier({ secrets, skewMs, replay: replay.store });
    if (config.dpop.nonce) {
      this.nonces = new DpopNonces({ keys: nonceKeys(secrets), periodMs: skewMs });
      if (secrets.length === 0) {
        new Logger('dpop').warn({
          event: 'dpop_nonce_key_random',
          msg: 'ORCH_DPOP_NONCE=1 without ADMISSION_SECRET: the nonce key is random per instance, so a nonce is only accepted by the instance that issued it (use sticky routing, or set ADMISSION_SECRET to share the key)',
        });
      }
    }
    this.dpop = new DpopVerifier({ replay: replay.store, skewMs, nonces: this.nonces });
    this.algs = this.dpop.algorithms.join(' ');
    this.required = config.dpop.required;
    this.publicUrl = config.dpop.publicUrl;
    this.devLoopback = config.listen.insecure && config.tls.certFile === undefined;
    const prefix = config.rateLimit.ipv6ClientPrefix;
    this.replayPrefix = prefix > 64 ? 64 : undefined;
  }

  /** DPoP work done so far (key imports, signature checks), for tests and diagnostics. */
  get dpopWork(): { readonly keyImports: number; readonly signatureChecks: number } {
    return this.dpop.work;
  }

  /**
   * Checks the caller's proofs for one request; throws (or rejects with) {@link CallerProofError}. Sets
   * `request.gateway.dpopJkt` when a DPoP proof was verified.
   */
  check(request: FastifyRequest, reply: FastifyReply): void | Promise<void> {
    if (
      this.admission === undefined &&
      this.nonces === undefined &&
      !this.required &&
      request.headers.dpop === undefined
    ) {
      // The common case without caller proofs: only a DPoP-bound Authorization header still needs a look.
      return isDpopAuthorization(request.headers.authorization) ? this.checkDpop(request, this.clock.now()) : undefined;
    }
    const now = this.clock.now();
    if (this.nonces !== undefined) reply.header('dpop-nonce', this.nonces.current(now));
    if (this.admission === undefined) return this.checkDpop(request, now);
    const result = this.admission.verify(
      {
        header: request.headers[this.admissionHeader],
        method: request.method,
        pathWithQuery: requestTarget(request.raw.url),
        client: this.replayClient(request),
      },
      now,
    );
    if (result instanceof Promise) {
      return result.then((settled) => {
        this.admitted(settled, request);
        return this.checkDpop(request, now);
      });
    }
    this.admitted(result, request);
    return this.checkDpop(request, now);
  }

  /** Who a used nonce or `jti` is charged to in the replay store (see {@link replayPrefix}). */
  private replayClient(request: FastifyRequest): string {
    const state = request.gateway;
    return this.replayPrefix === undefined ? state.clientKey : clientKey(state.clientIp, this.replayPrefix);
  }

  private admitted(result: AdmissionResult, request: FastifyRequest): void {
    if (!result.ok)
      throw this.refuse(request, 'admission', result.code, result.message, undefined, result.retryAfterMs);
    request.gateway.admissionKeyId = this.admissionKeyIds[result.keyIndex];
  }

  private checkDpop(request: FastifyRequest, now: number): void | Promise<void> {
    const proof = request.headers.dpop;
    const authorization = request.headers.authorization;
    const bound = isDpopAuthorization(authorization);
    if (proof === undefined) {
      if (!this.required && !bound) return;
      const why = bound ? 'a DPoP-bound access token needs a DPoP proof' : 'this gateway requires a DPoP proof';
      throw this.refuse(request, 'dpop', 'dpop_missing', why);
    }
    const accessToken = bound ? dpopAccessToken(authorization) : undefined;
    if (bound && accessToken === undefined) {
      throw this.refuse(request, 'dpop', 'dpop_invalid_token', 'the Authorization header is not DPoP <token>');
    }
    const url = this.htu(request);
    if (url === undefined) {
      throw this.refuse(
        request,
        'dpop',
        'dpop_public_url_unset',
        'DPoP proofs cannot be checked here: set ORCH_PUBLIC_URL to the origin clients address (the htu of a proof ' +
          'is checked against it, never against the Host header)',
      );
    }
    return this.dpop
      .verify({ proof, method: request.method, url, accessToken, client: this.replayClient(request) }, now)
      .then((result) => this.verified(result, request));
  }

  private verified(result: DpopResult, request: FastifyRequest): void {
    if (!result.ok) {
      throw this.refuse(request, 'dpop', result.code, result.message, result.reason, result.retryAfterMs);
    }
    request.gateway.dpopJkt = result.jkt;
  }

  /**
   * The URL a proof must name: ORCH_PUBLIC_URL and the request's path. The Host header is never used (a client
   * could then present a proof made for another server by sending that server's name). Without ORCH_PUBLIC_URL, only
   * in insecure dev mode and on a connection to a loopback address: this listener's own origin
   * (`http://127.0.0.1:<port>`), taken from the socket; otherwise undefined, and the proof is refused.
   */
  private htu(request: FastifyRequest): string | undefined {
    const base = this.publicUrl ?? (this.devLoopback ? loopbackOrigin(request) : undefined);
    if (base === undefined) return undefined;
    const target = requestTarget(request.raw.url);
    const q = target.indexOf('?');
    return base + (q === -1 ? target : target.slice(0, q));
  }

  private refuse(
    request: FastifyRequest,
    scheme: ProofScheme,
    code: CallerProofCode,
    message: string,
    reason?: string,
    retryAfterMs?: number,
  ): CallerProofError {
    this.authMetrics.authFailed(scheme, code);
    this.metrics.denied(scheme);
    this.record(request, scheme, code, reason);
    return new CallerProofError(scheme, code, message, {
      algs: scheme === 'dpop' ? this.algs : undefined,
      nonce: this.nonces?.current(this.clock.now()),
      retryAfterMs,
    });
  }

  /** One `auth.failed` event per (scheme, code, reason, client IP) per window, carrying how many it stands for. */
  private record(
    request: FastifyRequest,
    scheme: ProofScheme,
    code: CallerProofCode,
    reason: string | undefined,
  ): void {
    const ip = request.gateway.clientIp;
    const key = `${scheme}\u0000${code}\u0000${reason ?? ''}\u0000${ip}`;
    const now = this.clock.now();
    const entry = this.refusals.get(key);
    if (entry !== undefined && withinWindow(now, entry.since, EVENT_WINDOW_MS)) {
      entry.count++;
      return;
    }
    const suppressed = entry?.count ?? 0;
    this.refusals.delete(key);
    if (this.refusals.size >= EVENT_KEYS_MAX) this.refusals.delete(this.refusals.keys().next().value as string);
    this.refusals.set(key, { since: now, count: 0 });
    this.events.emit({
      type: 'auth.failed',
      corrId: request.id,
      data: {
        mechanism: scheme,
        code,
        ...(reason === undefined ? {} : { reason }),
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        ip,
        suppressedSincePrevious: suppressed,
      },
    });
  }
}

/**
 * The origin of a plain-HTTP connection to a loopback address, from the socket (the address and port the client
 * reached), never from a header; undefined for any other connection.
 */
function loopbackOrigin(request: FastifyRequest): string | undefined {
  const socket = request.raw.socket;
  let address = socket.localAddress;
  const port = socket.localPort;
  if (address === undefined || port === undefined) return undefined;
  if (address.startsWith('::ffff:')) address = address.slice(7);
  if (isIP(address) === 4) return address.startsWith('127.') ? `http://${address}:${port}` : undefined;
  return address === '::1' ? `http://[::1]:${port}` : undefined;
}

/**
 * Keys of the DPoP nonces: derived from the admission secrets with HKDF-SHA256 (so every instance configured alike
 * accepts the others' nonces, and rotating the secrets rotates the keys), else random for this process.
 */
function nonceKeys(secrets: readonly string[]): Uint8Array[] {
  if (secrets.length === 0) return [randomBytes(32)];
  return secrets.map(
    (secret) => new Uint8Array(hkdfSync('sha256', Buffer.from(secret, 'utf8'), '', NONCE_KEY_INFO, 32)),
  );
}
