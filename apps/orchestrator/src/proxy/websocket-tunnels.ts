import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Backend } from '@shieldx/lb';
import { InjectMetric, makeCounterProvider, makeGaugeProvider } from '@willsoto/nestjs-prometheus';
import type { FastifyRequest } from 'fastify';
import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { pipeline } from 'node:stream';
import type { Counter, Gauge } from 'prom-client';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import {
  BadGatewayError,
  GatewayTimeoutError,
  TunnelShareExceededError,
  TunnelsFullError,
  type GatewayError,
} from '../errors/errors';
import { GatewayMetrics } from '../metrics/gateway-metrics';
import { METRIC } from '../metrics/metric-names';
import type { PendingUpgrade } from '../pipeline/upgrades';
import { RouteService, type RouteContext, type RoutePlan } from '../routing/route.service';
import { downstreamResponseHeaders } from '../upstream/headers';
import { OutlierDetector } from '../upstream/outlier-detector';
import { Upstreams } from '../upstream/upstreams';

/** How a tunnel request ended, as counted in `orchestrator_proxy_upgrades_total{outcome}`. */
export type UpgradeOutcome = 'opened' | 'backend_refused' | 'backend_failed' | 'limited' | 'client_gone';

/** One WebSocket handshake to forward (built by ProxyService once the request passed every guard). */
export interface TunnelRequest {
  readonly request: FastifyRequest;
  readonly res: ServerResponse;
  readonly upgrade: PendingUpgrade;
  readonly plan: RoutePlan;
  readonly ctx: RouteContext;
  /** The backend's request headers (upstreamRequestHeaders): `Upgrade` and `Connection` are added here. */
  readonly headers: Record<string, string | string[]>;
  /** Path and query on the backend, after its base path. */
  readonly pathAndQuery: string;
  /** Adds the gateway's own headers (correlation id, rate limit) to a response head. */
  readonly head: (status: number, headers: OutgoingHttpHeaders) => OutgoingHttpHeaders;
  /** What the per-client share counts this client under (its IP, or its IPv6 network). */
  readonly clientKey: string;
  /** Whether a connect error may be retried on another backend (the proxy's retry count and budget). */
  readonly mayRetry: (attempt: number) => boolean;
}

/** The backend's answer to a forwarded handshake. */
type Handshake =
  | { readonly kind: 'upgraded'; readonly response: IncomingMessage; readonly socket: Socket; readonly head: Buffer }
  | { readonly kind: 'answered'; readonly response: IncomingMessage }
  /** `cause` carries the code the backend's breaker records; `connected` says whether the request reached it. */
  | { readonly kind: 'failed'; readonly error: GatewayError; readonly cause: Error; readonly connected: boolean }
  | { readonly kind: 'client_gone' };

/** Why a tunnel closed, as logged in its `tunnel_closed` line. */
type TunnelEnd = 'client' | 'backend' | 'idle' | 'shutdown';

interface OpenTunnel {
  readonly close: (reason: TunnelEnd) => void;
}

/** Codes of a handshake that never got an answer (what the backend's breaker records). */
const CONNECT_TIMEOUT = 'CONNECT_TIMEOUT';
const HEADERS_TIMEOUT = 'HEADERS_TIMEOUT';
/** After one side of a tunnel half-closes, how long the other may still send before both are closed. */
const END_LINGER_MS = 5_000;

/** The instruments of WebSocket tunnels, registered by the proxy module. */
export const TUNNEL_METRIC_PROVIDERS = [
  makeCounterProvider({
    name: METRIC.proxyUpgrades,
    help: 'WebSocket upgrades through /proxy by outcome',
    labelNames: ['outcome'],
  }),
  makeGaugeProvider({ name: METRIC.proxyTunnelsOpen, help: 'WebSocket tunnels open now' }),
];

/**
 * WebSocket through `/proxy`: a handshake that passed the proxy's guards is forwarded to the picked backend on a
 * connection of its own, and only when the backend answers `101` with `Upgrade: websocket` does the gateway answer
 * the client `101` and join the two connections byte for byte. Any other answer is relayed as a normal response and
 * the connection closed, so a client can never speak raw HTTP to a backend that did not switch protocols. Tunnels
 * are capped in total (ORCH_PROXY_MAX_TUNNELS) and per client IP (ORCH_PROXY_CLIENT_SHARE of that), closed after
 * ORCH_PROXY_TUNNEL_IDLE_TIMEOUT without a byte either way, and cut when the shutdown grace ends. A tunnel counts as
 * one request in flight on its backend for its whole life (least connections balances tunnels).
 */
@Injectable()
export class WebSocketTunnels {
  private readonly logger = new Logger('proxy');
  private readonly open = new Set<OpenTunnel>();
  private readonly perClient = new Map<string, number>();
  private readonly maxPerClient: number;
  /** Set by closeAll(): a handshake that completes later gets no tunnel. */
  private closed = false;

  constructor(
    @Inject(ORCH_CONFIG) private readonly config: OrchestratorConfig,
    private readonly routes: RouteService,
    private readonly upstreams: Upstreams,
    private readonly outliers: OutlierDetector,
    private readonly metrics: GatewayMetrics,
    @InjectMetric(METRIC.proxyUpgrades) private readonly upgrades: Counter<string>,
    @InjectMetric(METRIC.proxyTunnelsOpen) private readonly openGauge: Gauge<string>,
  ) {
    this.maxPerClient = Math.max(1, Math.floor(config.proxy.clientShare * config.proxy.maxTunnels));
  }

  /** Tunnels open now. */
  get count(): number {
    return this.open.size;
  }

  /** Cuts every open tunnel and refuses new ones (the shutdown grace is over). Returns how many there were. */
  closeAll(): number {
    this.closed = true;
    const count = this.open.size;
    for (const tunnel of [...this.open]) tunnel.close('shutdown');
    return count;
  }

  /**
   * Forwards the handshake and, when the backend switches protocols, opens the tunnel. Answers the client itself
   * in every case (101, the backend's own refusal, or the documented JSON error through `fail`). Never rejects.
   */
  async forward(t: TunnelRequest, fail: (error: unknown) => void): Promise<UpgradeOutcome> {
    const refused = this.enter(t.clientKey);
    if (refused !== undefined) {
      this.outcome('limited');
      fail(refused);
      return 'limited';
    }
    // The client's place (enter) is held until the tunnel, or the relayed refusal, ends; `handedOver` says who gives
    // it back.
    let handedOver = false;
    try {
      const tried: Backend[] = [];
      for (let attempt = 0; ; attempt++) {
        let backend: Backend;
        try {
          backend = this.routes.pick(t.plan, t.ctx, true, tried).backend;
        } catch (error) {
          fail(error);
          return this.outcome('backend_failed');
        }
        const started = performance.now();
        const handshake = await this.handshake(backend.url, t);
        const elapsed = performance.now() - started;
        switch (handshake.kind) {
          case 'client_gone':
            backend.release();
            t.upgrade.socket.destroy();
            return this.outcome('client_gone');
          case 'failed':
            backend.release();
            this.outliers.report(
              backend,
              t.plan.pool,
              { kind: 'error', error: handshake.cause, responded: false, headersMs: null },
              elapsed,
            );
            if (!handshake.connected && t.mayRetry(attempt)) {
              tried.push(backend);
              continue;
            }
            fail(handshake.error);
            return this.outcome('backend_failed');
          case 'answered':
            this.outliers.report(
              backend,
              t.plan.pool,
              { kind: 'done', status: handshake.response.statusCode ?? 502, headersMs: elapsed },
              elapsed,
            );
            handedOver = true;
            this.relay(handshake.response, t, () => {
              backend.release();
              this.leave(t.clientKey);
            });
            return this.outcome('backend_refused');
          case 'upgraded': {
            this.outliers.report(backend, t.plan.pool, { kind: 'done', status: 101, headersMs: elapsed }, elapsed);
            const opened = this.join(handshake, backend, t);
            handedOver = opened;
            if (opened) this.metrics.routed(t.plan.action);
            return this.outcome(opened ? 'opened' : 'client_gone');
          }
          default: {
            const never: never = handshake;
            throw new Error(`unknown handshake ${JSON.stringify(never)}`);
          }
        }
      }
    } finally {
      if (!handedOver) this.leave(t.clientKey);
    }
  }

  private outcome(outcome: UpgradeOutcome): UpgradeOutcome {
    this.upgrades.labels(outcome).inc();
    return outcome;
  }

  private enter(clientKey: string): GatewayError | undefined {
    const { maxTunnels } = this.config.proxy;
    // Handshakes in progress count too: a burst cannot overshoot the cap while backends answer.
    let total = 0;
    for (const held of this.perClient.values()) total += held;
    if (total >= maxTunnels) return new TunnelsFullError(maxTunnels);
    const held = this.perClient.get(clientKey) ?? 0;
    if (held >= this.maxPerClient) return new TunnelShareExceededError(this.maxPerClient);
    this.perClient.set(clientKey, held + 1);
    return undefined;
  }

  private leave(clientKey: string): void {
    const held = this.perClient.get(clientKey) ?? 0;
    if (held <= 1) this.perClient.delete(clientKey);
    else this.perClient.set(clientKey, held - 1);
  }

  /**
   * Sends the handshake to `baseUrl` on a new connection: connect within ORCH_PROXY_CONNECT_TIMEOUT, the answer's
   * head within ORCH_PROXY_TIMEOUT. A client that leaves meanwhile aborts it.
   */
  private handshake(baseUrl: string, t: TunnelRequest): Promise<Handshake> {
    const url = new URL(baseUrl);
    const { connectTimeoutMs, headersTimeoutMs } = this.config.proxy;
    return new Promise<Handshake>((resolve) => {
      let settled = false;
      let connected = false;
      const settle = (handshake: Handshake): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        t.res.off('close', onClientClose);
        resolve(handshake);
      };
      const upstream = (url.protocol === 'https:' ? httpsRequest : httpRequest)({
        host: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port,
        method: 'GET',
        path: this.upstreams.basePath(baseUrl) + t.pathAndQuery,
        headers: { ...t.headers, connection: 'Upgrade', upgrade: 'websocket' },
        agent: false,
      });
      const fail = (error: GatewayError, cause: Error): void => {
        settle({ kind: 'failed', error, cause, connected });
        upstream.destroy();
      };
      const giveUp = (code: string, message: string): void =>
        fail(new GatewayTimeoutError(`${message} (${code})`), Object.assign(new Error(message), { code }));
      let timer = setTimeout(
        () => giveUp(CONNECT_TIMEOUT, 'the backend did not accept a connection in time'),
        connectTimeoutMs,
      );
      const onClientClose = (): void => {
        settle({ kind: 'client_gone' });
        upstream.destroy();
      };
      t.res.once('close', onClientClose);
      // A client that half-closed (FIN) while the backend thinks is gone too: its tunnel would be half dead.
      t.upgrade.onEnd(onClientClose);
      upstream.once('socket', (socket) => {
        socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
          connected = true;
          clearTimeout(timer);
          timer = setTimeout(
            () => giveUp(HEADERS_TIMEOUT, 'the backend did not answer the handshake in time'),
            headersTimeoutMs,
          );
        });
      });
      upstream.on('error', (error: NodeJS.ErrnoException) =>
        fail(new BadGatewayError(`the backend could not be reached (${error.code ?? error.name})`), error),
      );
      upstream.once('upgrade', (response: IncomingMessage, socket: Socket, head: Buffer) => {
        // Node removed its handlers from the socket: it is ours from here, errors included.
        socket.on('error', () => socket.destroy());
        if (settled) {
          socket.destroy();
        } else if (isWebSocketAnswer(response)) {
          settle({ kind: 'upgraded', response, socket, head });
        } else {
          socket.destroy();
          const message = 'the backend switched to a protocol other than websocket';
          fail(new BadGatewayError(message), Object.assign(new Error(message), { code: 'BAD_UPGRADE' }));
        }
      });
      upstream.once('response', (response: IncomingMessage) => {
        if (settled) {
          response.destroy();
        } else if (response.statusCode === 101) {
          // A 101 without `Upgrade` (Node reads it as a plain response): no protocol to switch to.
          response.destroy();
          const message = 'the backend answered 101 without switching to websocket';
          fail(new BadGatewayError(message), Object.assign(new Error(message), { code: 'BAD_UPGRADE' }));
        } else {
          settle({ kind: 'answered', response });
        }
      });
      upstream.end();
    });
  }

  /**
   * The backend refused the upgrade: its answer goes to the client as a normal response, then the connection closes.
   * A body that breaks off or falls silent for ORCH_PROXY_BODY_TIMEOUT cuts the client's connection (the only honest
   * signal left once the head is out), which is outside the server's own list and timers. Until the body is out the
   * relay holds the client's tunnel place and the backend's in-flight slot; `done` gives them back, once.
   */
  private relay(response: IncomingMessage, t: TunnelRequest, done: () => void): void {
    const { res } = t;
    const client = t.upgrade.socket;
    if (res.destroyed) {
      response.destroy();
      done();
      return;
    }
    const status = response.statusCode ?? 502;
    res.writeHead(status, t.head(status, downstreamResponseHeaders(response.headers)));
    response.socket.setTimeout(this.config.proxy.bodyTimeoutMs, () => response.destroy());
    pipeline(response, res, (error) => {
      if (error !== undefined && error !== null) client.destroy();
      done();
    });
  }

  /** Answers the client `101` with the backend's handshake headers and joins the two connections. */
  private join(handshake: Extract<Handshake, { kind: 'upgraded' }>, backend: Backend, t: TunnelRequest): boolean {
    const { res, upgrade } = t;
    const upstream = handshake.socket;
    if (res.destroyed || upgrade.socket.destroyed || upgrade.ended || this.closed) {
      // Gone, or the shutdown grace is over: no tunnel may open after closeAll().
      upstream.destroy();
      upgrade.socket.destroy();
      backend.release();
      return false;
    }
    const out = t.head(101, downstreamResponseHeaders(handshake.response.headers));
    out['connection'] = 'Upgrade';
    out['upgrade'] = 'websocket';
    const early = upgrade.take();
    res.writeHead(101, out);
    res.end();

    const client = upgrade.socket;
    const openedAt = performance.now();
    let closed = false;
    const close = (reason: TunnelEnd): void => {
      if (closed) return;
      closed = true;
      client.destroy();
      upstream.destroy();
      this.open.delete(tunnel);
      this.openGauge.set(this.open.size);
      this.leave(t.clientKey);
      backend.release();
      this.logger.log({
        event: 'tunnel_closed',
        corrId: t.request.id,
        backend: backend.url,
        reason,
        durationMs: Math.round(performance.now() - openedAt),
      });
    };
    const tunnel: OpenTunnel = { close };
    this.open.add(tunnel);
    this.openGauge.set(this.open.size);
    client.on('close', () => close('client'));
    upstream.on('close', () => close('backend'));
    // A side that half-closes (FIN) is done: the other gets the FIN (pipe) and a moment for its last frames, then both
    // are closed, so a peer that ignores the FIN cannot keep the tunnel (and its place) held.
    client.once('end', () => setTimeout(() => close('client'), END_LINGER_MS).unref());
    upstream.once('end', () => setTimeout(() => close('backend'), END_LINGER_MS).unref());
    client.on('error', () => close('client'));
    upstream.on('error', () => close('backend'));
    // No byte either way for this long: both ends are cut (a full client socket pauses the backend, so it counts).
    client.setTimeout(this.config.proxy.tunnelIdleTimeoutMs, () => close('idle'));
    if (handshake.head.length > 0) client.write(handshake.head);
    if (early.length > 0) upstream.write(early);
    client.pipe(upstream);
    upstream.pipe(client);
    return true;
  }
}

/** A backend's `101` that switches to WebSocket (any other protocol is refused: the client asked for websocket). */
function isWebSocketAnswer(response: IncomingMessage): boolean {
  return response.statusCode === 101 && response.headers.upgrade?.trim().toLowerCase() === 'websocket';
}
