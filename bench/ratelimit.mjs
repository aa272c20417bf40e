// Benchmark of the rate limiter's cost on `POST /route`: the same orchestrator build, same settings, with the
// in-process token buckets, with the Redis buckets as shipped (REDIS_ADDR: the client-IP and tenant tokens taken by one
// Lua script, the takes of concurrent requests batched into one call, over one ioredis connection) and with Redis and
// ORCH_RATELIMIT_REDIS_BATCH=1 (one call per request), measured in the same run with rounds interleaved. Limits are
// raised to 10⁹ so nothing is refused: every request pays for both takes. A redis-server is started on a free loopback
// port for the run (it shares the machine's cores with everything else, as it would on a one-box deployment); its CPU
// per request and the requests served per script call are reported. Writes the `ratelimit` section of
// docs/BENCHMARKS.md.
//
//   node bench/ratelimit.mjs [--no-build] [--no-write]
//
// Environment (defaults in brackets): BENCH_ROUNDS [3], BENCH_DURATION [10] s per round, BENCH_CONNECTIONS [64],
// BENCH_WARMUP [3] s, BENCH_RATE [2000] req/s and BENCH_RATE_DURATION [10] s for the fixed-rate latency run,
// BENCH_TOOL [wrk if installed, else autocannon].
//
// Budget (issue 6): the Redis limiter costs at most 25 % of /route throughput, i.e. Redis/in-process req/s ≥ 0.75.
import { spawnSync } from 'node:child_process';
import {
  cpuSeconds as processCpuSeconds,
  envNumber,
  fetchJson,
  fmt,
  installCleanup,
  median,
  rssMB,
  runLoad,
  runPaced,
  sleep,
  startStubBackends,
  sum,
  tempDir,
  summarizeRounds,
} from './lib/harness.mjs';
import {
  alternated,
  benchArgs,
  redisCommand,
  startRedisServer,
  checkAlive,
  closedLoopSettings,
  factsMarkdown,
  loadOptionsFor,
  nonDefaultNote,
  prepareOrchestrator,
  roundHead,
  runFacts,
  sendRequest,
  startOrchestrator,
  stopChecked,
  warmUp,
  SHIPPED_TEXT,
} from './lib/common.mjs';
import { numberedRouteRequests, routePools } from './lib/requests.mjs';
import { closedLoopMarkdown, closedLoopText, markdownTable, textTable, writeReport } from './lib/report.mjs';

// ---------------------------------------------------------------------------------------------------------------
// Settings

// `--profile` is accepted (bench/run-all.mjs passes it to every script) but does nothing here.
const { argv, build, write } = benchArgs(
  'ratelimit.mjs',
  'env: BENCH_ROUNDS=3 BENCH_DURATION=10 BENCH_CONNECTIONS=64 BENCH_WARMUP=3 BENCH_RATE=2000 ' +
    'BENCH_RATE_DURATION=10 BENCH_TOOL=wrk|autocannon',
  { accept: ['--profile'] },
);

const DEFAULTS = { rounds: 3, duration: 10, connections: 64, warmup: 3, rate: 2000, rateDuration: 10 };
const S = {
  ...closedLoopSettings(DEFAULTS),
  rate: envNumber('BENCH_RATE', DEFAULTS.rate, { min: 1 }),
  rateDuration: envNumber('BENCH_RATE_DURATION', DEFAULTS.rateDuration, { min: 1 }),
};
const BUDGET_RATIO = 0.75;
const RATE_WARMUP = 2;
const expectedS = 15 + 2 * (S.warmup + 1) + S.rounds * 2 * (S.duration + 1) + 2 * (RATE_WARMUP + S.rateDuration + 3);
installCleanup({ deadlineMs: (2 * expectedS + 120 + (build ? 400 : 0)) * 1000 });

// Requests rotate over services and tenants (as bench/route.mjs does); the client IP is always 127.0.0.1.
const REQUESTS = numberedRouteRequests();

const facts = runFacts('ratelimit.mjs', argv);
const { log, say, machine, command } = facts;

// ---------------------------------------------------------------------------------------------------------------
// redis-server

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat; null when unreadable. */
const cpuSeconds = (pid) => processCpuSeconds(pid, { clockTicks: CLOCK_TICKS, unreadable: null });

// ---------------------------------------------------------------------------------------------------------------
// Start everything

say(`rate-limit benchmark: ${command}`);
say(
  `${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, load average ${machine.loadavg.join(' ')}; ` +
    `${S.rounds} round(s) × ${S.duration} s at ${S.connections} connections (${S.tool})`,
);
const snapshot = await prepareOrchestrator({ build, say });
const redis = await startRedisServer();
say(`redis-server ${redis.version} on ${redis.url} (pid ${redis.pid})`);
const stubs = await startStubBackends(7);
const pools = routePools(stubs.urls);
const work = tempDir('shieldx-bench-ratelimit-');

/** @type {import('./lib/common.mjs').RoundTarget[]} */
const TARGETS = [
  { key: 'memory', label: 'in-process token buckets', env: {} },
  { key: 'redis', label: 'Redis token buckets (REDIS_ADDR)', env: { REDIS_ADDR: `127.0.0.1:${redis.port}` } },
  {
    key: 'redis-unbatched',
    label: 'Redis, one call per request (BATCH=1)',
    env: { REDIS_ADDR: `127.0.0.1:${redis.port}`, ORCH_RATELIMIT_REDIS_BATCH: '1' },
  },
];
const REDIS_TARGETS = TARGETS.filter((t) => t.key !== 'memory');

for (const target of TARGETS) {
  target.server = await startOrchestrator({
    snapshot,
    name: `orchestrator (${target.key})`,
    work,
    pools,
    env: target.env,
  });
  for (const r of REQUESTS) {
    const answer = await sendRequest(target.server.origin, r);
    if (answer.status !== 200) {
      throw new Error(`${target.label}: POST /route ${r.body} → ${answer.status} ${answer.body.slice(0, 300)}`);
    }
  }
  const metrics = await fetchJson(`${target.server.origin}/metrics`);
  target.redisUp = metrics.body.match(/^orchestrator_ratelimit_redis_up (\d+)/m)?.[1] ?? null;
  target.rounds = [];
  say(`started ${target.label} (pid ${target.server.pid}); orchestrator_ratelimit_redis_up ${target.redisUp ?? '—'}`);
}
const keys = await redisCommand(redis.port, 'KEYS shieldx:rl:*');
for (const target of REDIS_TARGETS) {
  if (target.redisUp !== '1' || !keys.includes('shieldx:rl:ip:127.0.0.1')) {
    throw new Error(`${target.label} does not keep its buckets in Redis (redis_up ${target.redisUp}): ${keys}`);
  }
}

function byKey(key) {
  return TARGETS.find((t) => t.key === key);
}
const loadOptions = loadOptionsFor(REQUESTS, S.connections);

await warmUp({ targets: TARGETS, tool: S.tool, seconds: S.warmup, loadOptions, say });

// ---------------------------------------------------------------------------------------------------------------
// Closed-loop rounds, interleaved; CPU of the orchestrator and of redis-server measured over each round.

const evalCalls = (text) =>
  sum([...text.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)].map((match) => Number(match[1])));
/** Scripts Redis has run so far. */
const scriptsRun = async () => evalCalls(await redisCommand(redis.port, 'INFO commandstats'));
for (let round = 0; round < S.rounds; round++) {
  for (const target of alternated(TARGETS, round)) {
    await sleep(500);
    const scripts0 = await scriptsRun();
    const cpu0 = cpuSeconds(target.server.pid);
    const redisCpu0 = cpuSeconds(redis.pid);
    const result = await runLoad(S.tool, loadOptions(target, S.duration));
    checkAlive(target, `round ${round + 1}`);
    result.cpu = (cpuSeconds(target.server.pid) - cpu0) / result.durationS;
    result.redisCpu = (cpuSeconds(redis.pid) - redisCpu0) / result.durationS;
    result.scripts = (await scriptsRun()) - scripts0;
    result.rss = rssMB(target.server.pid);
    target.rounds.push(result);
    say(
      roundHead(round, S.rounds, target.label, 38, result) +
        `orchestrator CPU ${fmt.pct(100 * result.cpu)}  ` +
        `redis CPU ${fmt.pct(100 * result.redisCpu)}  errors ${result.errors + result.timeouts}  non-2xx ${result.non2xx}`,
    );
  }
}

for (const target of TARGETS) {
  const rounds = target.rounds;
  target.summary = {
    ...summarizeRounds(rounds),
    cpu: median(rounds.map((r) => r.cpu)),
    redisCpu: median(rounds.map((r) => r.redisCpu)),
    redisUsPerRequest: median(rounds.map((r) => (1e6 * r.redisCpu) / r.rps)),
    requestsPerScript: sum(rounds.map((r) => r.requests)) / Math.max(1, sum(rounds.map((r) => r.scripts))),
  };
}
const memory = byKey('memory');
const viaRedis = byKey('redis');
const ratio = viaRedis.summary.rps / memory.summary.rps;

// ---------------------------------------------------------------------------------------------------------------
// Fixed rate: the latency the Redis round trips add at a rate both can sustain.

for (const target of TARGETS) {
  await sleep(500);
  const result = await runPaced({
    origin: target.server.origin,
    requests: REQUESTS,
    rate: S.rate,
    durationS: S.rateDuration,
    warmupS: RATE_WARMUP,
    connections: S.connections,
  });
  checkAlive(target, 'the fixed-rate run');
  target.paced = result;
  say(
    `fixed rate ${S.rate}/s ${target.label.padEnd(34)} achieved ${fmt.int(result.rps)}/s  p50 ${fmt.ms(result.p50)}  ` +
      `p99 ${fmt.ms(result.p99)}  p99.9 ${fmt.ms(result.p999)} ms  errors ${result.errors + result.timeouts}  ` +
      `non-2xx ${result.non2xx}`,
  );
}

const problems = [];
for (const target of TARGETS) {
  const s = target.summary;
  if (s.errors || s.non2xx) problems.push(`${target.label}: ${s.errors} errors and ${s.non2xx} non-2xx in the rounds`);
  const p = target.paced;
  if (p.errors || p.timeouts || p.non2xx) {
    problems.push(`${target.label}: ${p.errors + p.timeouts} errors and ${p.non2xx} non-2xx in the fixed-rate run`);
  }
  const metrics = await fetchJson(`${target.server.origin}/metrics`);
  const denied = [...metrics.body.matchAll(/^orchestrator_ratelimit_denied_total\{[^}]*\} (\d+)/gm)];
  if (denied.some((match) => Number(match[1]) > 0)) problems.push(`${target.label}: some requests were rate limited`);
  await stopChecked(target.server, target.label, problems);
}
await redis.stop();
await stubs.close();

// ---------------------------------------------------------------------------------------------------------------
// Report

const headers = [
  'limiter',
  'req/s',
  'p50 ms',
  'p99 ms',
  'orchestrator CPU',
  'redis-server CPU',
  'redis µs/request',
  'requests/script',
  'errors',
  'non-2xx',
  'vs in-process',
  'req/s by round',
];
const rows = TARGETS.map((t) => [
  t.label,
  fmt.int(t.summary.rps),
  fmt.ms(t.summary.p50),
  fmt.ms(t.summary.p99),
  fmt.pct(100 * t.summary.cpu),
  t.key === 'memory' ? '—' : fmt.pct(100 * t.summary.redisCpu),
  t.key === 'memory' ? '—' : t.summary.redisUsPerRequest.toFixed(1),
  t.key === 'memory' ? '—' : t.summary.requestsPerScript.toFixed(1),
  t.summary.errors,
  t.summary.non2xx,
  fmt.ratio(t.summary.rps / memory.summary.rps),
  t.summary.perRound.map((v) => fmt.int(v)).join(' / '),
]);
const rateHeaders = ['limiter', 'achieved req/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'errors', 'non-2xx'];
const rateRows = TARGETS.map((t) => [
  t.label,
  fmt.int(t.paced.rps),
  fmt.ms(t.paced.p50),
  fmt.ms(t.paced.p99),
  fmt.ms(t.paced.p999),
  fmt.ms(t.paced.max),
  t.paced.errors + t.paced.timeouts,
  t.paced.non2xx,
]);
const verdict = ratio >= BUDGET_RATIO ? 'pass' : 'miss';

log('');
log(closedLoopText(S, headers, rows));
log('');
log(`Fixed rate ${fmt.int(S.rate)} req/s for ${S.rateDuration} s:`);
log(textTable(rateHeaders, rateRows));
log('');
log(
  `Redis/in-process req/s = ${fmt.ratio(ratio)} (budget ≥ ${BUDGET_RATIO}): ${verdict}. ` +
    REDIS_TARGETS.map((t) => `${t.label}: ${t.summary.requestsPerScript.toFixed(1)} requests per script`).join('; '),
);
for (const problem of problems) log(`problem: ${problem}`);

if (write) {
  const md = [];
  md.push('## Rate limiting: in-process vs Redis token buckets on `POST /route`');
  md.push('');
  md.push(
    ...factsMarkdown(facts, { what: 'load generator and redis-server', versions: `; redis-server ${redis.version}` }),
  );
  md.push(...nonDefaultNote(DEFAULTS, S, { title: 'Short run, not the default settings' }));
  md.push('');
  md.push(
    'Setup: the built orchestrator three times, same settings (defaults, log level info to /dev/null, three pools of ' +
      `stub backends, limits at 10⁹ so nothing is refused; run ${SHIPPED_TEXT}): without Redis, with ` +
      '`REDIS_ADDR` pointing at a ' +
      'redis-server started for the run (`--save "" --appendonly no`), and with Redis and ' +
      '`ORCH_RATELIMIT_REDIS_BATCH=1`. Each `/route` request takes two tokens, client IP and tenant. In-process the IP ' +
      'token is taken before the body is read and the tenant token after validation; with Redis both are taken by the ' +
      'Lua token bucket at the tenant step, in one round trip (refused IPs are still refused before the body, from a ' +
      'local memory of the refusal). As shipped, the takes of the requests handled in one turn of the event loop go ' +
      'out as one `EVALSHA` (up to 32 buckets); with `ORCH_RATELIMIT_REDIS_BATCH=1` each request sends its own. ' +
      'Rounds alternate between the three.',
  );
  md.push(...closedLoopMarkdown(S, headers, rows));
  md.push(
    'CPU is the share of one core used by the process during the round (/proc utime + stime); redis µs/request is ' +
      "redis-server's CPU divided by the requests served (median of the rounds); requests/script is the requests " +
      'served per script Redis ran (`INFO commandstats`), over the rounds.',
  );
  md.push('');
  md.push(`### Fixed rate: ${fmt.int(S.rate)} req/s for ${S.rateDuration} s (paced open loop)`);
  md.push('');
  md.push(markdownTable(rateHeaders, rateRows));
  md.push('');
  md.push('### Budget');
  md.push('');
  md.push(
    markdownTable(
      ['budget', 'measured', 'verdict'],
      [[`Redis limiter costs ≤ 25 % of /route req/s (ratio ≥ ${BUDGET_RATIO})`, fmt.ratio(ratio), verdict]],
      'lll',
    ),
  );
  writeReport('ratelimit', md, { problems });
}
process.exit(0);
