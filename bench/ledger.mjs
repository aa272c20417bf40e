// Benchmark of the audit ledger, in two parts, written to the `ledger` section of docs/BENCHMARKS.md:
//
// 1. The writer alone (libs/ledger): appends/s with group commit (one write + one fdatasync per batch), compared with
//    one fdatasync per append, plus verify throughput. Real files in a temporary directory on the file system of the
//    OS temp dir; each figure is the median of BENCH_ROUNDS runs. The library is compiled with SWC (@swc/core, as the
//    orchestrator build does) into the temporary directory first, so this measures the code the tests cover.
// 2. `POST /route` req/s of the built orchestrator while policy denials are written to its ledger at ~1k/s, against
//    the same side stream of allowed requests (nothing written), same process, rounds alternating.
//
//   node bench/ledger.mjs [--no-build] [--no-write] [--no-route]
//
// Environment (defaults in brackets): BENCH_ROUNDS [3], BENCH_LEDGER_ENTRIES [200000] for the group-commit runs,
// BENCH_LEDGER_SYNC_ENTRIES [2000] for the one-fsync-per-append run, BENCH_LEDGER_DIR [os.tmpdir()];
// BENCH_DURATION [10] s per /route round, BENCH_CONNECTIONS [64], BENCH_DENY_RATE [1000] denials/s, BENCH_WARMUP [2] s,
// BENCH_TOOL [wrk if installed, else autocannon].
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { transformFile } from '@swc/core';
import {
  buildOrchestrator,
  fetchJson,
  fmt as format,
  gitInfo,
  hasWrk,
  installCleanup,
  median as medianOf,
  runLoad,
  runPaced,
  sleep,
  snapshotOrchestrator,
  startStubBackends,
  tempDir,
} from './lib/harness.mjs';
import {
  SHIPPED_TEXT,
  alternated,
  benchArgs,
  factsMarkdown,
  nonDefaultNote,
  runFacts,
  startOrchestrator,
} from './lib/common.mjs';
import { postRoute } from './lib/requests.mjs';
import { markdownTable, textTable, writeReport } from './lib/report.mjs';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const SRC = join(ROOT, 'libs/ledger/src');

function envInt(name, fallback, min = 1) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) throw new Error(`${name}=${raw}: expected an integer >= ${min}`);
  return value;
}

const { argv, build, write } = benchArgs(
  'ledger.mjs',
  'env: BENCH_ROUNDS=3 BENCH_LEDGER_ENTRIES=200000 BENCH_LEDGER_SYNC_ENTRIES=2000 BENCH_LEDGER_DIR=<tmp> ' +
    'BENCH_DURATION=10 BENCH_CONNECTIONS=64 BENCH_DENY_RATE=1000 BENCH_WARMUP=2 BENCH_TOOL=wrk|autocannon',
  { synopsis: '[--no-build] [--no-write] [--no-route]', accept: ['--no-route'] },
);

const ROUNDS = envInt('BENCH_ROUNDS', 3);
const ENTRIES = envInt('BENCH_LEDGER_ENTRIES', 200_000);
const SYNC_ENTRIES = envInt('BENCH_LEDGER_SYNC_ENTRIES', 2000);
const BASE_DIR = process.env.BENCH_LEDGER_DIR || os.tmpdir();
const DURATION = envInt('BENCH_DURATION', 10);
const CONNECTIONS = envInt('BENCH_CONNECTIONS', 64);
const DENY_RATE = envInt('BENCH_DENY_RATE', 1000);
const WARMUP = envInt('BENCH_WARMUP', 2, 0);
const TOOL = process.env.BENCH_TOOL || (hasWrk() ? 'wrk' : 'autocannon');
const ROUTE = !argv.includes('--no-route');
const DEFAULTS = { BENCH_ROUNDS: 3, BENCH_LEDGER_ENTRIES: 200_000, BENCH_DURATION: 10, BENCH_DENY_RATE: 1000 };
const SETTINGS = {
  BENCH_ROUNDS: ROUNDS,
  BENCH_LEDGER_ENTRIES: ENTRIES,
  BENCH_DURATION: DURATION,
  BENCH_DENY_RATE: DENY_RATE,
};
installCleanup({ deadlineMs: (600 + ROUNDS * 2 * (DURATION + WARMUP + 10) + (build ? 400 : 0)) * 1000 });
const facts = runFacts('ledger.mjs', argv);
const { say } = facts;

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const fmt = (n) => Math.round(n).toLocaleString('en-US');

async function compileLib(outDir) {
  await mkdir(outDir, { recursive: true });
  const names = (await readdir(SRC)).filter((name) => name.endsWith('.ts') && !name.endsWith('.spec.ts'));
  for (const name of names) {
    const { code } = await transformFile(join(SRC, name), {
      swcrc: false,
      configFile: false,
      module: { type: 'es6', resolveFully: true },
      jsc: { baseUrl: SRC, target: 'es2022', parser: { syntax: 'typescript' } },
    });
    await writeFile(join(outDir, name.replace(/\.ts$/, '.js')), code);
  }
  await writeFile(join(outDir, 'package.json'), '{ "type": "module" }\n');
  return import(pathToFileURL(join(outDir, 'index.js')).href);
}

/** A realistic security event: a policy deny with a handful of fields. */
const event = (i) => ({
  type: 'policy.deny',
  corrId: `req-${i.toString(36)}`,
  data: { route: '/api/orders', method: 'POST', tenant: 't-42', rule: 'deny_unknown_client', client: '203.0.113.0', i },
});

/** The file system of the writer, counting fdatasync calls. */
function countingFs(nodeFileSystem) {
  const counts = { syncs: 0 };
  return {
    counts,
    fs: {
      ...nodeFileSystem,
      openAppend: async (path) => {
        const handle = await nodeFileSystem.openAppend(path);
        return {
          append: (data) => handle.append(data),
          read: (buffer, length, position) => handle.read(buffer, length, position),
          size: () => handle.size(),
          truncate: (length) => handle.truncate(length),
          sync: () => {
            counts.syncs++;
            return handle.sync();
          },
          close: () => handle.close(),
        };
      },
    },
  };
}

async function main() {
  const work = await mkdtemp(join(BASE_DIR, 'shieldx-bench-ledger-'));
  try {
    const lib = await compileLib(join(work, 'lib'));
    const { LedgerWriter, verifyLedger, nodeFileSystem } = lib;
    let runId = 0;

    /** One measured run: returns entries/s and details. */
    async function run(kind, options) {
      const dir = join(work, `run-${runId++}`);
      const path = join(dir, 'ledger.jsonl');
      const { fs, counts } = countingFs(nodeFileSystem);
      const writer = await LedgerWriter.open({ path, service: 'bench', fileSystem: fs, ...options });
      const n = kind === 'sync-each' ? SYNC_ENTRIES : ENTRIES;
      const syncsBefore = counts.syncs;
      const cpuBefore = process.cpuUsage();
      const started = performance.now();
      switch (kind) {
        case 'enqueue':
          for (let i = 0; i < n; i++) writer.enqueue(event(i));
          await writer.flush();
          break;
        case 'chunked':
          // Events arriving in chunks of 1000 with the event loop free in between, so writes overlap enqueueing.
          for (let i = 0; i < n;) {
            const end = Math.min(n, i + 1000);
            for (; i < end; i++) writer.enqueue(event(i));
            await new Promise((done) => setImmediate(done));
          }
          await writer.flush();
          break;
        case 'append-all': {
          const pending = new Array(n);
          for (let i = 0; i < n; i++) pending[i] = writer.append(event(i));
          await Promise.all(pending);
          break;
        }
        case 'sync-each':
          for (let i = 0; i < n; i++) await writer.append(event(i));
          break;
        default:
          throw new Error(`unknown kind ${kind}`);
      }
      const seconds = (performance.now() - started) / 1000;
      const cpu = process.cpuUsage(cpuBefore);
      const cpuSeconds = (cpu.user + cpu.system) / 1e6;
      const { batchesWritten, bytesWritten } = writer.stats;
      const syncs = counts.syncs - syncsBefore;
      await writer.close();
      let verifyPerSec = null;
      if (kind === 'enqueue') {
        const t = performance.now();
        const result = await verifyLedger(path);
        if (!result.ok || result.entries !== n) throw new Error(`verify failed: ${JSON.stringify(result)}`);
        verifyPerSec = n / ((performance.now() - t) / 1000);
      }
      const size = (await stat(path)).size;
      await rm(dir, { recursive: true, force: true });
      return {
        perSec: n / seconds,
        perCpuSec: n / cpuSeconds,
        n,
        batchesWritten,
        syncs,
        bytesPerEntry: bytesWritten / n,
        size,
        verifyPerSec,
      };
    }

    /** @type {[string, string, { batchMaxEntries: number }][]} */
    const cases = [
      ['enqueue() ×N + flush(), batch 256 / 50 ms (defaults)', 'enqueue', { batchMaxEntries: 256 }],
      ['enqueue() ×N + flush(), batch 4096', 'enqueue', { batchMaxEntries: 4096 }],
      ['enqueue() in chunks of 1000, yielding between chunks, batch 256', 'chunked', { batchMaxEntries: 256 }],
      ['append() ×N, all awaited together, batch 256', 'append-all', { batchMaxEntries: 256 }],
      ['await append() one at a time, batch 1 (an fsync per entry)', 'sync-each', { batchMaxEntries: 1 }],
    ];
    const rows = [];
    let verifyRates = [];
    for (const [label, kind, options] of cases) {
      const results = [];
      for (let round = 0; round < ROUNDS; round++) {
        results.push(await run(kind, { rotateBytes: 0, ...options }));
        process.stderr.write('.');
      }
      const best = results[0];
      if (kind === 'enqueue' && options.batchMaxEntries === 256) verifyRates = results.map((r) => r.verifyPerSec);
      rows.push([
        label,
        fmt(best.n),
        fmt(median(results.map((r) => r.perSec))),
        `${fmt(Math.min(...results.map((r) => r.perSec)))}–${fmt(Math.max(...results.map((r) => r.perSec)))}`,
        fmt(median(results.map((r) => r.perCpuSec))),
        fmt(best.syncs),
        (best.n / best.syncs).toFixed(1),
        fmt(best.bytesPerEntry),
      ]);
    }
    process.stderr.write('\n');

    const headers = [
      'workload',
      'entries',
      'appends/s (median)',
      'range',
      'appends per CPU-s',
      'fdatasyncs',
      'entries/fsync',
      'bytes/entry',
    ];
    console.log(`\n${textTable(headers, rows)}\n`);
    const verifyRate = median(verifyRates);
    console.log(`verifyLedger: ${fmt(verifyRate)} entries/s`);
    return [
      `### The writer alone (libs/ledger): appends/s with group commit`,
      '',
      `Files under ${BASE_DIR}; median of ${ROUNDS} run(s); entries are ~${rows[0][7]} B policy-deny events. ` +
        "Wall-clock figures move with other work on the machine; 'appends per CPU-s' counts this process's CPU time " +
        'only. Every durable batch is one `write` + one `fdatasync`.',
      '',
      markdownTable(headers, rows),
      '',
      `\`verifyLedger\` (streaming; SHA-256 and canonical JSON per line): ${fmt(verifyRate)} entries/s ` +
        `(median of ${ROUNDS}, ${fmt(ENTRIES)} entries).`,
    ].join('\n');
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Part 2: POST /route while denials are written to the ledger

const ALLOWED_BODIES = Array.from({ length: 12 }, (_, i) =>
  postRoute({ service: 'api', tenant: ['t1', 't2', 'acme', 'globex'][i % 4], scope: 'read', path: `/v1/r${i}` }),
);
/** The side stream: a distinct path per request, so every denial is an entry of its own (aggregation is off too). */
function sideStream(deny) {
  return Array.from({ length: 5000 }, (_, i) =>
    postRoute({ service: 'api', tenant: 'side', scope: 'read', path: deny ? `/internal/bench/${i}` : `/v1/side/${i}` }),
  );
}

async function ledgerHead(origin) {
  const answer = await fetchJson(`${origin}/admin/audit?limit=1`);
  if (answer.status !== 200) throw new Error(`GET /admin/audit → ${answer.status} ${answer.body.slice(0, 200)}`);
  return answer.json.lastSeq;
}

async function routePart() {
  const stubs = await startStubBackends(3);
  const work = tempDir('shieldx-bench-ledger-route-');
  const ledgerPath = join(work, 'ledger.jsonl');
  // The working tree may change while this runs (a long benchmark beside ongoing edits): a build can fail, or start
  // with an import of a file not written yet; then wait a minute and try again (as bench/route.mjs does).
  let snapshot;
  let server;
  for (let attempt = 1; ; attempt++) {
    if (build) {
      const built = await buildOrchestrator({ log: say });
      if (!built.ok) throw new Error(`orchestrator build failed:\n${built.output.slice(-4000)}`);
    }
    snapshot = snapshotOrchestrator();
    try {
      server = await startOrchestrator({
        snapshot,
        name: 'orchestrator',
        work,
        pools: { api: stubs.urls },
        env: {
          ORCH_LEDGER_PATH: ledgerPath,
          ORCH_LEDGER_AGGREGATE_WINDOW: '0ms',
          ORCH_LEDGER_MAX_PER_SECOND: '1000000',
        },
      });
      break;
    } catch (error) {
      snapshot.dispose?.();
      if (!build || attempt >= 3) throw error;
      say(
        `the built orchestrator does not start (a rebuild in progress?); rebuilding in 60 s:\n${error.message.slice(-1500)}`,
      );
      await sleep(60_000);
    }
  }
  say(`orchestrator pid ${server.pid} on ${server.origin}; ledger ${ledgerPath}`);
  const check = await fetchJson(`${server.origin}/route`, sideStream(true)[0]);
  if (check.status !== 403) throw new Error(`a side-stream denial answered ${check.status}: ${check.body}`);
  const cases = [
    {
      key: 'allowed',
      label: `side stream of ${fmt(DENY_RATE)} allowed req/s (nothing written)`,
      requests: sideStream(false),
    },
    {
      key: 'denied',
      label: `side stream of ${fmt(DENY_RATE)} denied req/s (each one a ledger entry)`,
      requests: sideStream(true),
    },
  ];
  for (const c of cases) c.rounds = [];
  if (WARMUP > 0)
    await runLoad(TOOL, {
      origin: server.origin,
      requests: ALLOWED_BODIES,
      connections: CONNECTIONS,
      durationS: WARMUP,
    });
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of alternated(cases, round)) {
      await sleep(500);
      const seqBefore = await ledgerHead(server.origin);
      const t0 = performance.now();
      const [main, side] = await Promise.all([
        runLoad(TOOL, {
          origin: server.origin,
          requests: ALLOWED_BODIES,
          connections: CONNECTIONS,
          durationS: DURATION,
        }),
        runPaced({
          origin: server.origin,
          requests: c.requests,
          rate: DENY_RATE,
          durationS: DURATION,
          warmupS: 1,
          connections: 16,
        }),
      ]);
      const seqAfter = await ledgerHead(server.origin);
      const seconds = (performance.now() - t0) / 1000;
      if (!server.alive()) throw new Error(`the orchestrator died:\n${server.stderrTail()}`);
      const result = { main, side, appendsPerS: (seqAfter - seqBefore) / seconds };
      c.rounds.push(result);
      say(
        `round ${round + 1}/${ROUNDS} ${c.key.padEnd(8)} /route ${format.int(main.rps)} req/s p99 ${format.ms(main.p99)} ms; ` +
          `side ${format.int(side.rps)}/s${side.sustained ? '' : ' (NOT sustained)'} (non-2xx ${side.non2xx}); ` +
          `ledger ${format.int(result.appendsPerS)} appends/s`,
      );
    }
  }
  const verify = await fetchJson(`${server.origin}/admin/ledger/verify`);
  await server.stop();
  await stubs.close();
  snapshot.dispose?.();
  const base = medianOf(cases[0].rounds.map((r) => r.main.rps));
  const headers = [
    'case',
    '/route req/s (median)',
    'p50 ms',
    'p99 ms',
    'vs allowed side stream',
    'side stream achieved/s',
    'ledger appends/s',
    'errors',
    'req/s by round',
  ];
  const rows = cases.map((c) => {
    const rps = medianOf(c.rounds.map((r) => r.main.rps));
    return [
      c.label,
      format.int(rps),
      format.ms(medianOf(c.rounds.map((r) => r.main.p50))),
      format.ms(medianOf(c.rounds.map((r) => r.main.p99))),
      format.ratio(rps / base),
      `${format.int(medianOf(c.rounds.map((r) => r.side.rps)))}${c.rounds.every((r) => r.side.sustained) ? '' : ` (sustained in ${c.rounds.filter((r) => r.side.sustained).length} of ${c.rounds.length} rounds)`}`,
      format.int(medianOf(c.rounds.map((r) => r.appendsPerS))),
      c.rounds.reduce((n, r) => n + r.main.errors + r.main.timeouts + r.side.errors + r.side.timeouts, 0),
      c.rounds.map((r) => format.int(r.main.rps)).join(' / '),
    ];
  });
  console.log(`\n${textTable(headers, rows)}\n`);
  const verdict =
    verify.json?.ok === true ? `intact, ${format.int(verify.json.entries)} entries` : `NOT intact: ${verify.body}`;
  return [
    `### \`POST /route\` while denials are written to the ledger at ~${fmt(DENY_RATE)}/s`,
    '',
    `The built orchestrator (dist/, copied aside; run ${SHIPPED_TEXT}), defaults except rate limits out of the way, ` +
      '`ORCH_LEDGER_AGGREGATE_WINDOW=0ms` and `ORCH_LEDGER_MAX_PER_SECOND=1000000` (so every denial is its own entry: ' +
      'with the defaults a flood of denials is aggregated and capped), one pool of 3 stub backends. Main load: ' +
      `${TOOL}, ${CONNECTIONS} connections, 12 allowed \`/route\` bodies. At the same time a paced side stream ` +
      `(\`runPaced\`, 16 connections) sends ${fmt(DENY_RATE)} req/s with a distinct path each: allowed paths in one ` +
      'case, paths the default policy denies (`/internal/…`, 403, one `policy.deny` ledger entry each) in the other. ' +
      `Same process, ${ROUNDS} round(s) of ${DURATION} s per case, order alternating. "ledger appends/s" is the ledger's ` +
      'growth in seq over the round (from `GET /admin/audit`); a side stream that fell 500 requests behind stops and ' +
      'is marked as not sustained. After the rounds `GET /admin/ledger/verify`: ' +
      `${verdict}.`,
    '',
    markdownTable(headers, rows),
  ].join('\n');
}

const libMd = await main();
const routeMd = ROUTE ? await routePart() : null;
if (write) {
  // The commit is read at the end of the run, the machine facts at its start.
  const md = [
    '## Audit ledger',
    '',
    ...factsMarkdown({ ...facts, git: gitInfo() }, { what: 'load generators' }),
    ...nonDefaultNote(DEFAULTS, SETTINGS, { title: 'Short run, not the default settings', joiner: '=' }),
    '',
    libMd,
    ...(routeMd === null ? [] : ['', routeMd]),
  ];
  writeReport('ledger', md);
}
process.exit(0);
