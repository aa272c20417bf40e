import cluster, { type Worker } from 'node:cluster';
import { pino } from 'pino';
import type { OrchestratorConfig } from '../config/config';
import type { RunningDemoBackend } from '../demo/demo-backends';
import { createLogger } from '../logging/logger';
import { formatWorkerMetrics, type JsonMetric, type WorkerMetrics } from './worker-metrics';

/** First wait before a crashed worker is started again, ms; doubles per crash in a row up to {@link RESTART_MAX_MS}. */
export const RESTART_FIRST_MS = 250;
/** Longest wait before a crashed worker is started again, ms. */
export const RESTART_MAX_MS = 30_000;
/** A worker that ran this long before it crashed starts again after {@link RESTART_FIRST_MS}, ms. */
export const STABLE_AFTER_MS = 10_000;
/** How long `/metrics` waits for the other workers' metrics, ms (a worker that does not answer is left out). */
export const METRICS_COLLECT_TIMEOUT_MS = 1000;

/** IPC messages between the primary and its workers (everything else on the channel is ignored). */
export type WorkerMessage =
  | { readonly shieldx: 'ready'; readonly url: string }
  | { readonly shieldx: 'metrics-request'; readonly id: number }
  | { readonly shieldx: 'metrics-collect'; readonly id: number }
  | { readonly shieldx: 'metrics-collected'; readonly id: number; readonly metrics: readonly JsonMetric[] }
  | { readonly shieldx: 'metrics-response'; readonly id: number; readonly text: string };

/** Whether `value` is one of our IPC messages. */
export function isWorkerMessage(value: unknown): value is WorkerMessage {
  return value !== null && typeof value === 'object' && typeof (value as { shieldx?: unknown }).shieldx === 'string';
}

interface Slot {
  readonly index: number;
  worker: Worker | null;
  startedAt: number;
  /** A worker of this slot has listened at least once (a start-up failure is fatal, a later crash is restarted). */
  listened: boolean;
  /** Crashes in a row of workers that ran less than {@link STABLE_AFTER_MS}. */
  crashes: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

interface Collection {
  readonly requester: Worker;
  readonly expected: Set<number>;
  readonly received: WorkerMetrics[];
  readonly timer: ReturnType<typeof setTimeout>;
}

/**
 * The primary process of ORCH_WORKERS=n (node:cluster): it serves nothing itself. It starts the demo backends once
 * (ORCH_DEMO; their pools go to every worker as ORCH_POOL_<NAME>), forks n workers that share the listening port
 * (the primary hands out connections round-robin), and gives each its slot (ORCH_WORKER_INDEX: its own ledger file
 * `<path>.w<slot>`, instance id `…/w<slot>`, the `x-shieldx-worker` response header). A worker that crashes is
 * started again after 250 ms, doubling per crash in a row up to 30 s; a worker that fails before it ever listened
 * stops everything (a start-up error, as without workers). SIGTERM/SIGINT go to every worker, which finish their
 * in-flight requests (ORCH_SHUTDOWN_GRACE); the primary exits when all have. It also answers the workers' `/metrics`
 * by collecting every worker's metrics over IPC (see {@link formatWorkerMetrics}).
 * @returns when the primary is set up (it calls `process.exit` once every worker has stopped)
 */
export async function runPrimary(config: OrchestratorConfig, warnings: readonly string[]): Promise<void> {
  const log = createLogger(config.log.level, pino.destination({ fd: 1, sync: true })).child({ role: 'primary' });
  const count = config.cluster.workers;
  for (const warning of warnings) log.warn({ event: 'config_warning' }, warning);
  if (config.redis.url === undefined) {
    log.warn(
      { event: 'workers_without_redis', workers: count },
      `ORCH_WORKERS=${count} without Redis: rate limits, replay checks, admin pool edits and admin policy reloads ` +
        'are per worker (see docs/scale-out.md); set REDIS_ADDR to share them',
    );
  }

  const demo: RunningDemoBackend[] = [];
  const workerEnv: Record<string, string> = {};
  if (config.demo) {
    // Loaded only for the demo: its HTTP servers pull in node:http, whose ESM facade loads Node's bundled fetch.
    const { DEMO_POOLS, startDemoBackend } = await import('../demo/demo-backends');
    for (const [pool, profiles] of Object.entries(DEMO_POOLS)) {
      if (config.pools.has(pool)) continue;
      const started = await Promise.all(profiles.map((profile) => startDemoBackend(profile)));
      demo.push(...started);
      workerEnv[`ORCH_POOL_${pool.toUpperCase()}`] = started.map((backend) => backend.url).join(',');
      log.info({ event: 'demo_pool', pool, backends: started.map((b) => `${b.profile.name}=${b.url}`) });
    }
    workerEnv.ORCH_DEMO = '0';
  }

  const slots = new Map<number, Slot>();
  const collections = new Map<number, Collection>();
  let shuttingDown = false;
  let announced = false;
  let exitCode = 0;

  const finish = async (): Promise<void> => {
    await Promise.all(demo.splice(0).map((backend) => backend.close()));
    log.info({ event: 'primary_stopped', exitCode });
    process.exit(exitCode);
  };

  const alive = () => [...slots.values()].filter((slot) => slot.worker !== null);

  const stopAll = (why: string): void => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info({ event: 'shutdown', reason: why, workers: alive().length });
    for (const slot of slots.values()) clearTimeout(slot.timer);
    for (const slot of alive()) slot.worker?.process.kill('SIGTERM');
    const deadline = setTimeout(() => {
      for (const slot of alive()) {
        log.warn({ event: 'worker_killed', slot: slot.index, pid: slot.worker?.process.pid });
        slot.worker?.process.kill('SIGKILL');
      }
    }, config.proxy.shutdownGraceMs + 5000);
    deadline.unref();
    if (alive().length === 0) void finish();
  };

  const fork = (slot: Slot): void => {
    slot.timer = undefined;
    const worker = cluster.fork({ ...workerEnv, ORCH_WORKER_INDEX: String(slot.index) });
    slot.worker = worker;
    slot.startedAt = Date.now();
    log.info({ event: 'worker_started', slot: slot.index, pid: worker.process.pid });
    worker.on('message', (message: unknown) => onMessage(slot, worker, message));
    worker.on('exit', (code, signal) => onExit(slot, worker, code, signal));
  };

  const onExit = (slot: Slot, worker: Worker, code: number | null, signal: string | null): void => {
    if (slot.worker !== worker) return;
    slot.worker = null;
    for (const [id, collection] of collections) {
      if (collection.expected.delete(slot.index)) maybeAnswer(id);
    }
    if (shuttingDown) {
      log.info({ event: 'worker_stopped', slot: slot.index, pid: worker.process.pid, code, signal });
      if (alive().length === 0) void finish();
      return;
    }
    if (!slot.listened) {
      log.error(
        { event: 'worker_failed_to_start', slot: slot.index, pid: worker.process.pid, code, signal },
        'a worker failed during start-up; stopping',
      );
      exitCode = typeof code === 'number' && code !== 0 ? code : 1;
      stopAll('a worker failed during start-up');
      return;
    }
    const ranMs = Date.now() - slot.startedAt;
    slot.crashes = ranMs >= STABLE_AFTER_MS ? 0 : slot.crashes + 1;
    const delayMs = Math.min(RESTART_MAX_MS, RESTART_FIRST_MS * 2 ** Math.max(0, slot.crashes - 1));
    log.error({
      event: 'worker_exited',
      slot: slot.index,
      pid: worker.process.pid,
      code,
      signal,
      ranMs,
      restartInMs: delayMs,
    });
    slot.timer = setTimeout(() => fork(slot), delayMs);
  };

  /** A worker's application listens (its `ready` message: the ops listener may have opened before). */
  const onReady = (slot: Slot, worker: Worker, url: string): void => {
    slot.listened = true;
    log.info({ event: 'worker_listening', slot: slot.index, pid: worker.process.pid, url });
    if (!announced && [...slots.values()].every((s) => s.listened)) {
      announced = true;
      log.info(
        { event: 'listening', workers: count, url, pools: [...config.pools.keys()] },
        `listening on ${url} with ${count} workers`,
      );
    }
  };

  const onMessage = (slot: Slot, worker: Worker, message: unknown): void => {
    if (!isWorkerMessage(message)) return;
    if (message.shieldx === 'ready') {
      onReady(slot, worker, message.url);
    } else if (message.shieldx === 'metrics-request') {
      const expected = new Set(alive().map((s) => s.index));
      const timer = setTimeout(() => answer(message.id), METRICS_COLLECT_TIMEOUT_MS);
      collections.set(message.id + slot.index * 2 ** 32, {
        requester: worker,
        expected,
        received: [],
        timer,
      });
      // Ids are per worker; the collection key adds the slot so two workers' requests never mix.
      for (const other of alive()) {
        const collect: WorkerMessage = { shieldx: 'metrics-collect', id: message.id + slot.index * 2 ** 32 };
        other.worker?.send(collect);
      }
    } else if (message.shieldx === 'metrics-collected') {
      const collection = collections.get(message.id);
      if (collection === undefined || !collection.expected.has(slot.index)) return;
      collection.expected.delete(slot.index);
      collection.received.push({ worker: slot.index, metrics: message.metrics });
      maybeAnswer(message.id);
    }
  };

  const maybeAnswer = (key: number): void => {
    const collection = collections.get(key);
    if (collection !== undefined && collection.expected.size === 0) answer(key);
  };

  const answer = (key: number): void => {
    const collection = collections.get(key);
    if (collection === undefined) return;
    collections.delete(key);
    clearTimeout(collection.timer);
    const id = key % 2 ** 32;
    if (!collection.requester.isConnected()) return;
    const response: WorkerMessage = { shieldx: 'metrics-response', id, text: formatWorkerMetrics(collection.received) };
    collection.requester.send(response);
  };

  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => stopAll(signal));
  // A configuration reload is each worker's own (docs/configuration.md#reloading-the-configuration): pass it on.
  process.on('SIGHUP', () => {
    for (const slot of alive()) slot.worker?.process.kill('SIGHUP');
  });
  for (let index = 1; index <= count; index++) {
    const slot: Slot = { index, worker: null, startedAt: 0, listened: false, crashes: 0, timer: undefined };
    slots.set(index, slot);
    fork(slot);
  }
  log.info({ event: 'primary_started', pid: process.pid, workers: count, demo: config.demo });
}
