// Benchmark of the audit ledger writer (libs/ledger): appends/s with group commit (one write + one fdatasync per
// batch), compared with one fdatasync per append, plus verify throughput. Real files in a temporary directory on the
// same file system as the OS temp dir; each figure is the median of BENCH_ROUNDS runs. Prints a markdown table only
// (it writes nothing under docs/).
//
//   node bench/ledger.mjs
//
// Environment (defaults in brackets): BENCH_ROUNDS [3], BENCH_LEDGER_ENTRIES [200000] for the group-commit runs,
// BENCH_LEDGER_SYNC_ENTRIES [2000] for the one-fsync-per-append run, BENCH_LEDGER_DIR [os.tmpdir()].
//
// The library is compiled with SWC (@swc/core, as the orchestrator build does) into the temporary directory first,
// so this runs with plain `node` and measures the same code the tests cover.
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { transformFile } from '@swc/core';
import { markdownTable } from './lib/report.mjs';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const SRC = join(ROOT, 'libs/ledger/src');

function envInt(name, fallback, min = 1) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) throw new Error(`${name}=${raw}: expected an integer >= ${min}`);
  return value;
}

const ROUNDS = envInt('BENCH_ROUNDS', 3);
const ENTRIES = envInt('BENCH_LEDGER_ENTRIES', 200_000);
const SYNC_ENTRIES = envInt('BENCH_LEDGER_SYNC_ENTRIES', 2000);
const BASE_DIR = process.env.BENCH_LEDGER_DIR || os.tmpdir();

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

    const cpu = os.cpus()[0]?.model?.trim() ?? 'unknown';
    console.log(`### Audit ledger (libs/ledger) — appends/s with group commit\n`);
    console.log(
      `${cpu}, ${os.cpus().length} cores, ${process.version}, ${os.type()} ${os.release()}; ` +
        `files under ${BASE_DIR}; median of ${ROUNDS} runs; entries are ~${rows[0][7]} B policy-deny events; load average ${os
          .loadavg()
          .map((v) => v.toFixed(1))
          .join(
            ' ',
          )} (other work on the machine skews wall-clock figures: 'appends per CPU-s' counts this process's CPU time only).\n`,
    );
    console.log(
      markdownTable(
        [
          'workload',
          'entries',
          'appends/s (median)',
          'range',
          'appends per CPU-s',
          'fdatasyncs',
          'entries/fsync',
          'bytes/entry',
        ],
        rows,
      ),
    );
    console.log(
      `\nverifyLedger (streaming, SHA-256 + canonical JSON per line): ${fmt(median(verifyRates))} entries/s ` +
        `(median of ${ROUNDS}, ${fmt(ENTRIES)} entries).`,
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();
