#!/usr/bin/env node
// Development aid: CPU time per /route request (user+sys of the server process over N requests), for the orchestrator
// and the bare Fastify baseline. CPU time, unlike req/s, moves less when the shared machine is busy, so it shows
// where a change helps. All servers run at once; each round measures them one after the other; medians are printed.
// Not a benchmark of record (those are under bench/).
//   node scripts/dev/cpu-per-request.mjs [N] [ROUNDS] [name=dir[:level[:node flags]] …]
// Without variants: dist/prof/o (a copy of dist/orchestrator) at warn and at info. CONCURRENT=1 and FLOORS: below.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';

const tmp = mkdtempSync(join(tmpdir(), 'cpu-per-request-'));

const N = Number(process.argv[2] ?? 20000);
// PROXY=1: `GET /proxy/api/v1/items` through two loopback backends, against @fastify/http-proxy instead of Fastify.
const proxy = process.env.PROXY === '1';
const backendPorts = [18497, 18498];
const backends = proxy
  ? backendPorts.map((port) =>
      spawn(process.execPath, ['bench/backend-http.mjs'], {
        env: { ...process.env, PORT: String(port) },
        stdio: 'ignore',
      }),
    )
  : [];
const upstreams = backendPorts.map((port) => `127.0.0.1:${port}`);
const ROUNDS = Number(process.argv[3] ?? 3);
const body = JSON.stringify({ service: 'api', tenant: 'acme', scope: 'read', path: '/v1/items' });
/** [user, system] CPU ms of a process (100 Hz ticks). */
const cpu = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return [Number(f[11]) * 10, Number(f[12]) * 10];
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const request = proxy
  ? { path: '/proxy/api/v1/items', method: 'GET', headers: { 'x-tenant': 'acme', 'x-scope': 'read' } }
  : { path: '/route', method: 'POST', headers: { 'content-type': 'application/json' }, body };

async function start(name, command, args, env, port) {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 100; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}${request.path}`, request);
      if (res.ok) break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { name, child, port, user: [], sys: [] };
}
const run = (port, amount) =>
  new Promise((resolve) =>
    autocannon(
      {
        url: `http://127.0.0.1:${port}${request.path}`,
        method: request.method,
        headers: request.headers,
        body: request.body,
        connections: 32,
        amount,
      },
      (_e, r) => resolve(r),
    ),
  );

const orchEnv = {
  ORCH_ALLOW_INSECURE: '1',
  ORCH_HOST: '127.0.0.1',
  ORCH_POOL_API: proxy ? upstreams.join(',') : '127.0.0.1:9,127.0.0.1:7',
  ORCH_IP_BURST: '1000000000',
  ORCH_IP_BURST_DEGRADED: '1000000000',
  ORCH_TENANT_BURST: '1000000000',
  ORCH_HEALTH_EVERY: '1m',
  ORCH_HEALTH_TIMEOUT: '1s',
};
const variants = process.argv.slice(4);
if (variants.length === 0) variants.push('warn=dist/prof/o:warn', 'info=dist/prof/o:info');
const servers = [
  proxy
    ? await start(
        '@fastify/http-proxy',
        process.execPath,
        ['bench/baseline-http-proxy.mjs'],
        { PORT: '18501', UPSTREAMS: upstreams.map((u) => `http://${u}`).join(',') },
        18501,
      )
    : await start('bare fastify', process.execPath, ['bench/baseline-fastify.mjs'], { PORT: '18501' }, 18501),
];
// FLOORS=node,fastify,nest (PROXY=1 only): the reference servers of bench/floor-proxy.mjs as well.
for (const [i, floor] of (proxy ? (process.env.FLOORS ?? '').split(',').filter(Boolean) : []).entries()) {
  servers.push(
    await start(
      `floor ${floor}`,
      process.execPath,
      ['bench/floor-proxy.mjs'],
      { FLOOR: floor, PORT: String(18520 + i), UPSTREAMS: upstreams.map((u) => `http://${u}`).join(',') },
      18520 + i,
    ),
  );
}
let port = 18502;
for (const variant of variants) {
  const name = variant.slice(0, variant.indexOf('='));
  const [dir, level = 'info', flags = ''] = variant.slice(variant.indexOf('=') + 1).split(':');
  servers.push(
    await start(
      `${name} (${level})`,
      process.execPath,
      [...flags.split(' ').filter(Boolean), `${dir}/apps/orchestrator/src/main.js`],
      { ...orchEnv, ORCH_PORT: String(port), ORCH_LOG_LEVEL: level, ORCH_LEDGER_PATH: `${tmp}/${port}/ledger.jsonl` },
      port++,
    ),
  );
}
for (const server of servers) await run(server.port, 5000);
/** One measurement of `server`: N requests, the CPU its process used meanwhile. */
async function measure(server) {
  const before = cpu(server.child.pid);
  const result = await run(server.port, N);
  const after = cpu(server.child.pid);
  if (result.non2xx > 0) console.log(`${server.name}: ${result.non2xx} non-2xx`);
  server.user.push(((after[0] - before[0]) * 1000) / N);
  server.sys.push(((after[1] - before[1]) * 1000) / N);
}
// CONCURRENT=1: every round loads all servers at once, so a slow spell of the shared machine hits them all alike
// (better for A/B of small changes; the figures include the contention of the servers with each other).
const concurrent = process.env.CONCURRENT === '1';
for (let round = 0; round < ROUNDS; round++) {
  if (concurrent) await Promise.all(servers.map(measure));
  else for (const server of round % 2 === 0 ? servers : [...servers].reverse()) await measure(server);
}
for (const server of servers) {
  const total = server.user.map((u, i) => u + server.sys[i]);
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.child.pid}/status`, 'utf8'))[1]) / 1024;
  console.log(
    `${server.name.padEnd(30)} ${median(total).toFixed(1).padStart(6)} µs CPU/request (user ${median(server.user).toFixed(1)}, system ${median(server.sys).toFixed(1)}; rounds ${total.map((t) => t.toFixed(0)).join(' / ')})  RSS ${rss.toFixed(0)} MB`,
  );
  server.child.kill('SIGTERM');
}
for (const backend of backends) backend.kill();
