#!/usr/bin/env node
// Development aid: `GET /proxy` throughput of the built gateway started several ways side by side (V8 flags, malloc
// settings), in front of the same three loopback backends (bench/backend-http.mjs), with the requests of
// bench:proxy. Closed loop (wrk, 64 connections); each round measures every variant once for 4 s, the order rotating
// every round; medians are printed. A variant is `name=flags`, where flags are node flags separated by spaces, and a
// `+malloc` word adds the shipped malloc settings (scripts/gateway-process.mjs). Needs `npm run build` first. Not a
// benchmark of record.
//   node scripts/dev/proxy-variants.mjs [rounds=7] 'two=--max-semi-space-size=2 +malloc' 'four=--max-semi-space-size=4 +malloc' …
import { join } from 'node:path';
import { ORCH_MAIN, ROOT, installCleanup, median, runWrk, tempDir } from '../../bench/lib/harness.mjs';
import { startHttpBackends, startOrchestrator } from '../../bench/lib/common.mjs';
import { proxyRequests } from '../../bench/lib/requests.mjs';
import { GATEWAY_MALLOC_ENV } from '../gateway-process.mjs';

const rounds = Number(process.argv[2] ?? 7);
const variants = process.argv.slice(3).map((arg) => {
  const [name, words = ''] = [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)];
  const flags = words.split(' ').filter(Boolean);
  return {
    name,
    nodeArgs: flags.filter((flag) => flag !== '+malloc'),
    env: flags.includes('+malloc') ? { ...GATEWAY_MALLOC_ENV } : {},
    rps: /** @type {number[]} */ ([]),
  };
});
if (!(rounds >= 1) || variants.length === 0 || variants.some((v) => v.name === '')) {
  process.stderr.write("usage: node scripts/dev/proxy-variants.mjs [rounds] 'name=node flags [+malloc]' …\n");
  process.exit(2);
}
installCleanup({ deadlineMs: (rounds * variants.length * 6 + 120) * 1000 });
const work = tempDir('shieldx-proxy-variants-');
const backends = await startHttpBackends([1, 2, 3].map((i) => ({ name: `b${i}` })));
const pools = { api: backends.map((backend) => backend.url) };
const snapshot = { dir: ROOT, main: join(ROOT, ORCH_MAIN) };
const requests = proxyRequests();
const servers = [];
for (const variant of variants) {
  servers.push(await startOrchestrator({ snapshot, name: variant.name, work, pools, ...variant, asGiven: true }));
}
for (const server of servers) await runWrk({ origin: server.origin, requests, durationS: 2 });
for (let round = 0; round < rounds; round++) {
  for (let i = 0; i < variants.length; i++) {
    const k = (i + round) % variants.length;
    variants[k].rps.push((await runWrk({ origin: servers[k].origin, requests, durationS: 4 })).rps);
  }
}
for (const variant of variants) {
  const flags = [...variant.nodeArgs, ...Object.entries(variant.env).map(([k, v]) => `${k}=${v}`)].join(' ');
  process.stdout.write(
    `${variant.name.padEnd(10)} ${Math.round(median(variant.rps))} req/s (rounds ${variant.rps.map(Math.round).join(' / ')}) ${flags}\n`,
  );
}
for (const server of servers) await server.stop();
await Promise.all(backends.map((backend) => backend.stop()));
process.exit(0);
