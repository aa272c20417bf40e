// Benchmark of ORCH_WORKERS on `POST /route`: the same orchestrator build and settings started once with
// ORCH_WORKERS=1 (one process serves, as without the setting) and once with ORCH_WORKERS=2 (a node:cluster primary
// handing connections round-robin to two worker processes), measured in the same run with rounds interleaved. The load
// generator runs on the same machine, so on a 2-core box it competes with the workers for the cores: the figure is
// what two workers buy here, not what they buy on a dedicated host. Writes the `workers` section of
// docs/BENCHMARKS.md.
//
//   node bench/workers.mjs [--no-build] [--no-write]
//
// Environment (defaults in brackets): BENCH_ROUNDS [3], BENCH_DURATION [10] s per round, BENCH_CONNECTIONS [64],
// BENCH_WARMUP [3] s, BENCH_TOOL [wrk if installed, else autocannon].
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildOrchestrator,
  cpuMeter,
  envNumber,
  fetchJson,
  fmt,
  freePort,
  gitInfo,
  hasWrk,
  installCleanup,
  machineInfo,
  median,
  rssMB,
  runLoad,
  sleep,
  snapshotOrchestrator,
  startServer,
  startStubBackends,
  sum,
  tempDir,
  summarizeRounds,
} from './lib/harness.mjs';
import { factsMarkdown } from './lib/common.mjs';
import { markdownTable, textTable, writeSection } from './lib/report.mjs';

// ---------------------------------------------------------------------------------------------------------------
// Settings

const USAGE = 'usage: node bench/workers.mjs [--no-build] [--no-write]';
const argv = process.argv.slice(2);
for (const arg of argv) {
  if (!['--no-build', '--no-write', '--help', '-h'].includes(arg))
    console.error(`ignoring unknown argument ${arg} (${USAGE})`);
}
if (argv.includes('--help') || argv.includes('-h')) {
  console.log(
    `${USAGE}\nenv: BENCH_ROUNDS=3 BENCH_DURATION=10 BENCH_CONNECTIONS=64 BENCH_WARMUP=3 BENCH_TOOL=wrk|autocannon`,
  );
  process.exit(0);
}

const DEFAULTS = { rounds: 3, duration: 10, connections: 64, warmup: 3 };
const S = {
  rounds: envNumber('BENCH_ROUNDS', DEFAULTS.rounds, { min: 1 }),
  duration: envNumber('BENCH_DURATION', DEFAULTS.duration, { min: 1 }),
  connections: envNumber('BENCH_CONNECTIONS', DEFAULTS.connections, { min: 1 }),
  warmup: envNumber('BENCH_WARMUP', DEFAULTS.warmup, { min: 0 }),
  tool: process.env.BENCH_TOOL || (hasWrk() ? 'wrk' : 'autocannon'),
  build: !argv.includes('--no-build') && process.env.BENCH_BUILD !== '0',
  write: !argv.includes('--no-write'),
};
if (!['wrk', 'autocannon'].includes(S.tool)) {
  console.error(`BENCH_TOOL=${S.tool}: expected wrk or autocannon`);
  process.exit(2);
}
const expectedS = 20 + 2 * (S.warmup + 1) + S.rounds * 2 * (S.duration + 1);
installCleanup({ deadlineMs: (2 * expectedS + 120 + (S.build ? 400 : 0)) * 1000 });

// Requests rotate over services and tenants (as bench/route.mjs does).
const SERVICES = ['api', 'search', 'static'];
const TENANTS = ['t1', 't2', 'acme', 'globex'];
const REQUESTS = [];
for (let i = 0; i < 12; i++) {
  REQUESTS.push({
    method: 'POST',
    path: '/route',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      service: SERVICES[i % 3],
      tenant: TENANTS[i % 4],
      scope: i % 2 ? 'write' : 'read',
      path: `/v1/r${i}`,
    }),
  });
}

const log = (...parts) => console.log(...parts);
const say = (text) => log(`[${new Date().toISOString().slice(11, 19)}] ${text}`);
const machine = machineInfo();
const git = gitInfo();
const startedAt = new Date();
const benchEnv = Object.entries(process.env)
  .filter(([key]) => key.startsWith('BENCH_'))
  .sort()
  .map(([key, value]) => `${key}=${value}`);
const command = [...benchEnv, 'node bench/workers.mjs', ...argv].join(' ');
const nonDefault = Object.entries(DEFAULTS).filter(([key, value]) => S[key] !== value);

/** The live processes of a server: the process itself and its descendants (the workers of a primary). */
function processTree(rootPid) {
  const parents = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      parents.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const tree = [rootPid];
  for (let i = 0; i < tree.length; i++) {
    for (const [pid, parent] of parents) if (parent === tree[i]) tree.push(pid);
  }
  return tree;
}

// ---------------------------------------------------------------------------------------------------------------
// Start both

say(`workers benchmark: ${command}`);
say(
  `${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, load average ${machine.loadavg.join(' ')}; ` +
    `${S.rounds} round(s) × ${S.duration} s at ${S.connections} connections (${S.tool})`,
);
if (S.build) {
  const built = await buildOrchestrator({ log: say });
  if (!built.ok) {
    console.error(`orchestrator build failed; no figures written:\n${built.output.slice(-4000)}`);
    process.exit(1);
  }
}
const snapshot = snapshotOrchestrator();
const stubs = await startStubBackends(7);
const pools = { api: stubs.urls.slice(0, 3), search: stubs.urls.slice(3, 5), static: stubs.urls.slice(5, 7) };
const hostPort = (urls) => urls.map((url) => url.replace('http://', '')).join(',');
const work = tempDir('shieldx-bench-workers-');

const TARGETS = [
  { key: 'one', workers: 1, label: 'ORCH_WORKERS=1 (one process)' },
  { key: 'two', workers: 2, label: 'ORCH_WORKERS=2 (primary + 2 workers)' },
];

for (const target of TARGETS) {
  const port = await freePort();
  target.server = await startServer({
    name: `orchestrator (${target.label})`,
    script: snapshot.main,
    cwd: snapshot.dir,
    port,
    env: {
      ORCH_ALLOW_INSECURE: '1',
      ORCH_PORT: String(port),
      ORCH_HOST: '127.0.0.1',
      ORCH_WORKERS: String(target.workers),
      ORCH_POOL_API: hostPort(pools.api),
      ORCH_POOL_SEARCH: hostPort(pools.search),
      ORCH_POOL_STATIC: hostPort(pools.static),
      ORCH_IP_BURST: '1000000000',
      ORCH_IP_BURST_DEGRADED: '1000000000',
      ORCH_TENANT_BURST: '1000000000',
      ORCH_LEDGER_PATH: join(work, `ledger-${target.key}.jsonl`),
    },
  });
  // With workers, /readyz answers as soon as the first one listens: wait until every worker answers.
  const seen = new Set();
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    for (const r of REQUESTS) {
      const answer = await fetchJson(target.server.origin + r.path, {
        method: r.method,
        headers: r.headers,
        body: r.body,
      });
      if (answer.status !== 200) {
        throw new Error(`${target.label}: POST /route ${r.body} → ${answer.status} ${answer.body.slice(0, 300)}`);
      }
      seen.add(answer.headers['x-shieldx-worker'] ?? 'single');
    }
    if (seen.size >= target.workers) break;
    await sleep(100);
  }
  if (seen.size < target.workers) throw new Error(`${target.label}: only ${[...seen].join(', ')} answered`);
  target.pids = processTree(target.server.pid);
  target.rounds = [];
  say(`started ${target.label}: processes ${target.pids.join(', ')}; answering: ${[...seen].sort().join(', ')}`);
}

function checkAlive(target, during) {
  if (!target.server.alive()) {
    throw new Error(`${target.label} died during ${during}:\n${target.server.stderrTail().slice(-3000)}`);
  }
  const now = processTree(target.server.pid);
  if (now.length !== target.pids.length) {
    throw new Error(`${target.label}: ${target.pids.length} processes at the start, ${now.length} after ${during}`);
  }
}
const loadOptions = (target, durationS) => ({
  origin: target.server.origin,
  requests: REQUESTS,
  connections: S.connections,
  durationS,
});

if (S.warmup > 0) {
  for (const target of TARGETS) {
    await runLoad(S.tool, loadOptions(target, S.warmup));
    checkAlive(target, 'warm-up');
  }
  say(`warmed up (${S.warmup} s each)`);
}

// ---------------------------------------------------------------------------------------------------------------
// Closed-loop rounds, interleaved; CPU of the whole process tree, of the machine, and of everything else.

for (let round = 0; round < S.rounds; round++) {
  const order = round % 2 === 0 ? TARGETS : [...TARGETS].reverse();
  for (const target of order) {
    await sleep(500);
    const meter = cpuMeter(target.pids);
    const result = await runLoad(S.tool, loadOptions(target, S.duration));
    const cpu = meter();
    checkAlive(target, `round ${round + 1}`);
    // cpuMeter counts this process and its finished children (the load generator) too; the tree alone is wanted.
    result.treeCores = cpu.oursCores;
    result.busyCores = cpu.busyCores;
    result.othersCores = cpu.othersCores;
    result.rss = sum(target.pids.map((pid) => rssMB(pid) ?? 0));
    target.rounds.push(result);
    say(
      `round ${round + 1}/${S.rounds} ${target.label.padEnd(38)} ${fmt.int(result.rps).padStart(7)} req/s  ` +
        `p50 ${fmt.ms(result.p50)} ms  p99 ${fmt.ms(result.p99)} ms  machine ${fmt.cores(result.busyCores)}  ` +
        `others ${fmt.cores(result.othersCores)}  errors ${result.errors + result.timeouts}  non-2xx ${result.non2xx}`,
    );
  }
}

for (const target of TARGETS) {
  const rounds = target.rounds;
  target.summary = {
    ...summarizeRounds(rounds),
    busy: median(rounds.map((r) => r.busyCores)),
    others: median(rounds.map((r) => r.othersCores)),
  };
}
const one = TARGETS[0];
const two = TARGETS[1];
const ratio = two.summary.rps / one.summary.rps;

const problems = [];
for (const target of TARGETS) {
  const s = target.summary;
  if (s.errors || s.non2xx) problems.push(`${target.label}: ${s.errors} errors and ${s.non2xx} non-2xx in the rounds`);
  const { code, signal } = await target.server.stop({ graceMs: 15_000 });
  if (!['SIGTERM', null].includes(signal) || ![0, null, 143].includes(code)) {
    problems.push(`${target.label} exit on SIGTERM: code ${code}, signal ${signal}`);
  }
}
await stubs.close();

// ---------------------------------------------------------------------------------------------------------------
// Report

const headers = [
  'setting',
  'processes',
  'req/s',
  'p50 ms',
  'p99 ms',
  'machine CPU',
  'RSS MB',
  'errors',
  'non-2xx',
  'vs 1',
  'req/s by round',
];
const rows = TARGETS.map((t) => [
  t.label,
  t.pids.length,
  fmt.int(t.summary.rps),
  fmt.ms(t.summary.p50),
  fmt.ms(t.summary.p99),
  fmt.cores(t.summary.busy),
  fmt.mb(t.summary.rss),
  t.summary.errors,
  t.summary.non2xx,
  fmt.ratio(t.summary.rps / one.summary.rps),
  t.summary.perRound.map((v) => fmt.int(v)).join(' / '),
]);

log('');
log(`Closed loop: median of ${S.rounds} round(s) of ${S.duration} s, ${S.connections} connections, ${S.tool}`);
log(textTable(headers, rows));
log('');
log(
  `ORCH_WORKERS=2 / ORCH_WORKERS=1 req/s = ${fmt.ratio(ratio)} on ${machine.cores} cores shared with the load generator.`,
);
for (const problem of problems) log(`problem: ${problem}`);

if (S.write) {
  const md = [];
  md.push('## Workers: `POST /route` with ORCH_WORKERS=1 and ORCH_WORKERS=2');
  md.push('');
  md.push(...factsMarkdown({ command, startedAt, machine, git }, { what: 'the load generator' }));
  if (nonDefault.length) {
    md.push('');
    md.push(
      `> **Short run, not the default settings** (${nonDefault.map(([k, v]) => `${k} ${S[k]} instead of ${v}`).join(', ')}): ` +
        'figures are indicative only.',
    );
  }
  md.push('');
  md.push(
    'Setup: the built orchestrator twice, same settings (no Redis, log level info to /dev/null, three pools of stub ' +
      'backends, limits at 10⁹ so nothing is refused): once with `ORCH_WORKERS=1` (the process serves alone) and once ' +
      'with `ORCH_WORKERS=2` (a node:cluster primary accepting connections and handing them round-robin to two worker ' +
      'processes). The load generator opens its connections at the start of each round, so both workers get half of ' +
      'them. Rounds alternate between the two. Machine CPU is the whole machine (user + system), load generator ' +
      'included; RSS is the sum over the process tree.',
  );
  md.push('');
  md.push(
    `### Closed loop (${S.tool}, ${S.connections} connections): medians of ${S.rounds} round(s) of ${S.duration} s`,
  );
  md.push('');
  md.push(markdownTable(headers, rows));
  md.push('');
  md.push(
    `Two workers answer ${fmt.ratio(ratio)} the requests per second of one process on this ${machine.cores}-core ` +
      'machine, where the load generator needs cores too (see "Machine CPU" and the load average above).',
  );
  if (problems.length) {
    md.push('');
    md.push('### Problems seen in this run');
    md.push('');
    for (const problem of problems) md.push(`- ${problem.replace(/\n/g, ' ')}`);
  }
  const file = writeSection('workers', md.join('\n'));
  log(`wrote the "workers" section of ${file}`);
}
process.exit(0);
