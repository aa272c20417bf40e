import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Pool } from '@shieldx/lb';
import { InjectMetric, makeCounterProvider, makeHistogramProvider } from '@willsoto/nestjs-prometheus';
import type { IncomingHttpHeaders } from 'node:http';
import { pipeline, Transform, type Readable } from 'node:stream';
import type { Counter, Histogram } from 'prom-client';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import type { MirrorRoute } from '../config/types';
import { METRIC } from '../metrics/metric-names';
import { PoolsService } from '../pools/pools.service';
import { RolloutsService, type PreviewTarget } from '../rollouts/rollouts.service';
import type { ForwardResult } from '../upstream/forward';
import { Upstreams } from '../upstream/upstreams';

/** What became of one mirrored copy (`orchestrator_mirror_requests_total{result}`). */
export type MirrorResult =
  | 'same_status'
  | 'different_status'
  | 'shadow_error'
  | 'primary_failed'
  | 'skipped_body'
  | 'skipped_busy'
  | 'skipped_no_backend';

const RESULTS: readonly MirrorResult[] = [
  'same_status',
  'different_status',
  'shadow_error',
  'primary_failed',
  'skipped_body',
  'skipped_busy',
  'skipped_no_backend',
];

/** Header every mirrored request carries, so the shadow can tell copies from real traffic. */
const MIRROR_HEADER = 'x-shieldx-mirror';
/** Latency samples kept per mirrored pool for the admin view's percentiles. */
const SAMPLES = 1000;
/** Most recent status differences kept per mirrored pool. */
const DIFFERENCES = 20;
/** Request headers not copied: they describe the original message's framing, which the copy redoes. */
const NOT_COPIED = new Set(['content-length', 'transfer-encoding', 'expect']);

/** One status difference between a request and its copy (`GET /admin/mirror`). */
export interface MirrorDifference {
  readonly at: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly shadowStatus: number;
  readonly ms: number;
  readonly shadowMs: number;
}

/** `GET /admin/mirror`: one mirrored pool. */
export interface MirrorView {
  readonly pool: string;
  readonly shadow: string;
  readonly percent: number;
  readonly results: Readonly<Record<MirrorResult, number>>;
  /** Time to the response head, ms, over the last compared pairs (null before any). */
  readonly latency: {
    readonly p50: number | null;
    readonly p99: number | null;
    readonly shadowP50: number | null;
    readonly shadowP99: number | null;
  };
  readonly recentDifferences: readonly MirrorDifference[];
}

/** The real request's side of one copy: its status and time to head, or `failed` (no answer). */
type PrimaryOutcome = { readonly status: number; readonly ms: number } | 'failed';

/** Where one copy goes and what becomes of its outcome: a mirrored pool's figures, or a rollout's preview. */
interface CopySink {
  /** The pool whose backend takes the copy; undefined when there is none now. */
  target(): Pool | undefined;
  /** The copy was not made or not compared, and why. */
  skipped(result: MirrorResult): void;
  /** Both answers are in: compare them. */
  compared(method: string, path: string, primary: PrimaryOutcome, shadow: ShadowOutcome): void;
}

/** The counts and samples of one mirrored pool. */
class MirrorStats {
  readonly results = Object.fromEntries(RESULTS.map((result) => [result, 0])) as Record<MirrorResult, number>;
  readonly primaryMs: number[] = [];
  readonly shadowMs: number[] = [];
  private next = 0;
  readonly differences: MirrorDifference[] = [];

  constructor(
    readonly pool: string,
    readonly route: MirrorRoute,
  ) {}

  sample(ms: number, shadowMs: number): void {
    this.primaryMs[this.next] = ms;
    this.shadowMs[this.next] = shadowMs;
    this.next = (this.next + 1) % SAMPLES;
  }

  differ(difference: MirrorDifference): void {
    this.differences.push(difference);
    if (this.differences.length > DIFFERENCES) this.differences.shift();
  }

  view(): MirrorView {
    return {
      pool: this.pool,
      shadow: this.route.to,
      percent: this.route.percent,
      results: { ...this.results },
      latency: {
        p50: percentile(this.primaryMs, 0.5),
        p99: percentile(this.primaryMs, 0.99),
        shadowP50: percentile(this.shadowMs, 0.5),
        shadowP99: percentile(this.shadowMs, 0.99),
      },
      recentDifferences: [...this.differences].reverse(),
    };
  }
}

/** Milliseconds to two decimals, for the admin view. */
function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

function percentile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]);
}

/** The shadow's side of one copy: its status and time to head, or an error. */
type ShadowOutcome = { readonly status: number; readonly ms: number } | { readonly error: Error };

/**
 * One proxied request chosen for mirroring. The proxy hands it the request body ({@link body}), each attempt's
 * result ({@link attempted}) and the end of the request ({@link end}); the copy goes out once the body is whole (at
 * once without one), and the two answers are handed to the sink once both are in.
 */
export class MirrorTicket {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private tooLarge = false;
  private sent = false;
  private primary: PrimaryOutcome | undefined;
  private ended = false;
  private shadow: ShadowOutcome | undefined;
  private settled = false;

  constructor(
    private readonly mirror: TrafficMirror,
    private readonly sink: CopySink,
    private readonly method: string,
    private readonly path: string,
    private readonly headers: Record<string, string | string[]>,
    hasBody: boolean,
  ) {
    if (!hasBody) setImmediate(() => this.send(null));
  }

  /** The body to send to the real backend: `raw`, through a tap that copies it up to the mirror's limit. */
  body(raw: Readable): Readable {
    const limit = this.mirror.maxBodyBytes;
    const tap = new Transform({
      transform: (chunk: Buffer, _encoding, done) => {
        if (!this.tooLarge) {
          this.size += chunk.length;
          if (this.size > limit) {
            this.tooLarge = true;
            this.chunks.length = 0;
          } else {
            this.chunks.push(chunk);
          }
        }
        done(null, chunk);
      },
      flush: (done) => {
        if (this.tooLarge) this.skip('skipped_body');
        else this.send(Buffer.concat(this.chunks, this.size));
        this.chunks.length = 0;
        done();
      },
    });
    // An error of the client's body reaches the tap, hence the real request, as it would have without it.
    pipeline(raw, tap, () => undefined);
    return tap;
  }

  /** One attempt of the real request is over (the last one counts). */
  attempted(result: ForwardResult): void {
    this.primary = result.kind === 'error' ? 'failed' : { status: result.status, ms: result.headersMs };
  }

  /** The real request is over, its last attempt recorded: compare once the copy is back (or drop an unsent one). */
  end(): void {
    this.ended = true;
    if (!this.sent && !this.settled) {
      // The body never completed (the client left or the request failed first): no copy of half a request.
      this.skip('primary_failed');
      return;
    }
    this.primary ??= 'failed';
    this.compare();
  }

  private send(body: Buffer | null): void {
    if (this.sent || this.settled) return;
    this.sent = true;
    void this.mirror.dispatch(this.sink.target(), this.method, this.path, this.headers, body).then((outcome) => {
      if (typeof outcome === 'string') return this.skip(outcome);
      this.shadow = outcome;
      this.compare();
    });
  }

  private skip(result: MirrorResult): void {
    if (this.settled) return;
    this.settled = true;
    this.sink.skipped(result);
  }

  private compare(): void {
    const { primary, shadow } = this;
    if (this.settled || !this.ended || shadow === undefined) return;
    this.settled = true;
    this.sink.compared(this.method, this.path, primary ?? 'failed', shadow);
  }
}

/** A mirrored pool's sink: counts, latency samples and recent status differences (`GET /admin/mirror`). */
class StatsSink implements CopySink {
  constructor(
    private readonly mirror: TrafficMirror,
    private readonly pools: PoolsService,
    private readonly stats: MirrorStats,
  ) {}

  target(): Pool | undefined {
    return this.pools.get(this.stats.route.to);
  }

  skipped(result: MirrorResult): void {
    this.mirror.count(this.stats, result);
  }

  compared(method: string, path: string, primary: PrimaryOutcome, shadow: ShadowOutcome): void {
    if (primary === 'failed') return this.mirror.count(this.stats, 'primary_failed');
    if ('error' in shadow) return this.mirror.count(this.stats, 'shadow_error');
    this.mirror.observe(this.stats, primary.ms, shadow.ms);
    if (primary.status === shadow.status) return this.mirror.count(this.stats, 'same_status');
    this.mirror.count(this.stats, 'different_status');
    this.stats.differ({
      at: new Date().toISOString(),
      method,
      path,
      status: primary.status,
      shadowStatus: shadow.status,
      ms: round(primary.ms),
      shadowMs: round(shadow.ms),
    });
  }
}

/**
 * A rollout preview's sink: the copy goes to the canary set; a pair whose real request was answered counts for both
 * sides of the preview's window (the copy failed: a 5xx or no answer within ORCH_MIRROR_TIMEOUT). Copies not made are
 * not counted for the rollout.
 */
class PreviewSink implements CopySink {
  constructor(private readonly preview: PreviewTarget) {}

  target(): Pool | undefined {
    return this.preview.canary;
  }

  skipped(): void {
    // Nothing to judge: no copy, or no real answer to compare it with.
  }

  compared(_method: string, _path: string, primary: PrimaryOutcome, shadow: ShadowOutcome): void {
    if (primary === 'failed') return;
    const copyFailed = 'error' in shadow || shadow.status >= 500;
    this.preview.compared(primary.status >= 500, primary.ms, copyFailed, 'error' in shadow ? null : shadow.ms);
  }
}

/**
 * Traffic mirroring for `/proxy` (ORCH_MIRROR_<POOL>=<shadow pool>:<percent>, docs/proxy.md#traffic-mirroring): a
 * copy of that share of a pool's requests (bodies up to ORCH_MIRROR_MAX_BODY) goes to a backend of the shadow pool,
 * marked `X-ShieldX-Mirror: 1`, fire and forget: the copy leaves once the real request's body is whole, its answer is
 * read and dropped, and nothing about it reaches the client or delays the real request. At most
 * ORCH_MIRROR_MAX_IN_FLIGHT copies are in flight (beyond, they are dropped and counted), each within
 * ORCH_MIRROR_TIMEOUT. The two answers' statuses and times to head are compared and counted.
 */
@Injectable()
export class TrafficMirror {
  private readonly logger = new Logger('mirror');
  private readonly stats = new Map<string, MirrorStats>();
  private inFlight = 0;
  readonly maxBodyBytes: number;
  private readonly maxInFlight: number;
  private readonly timeoutMs: number;
  /** Whether any pool is mirrored or previewed (the proxy asks nothing more otherwise). */
  enabled: boolean;
  private readonly configured: boolean;

  constructor(
    @Inject(ORCH_CONFIG) config: OrchestratorConfig,
    private readonly pools: PoolsService,
    private readonly upstreams: Upstreams,
    @InjectMetric(METRIC.mirrorRequests) private readonly requests: Counter<string>,
    @InjectMetric(METRIC.mirrorDuration) private readonly duration: Histogram<string>,
    private readonly rollouts: RolloutsService,
  ) {
    const { routes, maxBodyBytes, maxInFlight, timeoutMs } = config.mirror;
    for (const [pool, route] of routes) this.stats.set(pool, new MirrorStats(pool, route));
    this.configured = routes.size > 0;
    this.enabled = this.configured || rollouts.previewing;
    // A preview turns the mirror on only while it lasts: without one, the proxy's cost stays nil.
    rollouts.onPreviewChange(() => (this.enabled = this.configured || rollouts.previewing));
    this.maxBodyBytes = maxBodyBytes;
    this.maxInFlight = maxInFlight;
    this.timeoutMs = timeoutMs;
  }

  /**
   * Chooses whether this request of `pool` is copied; undefined when not. `headers` are the ones sent to the real
   * backend (copied here, before the proxy adds trace headers to them). A pool whose rollout is in preview copies
   * every request of the preview's methods (by default GET and HEAD only) to the canary set; its other requests
   * follow the pool's ORCH_MIRROR_<POOL>, if any.
   */
  begin(
    pool: string,
    method: string,
    pathAndQuery: string,
    headers: IncomingHttpHeaders,
    hasBody: boolean,
    contentLength: number | undefined,
  ): MirrorTicket | undefined {
    const preview = this.rollouts.preview(pool);
    if (preview !== undefined && preview.methods.has(method)) {
      if (contentLength !== undefined && contentLength > this.maxBodyBytes) return undefined;
      return new MirrorTicket(this, new PreviewSink(preview), method, pathAndQuery, copyHeaders(headers), hasBody);
    }
    const stats = this.stats.get(pool);
    if (stats === undefined || Math.random() * 100 >= stats.route.percent) return undefined;
    if (contentLength !== undefined && contentLength > this.maxBodyBytes) {
      this.count(stats, 'skipped_body');
      return undefined;
    }
    const sink = new StatsSink(this, this.pools, stats);
    return new MirrorTicket(this, sink, method, pathAndQuery, copyHeaders(headers), hasBody);
  }

  /** The mirrored pools, for `GET /admin/mirror`. */
  view(): MirrorView[] {
    return [...this.stats.values()].map((stats) => stats.view());
  }

  /** Counts a copy's result. */
  count(stats: MirrorStats, result: MirrorResult): void {
    stats.results[result]++;
    this.requests.labels(stats.pool, stats.route.to, result).inc();
  }

  /** Records the two times to head of a compared pair. */
  observe(stats: MirrorStats, ms: number, shadowMs: number): void {
    stats.sample(ms, shadowMs);
    this.duration.labels(stats.pool, 'primary').observe(ms / 1000);
    this.duration.labels(stats.pool, 'shadow').observe(shadowMs / 1000);
  }

  /**
   * Sends one copy to a backend of `shadowPool`: its outcome, or why it was not sent (no backend, too many in flight).
   * Never rejects.
   */
  async dispatch(
    shadowPool: Pool | undefined,
    method: string,
    pathAndQuery: string,
    headers: Record<string, string | string[]>,
    body: Buffer | null,
  ): Promise<ShadowOutcome | 'skipped_busy' | 'skipped_no_backend'> {
    if (this.inFlight >= this.maxInFlight) return 'skipped_busy';
    const picked = shadowPool?.pick({ reserve: false });
    if (picked === undefined) return 'skipped_no_backend';
    const backend = picked.backend;
    this.inFlight++;
    backend.acquire();
    const started = performance.now();
    try {
      const answer = await this.upstreams.get(backend.url).request({
        method: method,
        path: this.upstreams.basePath(backend.url) + pathAndQuery,
        headers,
        body,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const ms = performance.now() - started;
      await answer.body.dump();
      return { status: answer.statusCode, ms };
    } catch (error) {
      this.logger.debug({ event: 'mirror_failed', backend: backend.url, error: (error as Error).message });
      return { error: error as Error };
    } finally {
      backend.release();
      this.inFlight--;
    }
  }
}

/** The headers of a copy: the real request's, without its framing, marked {@link MIRROR_HEADER}. */
function copyHeaders(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const copy: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined && !NOT_COPIED.has(name)) copy[name] = value;
  }
  copy[MIRROR_HEADER] = '1';
  return copy;
}

/** The mirror's instruments, registered by the proxy module. */
export const MIRROR_METRIC_PROVIDERS = [
  makeCounterProvider({
    name: METRIC.mirrorRequests,
    help: 'Mirrored /proxy requests by result: same or different status than the real answer, errors, skipped',
    labelNames: ['pool', 'shadow', 'result'],
  }),
  makeHistogramProvider({
    name: METRIC.mirrorDuration,
    help: 'Time to the response head of mirrored requests and of their real requests, seconds',
    labelNames: ['pool', 'side'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  }),
];
