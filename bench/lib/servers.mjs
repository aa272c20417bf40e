// Servers a benchmark measures: the orchestrator built, snapshotted and started with a start-up check, loopback
// scripts (baselines, delayed backends), a redis-server of its own, and the orchestrator's error counters after a run.
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import { join } from 'node:path';
import {
  ROOT,
  onAbort,
  buildOrchestrator,
  fetchJson,
  freePort,
  sleep,
  snapshotOrchestrator,
  startServer,
  tail,
} from './harness.mjs';
import { GATEWAY_MALLOC_TEXT, GATEWAY_NODE_OPTIONS, asShipped } from '../../scripts/gateway-process.mjs';

/**
 * Builds the orchestrator (unless `build` is false), snapshots dist/ and, when `check` is given, checks that the
 * snapshot starts by running `check(snapshot)`. The working tree may change while this runs: a build can fail, or
 * succeed with an import of a file not written yet; then wait a minute and try again (at most three attempts). Exits the
 * process when the build fails.
 * @param {{ build: boolean, say: (text: string) => void, check?: (snapshot: object) => Promise<void> }} options
 *   `check` defaults to none (the snapshot is returned as built)
 */
export async function prepareOrchestrator({ build, say, check = async () => {} }) {
  const attempts = build ? 3 : 1;
  for (let attempt = 1; ; attempt++) {
    if (build) {
      const built = await buildOrchestrator({ log: say });
      if (!built.ok) {
        console.error(`orchestrator build failed; no figures written:\n${built.output.slice(-4000)}`);
        process.exit(1);
      }
    }
    const snapshot = snapshotOrchestrator();
    try {
      await check(snapshot);
      return snapshot;
    } catch (error) {
      snapshot.dispose();
      if (attempt >= attempts) throw error;
      say(
        `the built orchestrator does not start (a rebuild in progress?); rebuilding in 60 s:\n${tail(error.message, 1500)}`,
      );
      await sleep(60_000);
    }
  }
}

/**
 * A start-up check for prepareOrchestrator(): starts the snapshot's orchestrator as "orchestrator (start-up check)"
 * with `work`, `pools` and `env` (as startOrchestrator() takes them), then stops it.
 */
/** @param {{ work: string, pools: Record<string, string[]>, env?: Record<string, string> }} options */
export function startupCheck({ work, pools, env = {} }) {
  return async (snapshot) => {
    const probe = await startOrchestrator({ snapshot, name: 'orchestrator (start-up check)', work, pools, env });
    await probe.stop();
  };
}

/** Environment of a benchmarked orchestrator: insecure loopback, rate limits out of the way, ledger in `work`. */
export function orchestratorEnv({ port, work, pools, extra = {} }) {
  const env = {
    ORCH_ALLOW_INSECURE: '1',
    ORCH_PORT: String(port),
    ORCH_HOST: '127.0.0.1',
    ORCH_IP_BURST: '1000000000',
    ORCH_IP_BURST_DEGRADED: '1000000000',
    ORCH_TENANT_BURST: '1000000000',
    ORCH_LEDGER_PATH: join(work, `ledger-${port}.jsonl`),
  };
  for (const [name, urls] of Object.entries(pools)) {
    env[`ORCH_POOL_${name.toUpperCase()}`] = urls.map((url) => url.replace('http://', '')).join(',');
  }
  return { ...env, ...extra };
}

/**
 * Starts the built orchestrator of `snapshot` on a free port, with orchestratorEnv() plus `env`, as shipped: the
 * gateway's V8 flags in front of `nodeArgs` and its malloc settings under `env` (scripts/gateway-process.mjs), as
 * `npm start`, `shieldx serve` and the image run it. `asGiven`: only `nodeArgs` and `env` (for the tools that compare
 * those settings). `ipc` and `execPath` go to startServer() (defaults: no IPC channel, this process's Node).
 * @param {{ snapshot: { dir: string, main: string }, name: string, work: string, pools: Record<string, string[]>,
 *   env?: Record<string, string>, nodeArgs?: string[], asGiven?: boolean, ipc?: boolean, execPath?: string }} options
 */
export async function startOrchestrator({
  snapshot,
  name,
  work,
  pools,
  env = {},
  nodeArgs = [],
  asGiven,
  ipc,
  execPath,
}) {
  const port = await freePort();
  const settings = asGiven ? { nodeArgs, env } : asShipped({ nodeArgs, env });
  return startServer({
    name,
    script: snapshot.main,
    cwd: snapshot.dir,
    env: orchestratorEnv({ port, work, pools, extra: settings.env }),
    port,
    nodeArgs: settings.nodeArgs,
    ipc,
    execPath,
  });
}

/**
 * A round target (bench/lib/rounds.mjs) that starts the built orchestrator as `name`, with `env` and `nodeArgs` on top
 * of what startOrchestrator() gives it. `gateway()` returns the snapshot, working directory and pools when the target
 * starts (a benchmark lists its targets before it snapshots the build).
 * @param {() => { snapshot: { dir: string, main: string }, work: string, pools: Record<string, string[]> }} gateway
 * @param {{ key: string, label: string, name: string, env?: Record<string, string>, nodeArgs?: string[] }} target
 */
export function orchestratorTarget(gateway, { key, label, name, env, nodeArgs }) {
  return { key, label, start: () => startOrchestrator({ ...gateway(), name, env, nodeArgs }) };
}

/** How startOrchestrator() runs the gateway, for a benchmark's setup text. */
export const SHIPPED_TEXT = `as shipped (\`${GATEWAY_NODE_OPTIONS}\`, ${GATEWAY_MALLOC_TEXT}; scripts/gateway-process.mjs)`;

/**
 * Starts a Node server script of the repository (a path relative to its root, e.g. `bench/baseline-fastify.mjs`) on
 * a free loopback port given to it as PORT and HOST=127.0.0.1, plus `env`. `nodeArgs` and `ipc` go to startServer()
 * (defaults: none, no IPC channel).
 * @param {{ name: string, script: string, env?: Record<string, string>, nodeArgs?: string[], ipc?: boolean }} options
 */
export async function startLoopbackScript({ name, script, env = {}, nodeArgs, ipc }) {
  const port = await freePort();
  return startServer({
    name,
    script: join(ROOT, script),
    env: { PORT: String(port), HOST: '127.0.0.1', ...env },
    port,
    nodeArgs,
    ipc,
  });
}

/**
 * Loopback backends (bench/backend-http.mjs), one child process each. `specs`: [{name, delayMs?, jitterMs?,
 * capacity?}] (`capacity`: requests served at once, the rest queue in the backend; 0 or absent: unlimited).
 * Each handle has `url`, `name`, `stats({reset})` (requests served, health probes excluded) and `stop()`.
 */
export async function startHttpBackends(specs) {
  const handles = [];
  for (const spec of specs) {
    const server = await startLoopbackScript({
      name: `backend ${spec.name}`,
      script: 'bench/backend-http.mjs',
      env: {
        NAME: spec.name,
        DELAY_MS: String(spec.delayMs ?? 0),
        JITTER_MS: String(spec.jitterMs ?? 0),
        CAPACITY: String(spec.capacity ?? 0),
      },
    });
    handles.push({
      ...spec,
      server,
      url: server.origin,
      stats: async ({ reset = false } = {}) => {
        const answer = await fetchJson(`${server.origin}/__bench/stats${reset ? '?reset=1' : ''}`);
        if (answer.status !== 200) throw new Error(`backend ${spec.name}: stats answered ${answer.status}`);
        return answer.json.count;
      },
      stop: () => server.stop(),
    });
  }
  return handles;
}

/**
 * Counters of trouble from an orchestrator's `GET /metrics`: every non-zero sample of the error, denial, rate-limit,
 * policy-error and breaker counters, as `name{labels} value` strings.
 */
export async function orchestratorTrouble(origin) {
  const response = await fetchJson(`${origin}/metrics`);
  if (response.status !== 200) return [`GET /metrics answered ${response.status}`];
  const names = [
    'orchestrator_route_error_total',
    'orchestrator_route_denied_total',
    'orchestrator_ratelimit_denied_total',
    'orchestrator_policy_error_total',
    'orchestrator_cb_open_total',
    'orchestrator_health_bad_total',
    'orchestrator_auth_failed_total',
    'orchestrator_policy_disagreement_total',
  ];
  const found = [];
  for (const line of response.body.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-z_]+)(\{[^}]*\})? ([0-9.e+]+)$/.exec(line.trim());
    if (match && names.includes(match[1]) && Number(match[3]) > 0) found.push(line.trim());
  }
  return found;
}

/** Sends one inline command to Redis and returns the raw reply text. */
export function redisCommand(port, line) {
  return new Promise((done, fail) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let reply = '';
    socket.setTimeout(2000, () => socket.destroy(new Error(`redis ${line}: timeout`)));
    socket.once('error', fail);
    socket.once('connect', () => socket.end(`${line}\r\n`));
    socket.on('data', (chunk) => (reply += chunk.toString('utf8')));
    socket.once('close', () => done(reply));
  });
}

/** A redis-server of its own on a free loopback port (no persistence), stopped by `stop()` or an abort. */
export async function startRedisServer() {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (probe.error) throw new Error('redis-server is not installed (Debian: apt-get install -y redis-server)');
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const unregister = onAbort(() => child.kill('SIGKILL'));
  let output = '';
  const ready = await new Promise((done) => {
    const timer = setTimeout(() => done(false), 10_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      output = (output + chunk).slice(-4096);
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        done(true);
      }
    });
    child.once('exit', () => done(false));
  });
  if (!ready) {
    child.kill('SIGKILL');
    throw new Error(`redis-server did not start:\n${output}`);
  }
  const version = probe.stdout.match(/v=(\S+)/)?.[1] ?? 'unknown';
  return {
    port,
    pid: child.pid,
    version,
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((done) => child.once('exit', done));
        child.kill('SIGTERM');
        await exited;
      }
      unregister();
    },
  };
}
