#!/usr/bin/env node
// Development aid: where the built gateway's resident set lies, idle and after a closed-loop `POST /route` load, as
// bench:memory runs it (three pools of stub backends on loopback, log level info to /dev/null, the shipped V8 flags
// plus any given here, the shipped malloc settings unless GLIBC_MALLOC=defaults). Through scripts/dev/rss-probe.mjs
// inside the gateway: pages mapped from files (the Node binary), the V8 heap (committed and used), V8's malloc'ed
// memory now and at its peak (compiler zones), glibc's main malloc arena ([heap]), the arenas of other threads (V8's
// compiler and GC threads, the libuv pool; none with the shipped MALLOC_ARENA_MAX=1), the rest of the anonymous memory
// (V8's heap pages and its pool of pages freed by full collections, code, stacks, large buffers; V8's pages are 256 KB
// mappings, so what lies in mappings of 1 MB or more is mostly not V8's heap), and ArrayBuffers; idle, after the load,
// and after the load and one full collection (what is live). Needs `npm run build` first. Not a benchmark of record.
//   [REDIS_ADDR=… OTEL_…=…] [GLIBC_MALLOC=defaults] node scripts/dev/rss-breakdown.mjs [load s=30] [extra flags…]
import { readFileSync, writeFileSync } from 'node:fs';
import { rssMB, rssPartsMB, runLoad, sleep } from '../../bench/lib/harness.mjs';
import { numberedRouteRequests } from '../../bench/lib/requests.mjs';
import { startProbedGateway } from './probed-gateway.mjs';

const loadS = Number(process.argv[2] ?? 30);
const extraFlags = process.argv.slice(3);
const { server, flags, out, stop } = await startProbedGateway({
  tool: 'rss-breakdown',
  probe: 'rss-probe.mjs',
  outVariable: 'RSS_BREAKDOWN_OUT',
  seconds: loadS,
  // REDIS_ADDR and OTEL_* settings of this process's environment reach the gateway (to measure those modes).
  env: Object.fromEntries(
    Object.entries(process.env).filter(([key]) => key === 'REDIS_ADDR' || key.startsWith('OTEL_')),
  ),
  extraFlags,
});

/**
 * Asks the probe for one reading and returns it, with the resident set read from /proc at the same moment; `collect`:
 * after a full collection (what is live).
 */
async function reading({ collect = false } = {}) {
  if (collect) writeFileSync(`${out}.collect`, '');
  const before = readFileSync(out, { encoding: 'utf8', flag: 'a+' }).split('\n').filter(Boolean).length;
  process.kill(server.pid, 'SIGUSR2');
  for (let i = 0; i < 50; i++) {
    await sleep(100);
    const lines = readFileSync(out, 'utf8').split('\n').filter(Boolean);
    if (lines.length > before) {
      const parts = rssPartsMB(server.pid);
      return {
        ...JSON.parse(lines[lines.length - 1]),
        rss: rssMB(server.pid),
        rssFile: parts?.file,
        rssAnon: parts?.anon,
      };
    }
  }
  throw new Error('the probe did not answer');
}

await sleep(5000);
const idle = await reading();
const result = await runLoad('wrk', {
  origin: server.origin,
  requests: numberedRouteRequests(),
  connections: 32,
  durationS: loadS,
});
const loaded = await reading();
const collected = await reading({ collect: true });
await stop();

/** @type {[string, (r: any) => number][]} */
const rows = [
  ['resident set (VmRSS)', (r) => r.rss],
  ['  mapped from files (RssFile)', (r) => r.rssFile],
  ['  anonymous (RssAnon)', (r) => r.rssAnon],
  ['    glibc main arena ([heap])', (r) => r.mappings.mainArena],
  ['    glibc arenas of other threads', (r) => r.mappings.threadArenas],
  ['    other anonymous (V8 heap pages and page pool, code, stacks)', (r) => r.mappings.otherAnonymous],
  ['      of which in mappings of 1 MB or more resident', (r) => r.mappings.otherAnonymousLarge],
  ['V8 heap committed', (r) => r.heapCommitted],
  ['  of which old space', (r) => r.spaces.old_space],
  ['  of which new space', (r) => r.spaces.new_space],
  ['  of which code and trusted spaces', (r) => r.spaces.code_space + r.spaces.trusted_space],
  ['V8 heap used', (r) => r.heapUsed],
  ['V8 external memory', (r) => r.external],
  ['ArrayBuffer memory (process.memoryUsage)', (r) => r.arrayBuffers],
  ["V8 malloc'ed now", (r) => r.mallocedNow],
  ["V8 malloc'ed at its peak", (r) => r.mallocedPeak],
];
process.stdout.write(
  `Node ${process.version}, flags: ${flags}; ${loadS} s of load at ${Math.round(result.rps)} req/s, p99 ` +
    `${result.p99.toFixed(2)} ms (wrk, 32 connections)\n\n| MB | idle | after load | after load and a full collection |\n|---|---:|---:|---:|\n`,
);
for (const [label, pick] of rows) {
  process.stdout.write(`| ${label} | ${[idle, loaded, collected].map((r) => pick(r).toFixed(1)).join(' | ')} |\n`);
}
