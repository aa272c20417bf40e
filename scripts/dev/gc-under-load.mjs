#!/usr/bin/env node
// Development aid: what garbage collection does to the built gateway's tail latency under a paced (open-loop) `POST
// /route` load, as bench:route's fixed-rate run makes it (three pools of stub backends on loopback, log level info to
// /dev/null, the shipped V8 flags plus any given here). Through scripts/dev/gc-probe.mjs inside the gateway: per
// second, the event loop's delay (p99, max) and the minor and major collections (count, pause); with the load's own
// p50/p99/max. The paced generator is a Node process on the same cores, so its own pauses show in the client figures:
// compare variants by the gateway's side (major collections, event-loop delay) first. Needs `npm run build` first.
// Not a benchmark of record.
//   [GLIBC_MALLOC=defaults] node scripts/dev/gc-under-load.mjs [rate=18000] [seconds=15] [extra node flags…]
import { readFileSync } from 'node:fs';
import { median, runPaced, sleep } from '../../bench/lib/harness.mjs';
import { numberedRouteRequests } from '../../bench/lib/requests.mjs';
import { startProbedGateway } from './probed-gateway.mjs';

const rate = Number(process.argv[2] ?? 18_000);
const seconds = Number(process.argv[3] ?? 15);
const extraFlags = process.argv.slice(4);
const { server, flags, out, stop } = await startProbedGateway({
  tool: 'gc-under-load',
  probe: 'gc-probe.mjs',
  outVariable: 'GC_PROBE_OUT',
  seconds,
  extraFlags,
});
await sleep(3000);
const startedAt = Date.now();
const result = await runPaced({
  origin: server.origin,
  requests: numberedRouteRequests(),
  rate,
  durationS: seconds,
  warmupS: 2,
  connections: 64,
});
const endedAt = Date.now();
await sleep(1100);
await stop();

// The seconds of the measured part of the load (after the ramp).
const seconds_ = readFileSync(out, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((line) => JSON.parse(line))
  .filter((s) => s.at > startedAt + 3000 && s.at <= endedAt);
const sum = (xs) => xs.reduce((a, b) => a + b, 0);
const majors = sum(seconds_.map((s) => s.major.count));
const fmt = (n) => n.toFixed(1);
process.stdout.write(
  `Node ${process.version}, flags: ${flags}; paced ${rate} req/s for ` +
    `${seconds} s: achieved ${Math.round(result.rps)} req/s, sustained ${result.sustained}\n` +
    `client: p50 ${fmt(result.p50)} p99 ${fmt(result.p99)} p99.9 ${fmt(result.p999)} max ${fmt(result.max)} ms ` +
    `(errors ${result.errors + result.timeouts}, non-2xx ${result.non2xx})\n` +
    `gateway, over ${seconds_.length} s: major collections ${majors} (${fmt(majors / Math.max(1, seconds_.length))}/s, ` +
    `longest pause ${fmt(Math.max(0, ...seconds_.map((s) => s.major.longestMs)))} ms), minor ` +
    `${sum(seconds_.map((s) => s.minor.count))} (${fmt(sum(seconds_.map((s) => s.minor.totalMs)) / Math.max(1, seconds_.length))} ms/s); ` +
    `event-loop delay p99 median ${fmt(median(seconds_.map((s) => s.delayP99Ms)))} ms, worst second's max ` +
    `${fmt(Math.max(0, ...seconds_.map((s) => s.delayMaxMs)))} ms\n`,
);
process.exit(0);
