#!/usr/bin/env node
// Development aid: the built gateway's resident set after a closed-loop `POST /route` load (as bench:memory loads it:
// three pools of stub backends, log level info to /dev/null, wrk with 32 connections), started several ways (node
// flags on top of the shipped ones, environment). Each round starts every variant once in a fresh process, one after
// the other, the order rotating every round; the resident set 5 s after it is ready and right after the load, and the
// load's req/s, are printed per run and as medians. A variant is `name=words`: node flags, and `KEY=value` words for
// its environment (e.g. `REDIS_ADDR=redis://127.0.0.1:6391`). PROXY=<ms>: `GET /proxy/api/…` (bench:proxy's
// requests) through three loopback backends that answer after <ms> each (bench/backend-http.mjs), instead of
// `POST /route`; CONNECTIONS (default 32) sets wrk's connections. Needs `npm run build` first. Not a benchmark of
// record.
//   [PROXY=5 CONNECTIONS=128] node scripts/dev/rss-variants.mjs [rounds=3] [load s=60] 'bound=' 'v8growth=--heap-growing-percent=0' …
import { join } from 'node:path';
import { numberedRouteRequests, proxyRequests, routePools } from '../../bench/lib/requests.mjs';
import {
  ORCH_MAIN,
  ROOT,
  fmt,
  installCleanup,
  median,
  rssMB,
  runLoad,
  sleep,
  startStubBackends,
  tempDir,
} from '../../bench/lib/harness.mjs';
import { startHttpBackends, startOrchestrator } from '../../bench/lib/common.mjs';

const rounds = Number(process.argv[2] ?? 3);
const loadS = Number(process.argv[3] ?? 60);
const variants = process.argv.slice(4).map((arg) => {
  const name = arg.slice(0, arg.indexOf('='));
  const words = arg
    .slice(arg.indexOf('=') + 1)
    .split(' ')
    .filter(Boolean);
  const settings = words.filter((word) => /^[A-Z_][A-Z0-9_]*=/.test(word));
  return {
    name,
    nodeArgs: words.filter((word) => !settings.includes(word)),
    env: Object.fromEntries(
      settings.map((word) => [word.slice(0, word.indexOf('=')), word.slice(word.indexOf('=') + 1)]),
    ),
    runs: /** @type {{ idle: number | null, loaded: number | null, rps: number }[]} */ ([]),
  };
});
if (!(rounds >= 1) || !(loadS >= 1) || variants.length === 0 || variants.some((v) => v.name === '')) {
  process.stderr.write("usage: node scripts/dev/rss-variants.mjs [rounds] [load s] 'name=node flags KEY=value' …\n");
  process.exit(2);
}
installCleanup({ deadlineMs: (rounds * variants.length * (loadS + 20) + 120) * 1000 });
const work = tempDir('shieldx-rss-variants-');
const proxyDelayMs = process.env.PROXY === undefined ? undefined : Number(process.env.PROXY);
const connections = Number(process.env.CONNECTIONS ?? 32);
const stubs = proxyDelayMs === undefined ? await startStubBackends(7) : undefined;
const backends =
  proxyDelayMs === undefined
    ? []
    : await startHttpBackends([1, 2, 3].map((i) => ({ name: `b${i}`, delayMs: proxyDelayMs })));
const pools = stubs === undefined ? { api: backends.map((backend) => backend.url) } : routePools(stubs.urls);
const snapshot = { dir: ROOT, main: join(ROOT, ORCH_MAIN) };
const requests = proxyDelayMs === undefined ? numberedRouteRequests() : proxyRequests();
for (let round = 0; round < rounds; round++) {
  for (let i = 0; i < variants.length; i++) {
    const variant = variants[(i + round) % variants.length];
    // As shipped (scripts/gateway-process.mjs), plus the variant's flags and environment.
    const server = await startOrchestrator({
      snapshot,
      name: `orchestrator (${variant.name})`,
      work,
      pools,
      env: { ...variant.env, ORCH_LEDGER_PATH: join(work, `ledger-${variant.name}-${round}.jsonl`) },
      nodeArgs: variant.nodeArgs,
    });
    await sleep(5000);
    const idle = rssMB(server.pid);
    const result = await runLoad('wrk', { origin: server.origin, requests, connections, durationS: loadS });
    const loaded = rssMB(server.pid);
    await server.stop();
    variant.runs.push({ idle, loaded, rps: result.rps });
    process.stdout.write(
      `round ${round + 1}/${rounds} ${variant.name.padEnd(10)} idle ${fmt.mb(idle)} MB, after ${loadS} s ${fmt.mb(loaded)} MB, ` +
        `${Math.round(result.rps)} req/s\n`,
    );
  }
}
for (const variant of variants) {
  const flags = [...variant.nodeArgs, ...Object.entries(variant.env).map(([k, v]) => `${k}=${v}`)].join(' ');
  const loaded = variant.runs.map((run) => run.loaded);
  process.stdout.write(
    `${variant.name.padEnd(10)} idle ${fmt.mb(median(variant.runs.map((run) => run.idle)))} MB, after the load ` +
      `${fmt.mb(median(loaded))} MB (runs ${loaded.map(fmt.mb).join(' / ')}), ` +
      `${Math.round(median(variant.runs.map((run) => run.rps)))} req/s  ${flags || '(as shipped)'}\n`,
  );
}
await stubs?.close();
await Promise.all(backends.map((backend) => backend.stop()));
process.exit(0);
