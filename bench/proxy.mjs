// Benchmark of `GET /proxy/api/…`: the orchestrator (built dist/, full pipeline at its defaults, and again at
// ORCH_LOG_LEVEL=warn) against two peers in front of the same loopback backends, measured in the same run with
// rounds interleaved: @fastify/http-proxy on bare Fastify 5 (bench/baseline-http-proxy.mjs) and nginx (Debian's
// /usr/sbin/nginx, one worker, generated config in a temporary directory). Three floors run beside them
// (bench/floor-proxy.mjs): forwarding alone on node:http, on Fastify and on NestJS-on-Fastify, none of the pipeline —
// what a budget leaves for the pipeline is read against them. Every Node server runs with the gateway's shipped V8
// flags and malloc settings (scripts/gateway-process.mjs). Writes the `proxy` section of docs/BENCHMARKS.md.
//
//   node bench/proxy.mjs [--no-build] [--no-write]
//
// Environment (defaults in brackets): BENCH_ROUNDS [5], BENCH_DURATION [4] s per round, BENCH_CONNECTIONS [64],
// BENCH_WARMUP [2] s per target, BENCH_BACKENDS [3] backend processes, BENCH_TOOL [wrk if installed, else
// autocannon], BENCH_NGINX [/usr/sbin/nginx].
//
// Budgets (from the issue): orchestrator req/s ≥ 1.2 × @fastify/http-proxy's and ≥ 0.8 × the NestJS + undici floor's
// (nginx is measured for scale; its old 0.5× budget is retired: the Node floors themselves reach about half of it). Verdicts are
// printed and written as measured, pass or miss.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ROOT,
  envNumber,
  fetchJson,
  fmt,
  freePort,
  installCleanup,
  median,
  onAbort,
  rssMB,
  sleep,
  sum,
  tempDir,
  summarizeRounds,
} from './lib/harness.mjs';
import {
  benchArgs,
  busyNote,
  closedLoopSettings,
  factsMarkdown,
  livePids,
  loadAverage,
  loadOptionsFor,
  interleavedRounds,
  nonDefaultNote,
  orchestratorTrouble,
  pairedRatio,
  prepareOrchestrator,
  runFacts,
  startHttpBackends,
  startLoopbackScript,
  orchestratorTarget,
  startupCheck,
  stopChecked,
  warmUp,
} from './lib/common.mjs';
import {
  BUDGET_HEADERS,
  budgetRows,
  budgetsMarkdown,
  closedLoopMarkdown,
  closedLoopText,
  passOrMiss,
  printProblems,
  textTable,
  writeReport,
} from './lib/report.mjs';
import { GATEWAY_MALLOC_TEXT, GATEWAY_NODE_OPTIONS, asShipped } from '../scripts/gateway-process.mjs';
import { proxyRequests } from './lib/requests.mjs';

// ---------------------------------------------------------------------------------------------------------------
// Settings

const { argv, build, write } = benchArgs(
  'proxy.mjs',
  'env: BENCH_ROUNDS=5 BENCH_DURATION=4 BENCH_CONNECTIONS=64 BENCH_WARMUP=2 BENCH_BACKENDS=3 BENCH_TOOL=wrk|autocannon ' +
    'BENCH_NGINX=/usr/sbin/nginx',
);
const DEFAULTS = { rounds: 5, duration: 4, connections: 64, warmup: 2, backends: 3 };
const S = {
  ...closedLoopSettings(DEFAULTS),
  backends: envNumber('BENCH_BACKENDS', DEFAULTS.backends, { min: 1 }),
  nginx: process.env.BENCH_NGINX || '/usr/sbin/nginx',
};
const BUDGET = { vsHttpProxy: 1.2, vsNestFloor: 0.8 };
const TARGET_COUNT = 8;
const expectedS = 30 + TARGET_COUNT * (S.warmup + 1) + S.rounds * TARGET_COUNT * (S.duration + 1.5);
const deadlineS = Math.round(2 * expectedS + 300 + (build ? 600 : 0));
installCleanup({ deadlineMs: deadlineS * 1000 });

const facts = runFacts('proxy.mjs', argv);
const { say, log, machine } = facts;
say(`proxy benchmark: ${facts.command}`);
say(
  `${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, load average ${machine.loadavg.join(' ')}; ` +
    `${S.rounds} round(s) × ${S.duration} s at ${S.connections} connections (${S.tool}), ${S.backends} backends`,
);

const nginxVersion = (() => {
  const result = spawnSync(S.nginx, ['-v'], { encoding: 'utf8', timeout: 5000 });
  return result.error ? null : (result.stderr || result.stdout).trim().replace(/^nginx version: /, '');
})();
if (!nginxVersion) {
  console.error(`${S.nginx} does not run: install nginx (Debian: apt-get install -y nginx-light) or set BENCH_NGINX`);
  process.exit(2);
}
const httpProxyVersion = JSON.parse(
  readFileSync(join(ROOT, 'node_modules/@fastify/http-proxy/package.json'), 'utf8'),
).version;

// ---------------------------------------------------------------------------------------------------------------
// Requests: GET through the `api` pool, rotating over tenants, scopes and paths (12 variants, one with a query).

const REQUESTS = proxyRequests();

// ---------------------------------------------------------------------------------------------------------------
// Backends and the eight proxies (five contenders, three floors)

const work = tempDir('shieldx-bench-proxy-');
const backends = await startHttpBackends(Array.from({ length: S.backends }, (_, i) => ({ name: `b${i + 1}` })));
const backendUrls = backends.map((b) => b.url);
say(`backends: ${backends.map((b) => `${b.name} ${b.url} (pid ${b.server.pid})`).join(', ')}`);

/** nginx with a generated config in a temporary directory, bounded by `timeout` even if this process is killed. */
async function startNginx() {
  const dir = tempDir('shieldx-bench-nginx-');
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000;
  upstream backends {
${backendUrls.map((url) => `    server ${url.replace('http://', '')};`).join('\n')}
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port};
    location = /readyz { return 200 "ok"; }
    location /proxy/api/ {
      proxy_pass http://backends/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`,
  );
  const errorLog = join(dir, 'error.log');
  const child = spawn('timeout', ['--kill-after=5', `${deadlineS}s`, S.nginx, '-p', dir, '-c', conf, '-e', errorLog], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => (stderr = (stderr + chunk).slice(-8000)));
  // `timeout` passes SIGTERM on to nginx (fast shutdown).
  const unregister = onAbort(() => child.kill('SIGTERM'));
  /** @type {Promise<{ code: number | null, signal: string | null }>} */
  const exited = new Promise((done) => child.once('exit', (code, signal) => done({ code, signal })));
  void exited.then(unregister);
  /** @type {import('./lib/harness.mjs').ServerHandle} */
  const handle = {
    name: 'nginx',
    port,
    origin: `http://127.0.0.1:${port}`,
    child,
    exited,
    startedAt: Date.now(),
    pid: child.pid, // replaced by nginx's own pid once it has written it
    alive: () => child.exitCode === null && child.signalCode === null,
    stderrTail: () => {
      const log = existsSync(errorLog) ? readFileSync(errorLog, 'utf8') : '';
      return `${stderr}${log}`.slice(-4000);
    },
    stop: async () => {
      if (handle.alive()) child.kill('SIGTERM');
      const timer = setTimeout(() => handle.alive() && child.kill('SIGKILL'), 5000);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (!handle.alive()) throw new Error(`nginx exited during start-up:\n${handle.stderrTail()}`);
    try {
      const answer = await fetchJson(`${handle.origin}/readyz`, { timeoutMs: 1000 });
      if (answer.status === 200 && existsSync(join(dir, 'nginx.pid'))) {
        handle.pid = Number(readFileSync(join(dir, 'nginx.pid'), 'utf8').trim()) || child.pid;
        return handle;
      }
    } catch {
      // not yet
    }
    await sleep(100);
  }
  await handle.stop();
  throw new Error(`nginx not ready after 15 s:\n${handle.stderrTail()}`);
}

let snapshot;
const pools = { api: backendUrls };
/** What the orchestrator targets start from (the snapshot exists once they start). */
const gateway = () => ({ snapshot, work, pools });
/** Forwarding alone at each layer of the orchestrator's stack (bench/floor-proxy.mjs), none of the pipeline. */
const FLOORS = [
  { floor: 'node', label: 'floor: node:http + undici, no pipeline' },
  { floor: 'fastify', label: 'floor: Fastify 5 + undici, no pipeline' },
  { floor: 'nest', label: 'floor: NestJS 12 on Fastify 5 + undici, no pipeline' },
];
/** @type {import('./lib/common.mjs').RoundTarget[]} */
const TARGETS = [
  orchestratorTarget(gateway, {
    key: 'orch',
    label: 'orchestrator /proxy, defaults (log level info)',
    name: 'orchestrator (info)',
  }),
  orchestratorTarget(gateway, {
    key: 'orchWarn',
    label: 'orchestrator /proxy, ORCH_LOG_LEVEL=warn',
    name: 'orchestrator (warn)',
    env: { ORCH_LOG_LEVEL: 'warn' },
  }),
  // The gateway turns V8's Maglev compiler off (apps/orchestrator/src/v8-flags.ts); this row keeps it on.
  orchestratorTarget(gateway, {
    key: 'orchMaglev',
    label: 'orchestrator /proxy, node --maglev',
    name: 'orchestrator (--maglev)',
    nodeArgs: ['--maglev'],
  }),
  {
    key: 'httpProxy',
    label: `@fastify/http-proxy ${httpProxyVersion} (bare Fastify 5)`,
    start: () =>
      startLoopbackScript({
        name: '@fastify/http-proxy',
        script: 'bench/baseline-http-proxy.mjs',
        ...asShipped({ env: { UPSTREAMS: backendUrls.join(',') } }),
      }),
  },
  { key: 'nginx', label: `nginx ${nginxVersion} (1 worker)`, start: startNginx },
  ...FLOORS.map(({ floor, label }) => ({
    key: `floor-${floor}`,
    label,
    floor: true,
    start: () =>
      startLoopbackScript({
        name: `floor (${floor})`,
        script: 'bench/floor-proxy.mjs',
        ...asShipped({ env: { FLOOR: floor, UPSTREAMS: backendUrls.join(',') } }),
      }),
  })),
];
const byKey = Object.fromEntries(TARGETS.map((t) => [t.key, t]));

snapshot = await prepareOrchestrator({ build, say, check: startupCheck({ work, pools }) });

/** One request per variant: 200 from one of our backends. */
async function sanityCheck(target) {
  const seen = new Set();
  for (const r of REQUESTS) {
    const answer = await fetchJson(target.server.origin + r.path, { method: r.method, headers: r.headers });
    if (answer.status !== 200 || answer.json?.ok !== true) {
      throw new Error(`${target.label}: GET ${r.path} → ${answer.status} ${answer.body.slice(0, 300)}`);
    }
    seen.add(answer.json.backend);
  }
  return [...seen].sort();
}

const problems = [];
for (const target of TARGETS) {
  target.server = await target.start();
  target.seen = await sanityCheck(target);
  target.rounds = [];
  target.idleRss = rssMB(target.server.pid);
  say(
    `started ${target.label} (pid ${target.server.pid}, ${target.server.origin}); RSS ${fmt.mb(target.idleRss)} MB; ` +
      `sanity requests reached ${target.seen.join(', ')}`,
  );
}

const serverPids = () => [...livePids(TARGETS), ...backends.map((b) => b.server.pid)];
const loadOptions = loadOptionsFor(REQUESTS, S.connections);

await warmUp({ targets: TARGETS, tool: S.tool, seconds: S.warmup, loadOptions, say });

// ---------------------------------------------------------------------------------------------------------------
// Closed-loop rounds, interleaved (the order rotates every round).

await interleavedRounds({
  settings: S,
  targets: TARGETS,
  loadOptions,
  pids: serverPids,
  say,
  labelWidth: 48,
  before: () => Promise.all(backends.map((b) => b.stats({ reset: true }))),
  after: async (target, result) => {
    result.rss = rssMB(target.server.pid);
    result.backendCounts = await Promise.all(backends.map((b) => b.stats()));
  },
  describe: (result) =>
    `errors ${result.errors}  timeouts ${result.timeouts}  ` +
    `non-2xx ${result.non2xx}  backends ${result.backendCounts.map((c) => fmt.int(c)).join('/')}  ` +
    `other processes ${fmt.cores(result.cpu.othersCores)}`,
});

for (const target of TARGETS) {
  const rounds = target.rounds;
  const counts = backends.map((_, i) => sum(rounds.map((r) => r.backendCounts[i])));
  const reached = sum(counts);
  target.summary = {
    ...summarizeRounds(rounds),
    others: median(rounds.map((r) => r.cpu.othersCores)),
    split: counts.map((c) => (reached ? (100 * c) / reached : NaN)),
    reached,
  };
}
const rpsOf = (key) => byKey[key].summary.rps;
const perRound = (key) => byKey[key].summary.perRound;
for (const target of TARGETS) {
  const s = target.summary;
  s.vsHttpProxy = s.rps / rpsOf('httpProxy');
  s.vsNginx = s.rps / rpsOf('nginx');
  s.vsHttpProxyPaired = pairedRatio(s.perRound, perRound('httpProxy'));
  s.vsNginxPaired = pairedRatio(s.perRound, perRound('nginx'));
}

// ---------------------------------------------------------------------------------------------------------------
// After the load: health, counters, stderr, then stop everything.

for (const target of TARGETS.filter((t) => t.key.startsWith('orch'))) {
  try {
    const health = await fetchJson(`${target.server.origin}/health`);
    const pool = health.json?.pools?.api;
    target.health = `${health.status} ${health.json?.status ?? '?'} (api ${pool?.healthy ?? '?'}/${pool?.total ?? '?'})`;
    if (health.status !== 200) problems.push(`${target.label}: GET /health answered ${health.status} after the load`);
    const trouble = await orchestratorTrouble(target.server.origin);
    if (trouble.length) problems.push(`${target.label}: counters after the run: ${trouble.join('; ')}`);
  } catch (error) {
    problems.push(`${target.label}: GET /health or /metrics failed after the load: ${error.message}`);
  }
}
for (const target of TARGETS) {
  const s = target.summary;
  if (s.errors || s.non2xx) {
    problems.push(
      `${target.label}: ${s.socketErrors} socket errors, ${s.timeouts} timeouts (no answer within 2 s) and ${s.non2xx} non-2xx answers; slowest answer ${fmt.ms(s.maxLatency)} ms in the rounds`,
    );
  }
  // Backends count requests received; the generator counts answers completed. More received than answered is the
  // requests in flight at the end of each round (at most the connections) plus retries; fewer means answers that
  // never reached a backend.
  const gap = s.reached - s.requests;
  if (gap < 0 || gap > S.connections * S.rounds) {
    problems.push(
      `${target.label}: the backends received ${fmt.int(s.reached)} requests, the generator completed ` +
        `${fmt.int(s.requests)}`,
    );
  }
  const stderr = target.server.stderrTail().trim();
  if (stderr) problems.push(`${target.label} wrote to stderr / its error log: ${stderr.slice(-500)}`);
}
for (const target of TARGETS) {
  if (target.key === 'nginx') await target.server.stop();
  else await stopChecked(target.server, target.label, problems);
}
for (const backend of backends) await backend.stop();
snapshot.dispose();

// ---------------------------------------------------------------------------------------------------------------
// Report

const orch = byKey.orch.summary;
const orchWarn = byKey.orchWarn.summary;
const orchMaglev = byKey.orchMaglev.summary;
const floorSummary = (floor) => byKey[`floor-${floor}`].summary;
const nest = floorSummary('nest');
const verdicts = [
  {
    budget: `orchestrator req/s ≥ ${BUDGET.vsHttpProxy} × @fastify/http-proxy`,
    measured:
      `${fmt.ratio(orch.vsHttpProxy)} (defaults; paired by round ${fmt.ratio(orch.vsHttpProxyPaired)}); ` +
      `${fmt.ratio(orchWarn.vsHttpProxy)} (log level warn); ${fmt.ratio(orchMaglev.vsHttpProxy)} (Maglev on)`,
    result: passOrMiss(orch.vsHttpProxy >= BUDGET.vsHttpProxy),
  },
  {
    budget: `orchestrator req/s ≥ ${BUDGET.vsNestFloor} × the NestJS + undici floor`,
    measured:
      `${fmt.ratio(orch.rps / nest.rps)} (defaults; paired by round ` +
      `${fmt.ratio(pairedRatio(orch.perRound, nest.perRound))}); ${fmt.ratio(orchWarn.rps / nest.rps)} (log level ` +
      `warn); ${fmt.ratio(orchMaglev.rps / nest.rps)} (Maglev on)`,
    result: passOrMiss(orch.rps >= BUDGET.vsNestFloor * nest.rps),
  },
];
// What the budgets leave for the pipeline: the orchestrator is the NestJS floor plus its pipeline, so a budget of
// B × a peer leaves the pipeline at most 1 − B × peer / floor of the floor's throughput.
const leaves = (budgetRatioOfFloor) => (budgetRatioOfFloor >= 1 ? 'nothing' : fmt.pct(100 * (1 - budgetRatioOfFloor)));
const headroom = [
  ...FLOORS.map(({ floor, label }) => {
    const f = floorSummary(floor);
    return (
      `${label}: ${fmt.ratio(f.vsHttpProxy)} @fastify/http-proxy (paired ${fmt.ratio(f.vsHttpProxyPaired)}), ` +
      `${fmt.ratio(f.vsNginx)} nginx (paired ${fmt.ratio(f.vsNginxPaired)})`
    );
  }),
  `the ${BUDGET.vsHttpProxy}× @fastify/http-proxy budget leaves the pipeline at most ` +
    `${leaves((BUDGET.vsHttpProxy * rpsOf('httpProxy')) / floorSummary('nest').rps)} of the NestJS floor's ` +
    `throughput, the ${BUDGET.vsNestFloor}× floor budget at most ${leaves(BUDGET.vsNestFloor)}; the pipeline at its ` +
    `defaults takes ` +
    `${fmt.pct(100 * (1 - orch.rps / floorSummary('nest').rps))} (log level warn: ` +
    `${fmt.pct(100 * (1 - orchWarn.rps / floorSummary('nest').rps))})`,
];

const headers = [
  'target',
  'req/s',
  'p50 ms',
  'p99 ms',
  'vs @fastify/http-proxy',
  'vs nginx',
  'errors',
  'non-2xx',
  'RSS MB after load',
  'req/s by round',
  'backend split %',
  'other processes',
];
const rows = TARGETS.map((t) => [
  t.label,
  fmt.int(t.summary.rps),
  fmt.ms(t.summary.p50),
  fmt.ms(t.summary.p99),
  fmt.ratio(t.summary.vsHttpProxy),
  fmt.ratio(t.summary.vsNginx),
  t.summary.errors,
  t.summary.non2xx,
  fmt.mb(t.summary.rss),
  t.summary.perRound.map((v) => fmt.int(v)).join(' / '),
  t.summary.split.map((v) => v.toFixed(0)).join(' / '),
  fmt.cores(t.summary.others),
]);
const othersAll = median(TARGETS.flatMap((t) => t.rounds.map((r) => r.cpu.othersCores)));

log('');
log(closedLoopText(S, headers, rows));
log('');
log(textTable(BUDGET_HEADERS, budgetRows(verdicts), 'lll'));
log('');
for (const line of headroom) log(line);
for (const target of TARGETS.filter((t) => t.health))
  log(`GET /health after the load, ${target.label}: ${target.health}`);
log(`load average at the end: ${loadAverage()}`);
printProblems(problems);

if (write) {
  const md = [];
  md.push('## `/proxy`: the orchestrator against @fastify/http-proxy and nginx');
  md.push('');
  md.push(...factsMarkdown(facts, { what: `${S.tool} and the backends` }));
  md.push(
    `Settings: ${S.rounds} round(s) × ${S.duration} s at ${S.connections} connections (${S.tool}, one thread), ` +
      `${S.warmup} s warm-up per target, ${S.backends} backends`,
  );
  md.push(...busyNote(othersAll, machine.cores));
  md.push(...nonDefaultNote(DEFAULTS, S));
  md.push('');
  md.push(
    `Setup: ${S.backends} loopback backends, one \`node:http\` process each (\`bench/backend-http.mjs\`: a 26-byte ` +
      'JSON answer, no delay, keep-alive). In front of them, all running at once: the orchestrator (the built `dist/`, ' +
      'snapshotted for the run; `ORCH_ALLOW_INSECURE=1`, one pool `api` of the backends, every other setting at its ' +
      'default: balancing `ewma`, active health probes, policy base rules, metrics, access log to /dev/null; rate ' +
      'limits raised out of the way with `ORCH_IP_BURST`, `ORCH_IP_BURST_DEGRADED`, `ORCH_TENANT_BURST` = 10⁹), the ' +
      "same at `ORCH_LOG_LEVEL=warn`, the same with V8's Maglev compiler on (`node --maglev`; the gateway turns it " +
      `off itself, apps/orchestrator/src/v8-flags.ts), @fastify/http-proxy ${httpProxyVersion} on bare Fastify 5 ` +
      '(`bench/baseline-http-proxy.mjs`: prefix `/proxy/api`, an undici `BalancedPool` of 128 connections per ' +
      `backend, no logging), and nginx ${nginxVersion} (\`daemon off; master_process off; worker_processes 1\`, ` +
      'access log off, `upstream` round robin with `keepalive 64`, `proxy_http_version 1.1`, ' +
      '`proxy_set_header Connection ""`, `keepalive_requests` raised so it does not recycle connections every 1000 ' +
      'requests as Node does not either). Requests: `GET /proxy/api/<path>` rotating over 12 variants (paths ' +
      '`/v1/items`, `/v1/items/42`, `/v1/orders?page=2`; `x-tenant` t1/t2/acme/globex; `x-scope` read/write). Each ' +
      'round measures all eight one after the other. Beside them, three floors ' +
      '(`bench/floor-proxy.mjs`) forward the same requests the way the orchestrator does (an undici `BalancedPool` ' +
      'of 128 connections per backend, `dispatch` streaming into the response, hop-by-hop headers dropped) with none ' +
      'of its pipeline: on `node:http` alone, on Fastify 5 (one route, reply hijacked), and on NestJS 12 with ' +
      '`@nestjs/platform-fastify` (an empty application, the route on its Fastify instance as `proxy.module.ts` ' +
      'registers it). The orchestrator is the NestJS floor plus its pipeline. Every Node server, the peers and the ' +
      `floors too, runs with the V8 flags and malloc settings the gateway ships with (\`${GATEWAY_NODE_OPTIONS}\`, ` +
      `${GATEWAY_MALLOC_TEXT}; scripts/gateway-process.mjs). Every target is measured once per round, one after the ` +
      'other, the order rotating every round.',
  );
  md.push(...closedLoopMarkdown(S, headers, rows));
  md.push(
    'Ratios are of the medians; the budget line also gives the median of the per-round ratios (each round measures ' +
      'the targets within seconds of each other). Errors (socket errors and timeouts) and non-2xx are totals over ' +
      'all rounds. "Backend split": share of the requests each backend received (counted by the backends, health ' +
      'probes excluded). "Other processes": CPU cores used by everything outside this benchmark (its servers, ' +
      'backends and load generator) during the round, median.',
  );
  md.push(...budgetsMarkdown(verdicts));
  md.push('');
  md.push('### What the budgets leave for the pipeline');
  md.push('');
  md.push(
    'The floors against the peers (ratios of the medians, and the median of the per-round ratios), and what each ' +
      'budget leaves for everything the orchestrator does beyond forwarding: a budget of B × a peer lets the ' +
      'pipeline cost at most 1 − B × peer / floor of the NestJS floor’s throughput.',
  );
  md.push('');
  for (const line of headroom) md.push(`- ${line}`);
  writeReport('proxy', md, { problems, gap: true });
}
process.exit(0);
