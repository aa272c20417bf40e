import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import autocannon from 'autocannon';
const body = JSON.stringify({ service: 'api', tenant: 'acme', scope: 'read', path: '/v1/items' });
rmSync('/tmp/cpuprof', { recursive: true, force: true });
// PROXY=1: profile `GET /proxy/api/v1/items` through two loopback backends (bench/backend-http.mjs) instead of /route.
const proxy = process.env.PROXY === '1';
const backends = proxy
  ? [18511, 18512].map((port) =>
      spawn(process.execPath, ['bench/backend-http.mjs'], {
        env: { ...process.env, PORT: String(port), NAME: `b${port}` },
        stdio: 'ignore',
      }),
    )
  : [];
const env = {
  ...process.env,
  PORT: '18510',
  ORCH_ALLOW_INSECURE: '1',
  ORCH_HOST: '127.0.0.1',
  ORCH_PORT: '18510',
  ORCH_POOL_API: proxy ? '127.0.0.1:18511,127.0.0.1:18512' : '127.0.0.1:9,127.0.0.1:7',
  ORCH_IP_BURST: '1000000000',
  ORCH_IP_BURST_DEGRADED: '1000000000',
  ORCH_TENANT_BURST: '1000000000',
  ORCH_HEALTH_EVERY: '1m',
  ORCH_HEALTH_TIMEOUT: '1s',
  ORCH_LOG_LEVEL: process.argv[2] ?? 'info',
};
const spawnedAt = Date.now();
const child = spawn(
  process.execPath,
  ['--cpu-prof', '--cpu-prof-dir=/tmp/cpuprof', process.env.TARGET ?? 'dist/prof/o/apps/orchestrator/src/main.js'],
  { env, stdio: ['ignore', 'ignore', 'inherit'] },
);
for (let i = 0; i < 100; i++) {
  try {
    await fetch('http://127.0.0.1:18510/healthz');
    break;
  } catch {
    await new Promise((r) => setTimeout(r, 100));
  }
}
// Samples taken before the load starts (module loading, boot) are left out of the figures.
const loadAfterMs = Date.now() - spawnedAt;
const REQUESTS = 40000;
await new Promise((resolve) =>
  autocannon(
    {
      ...(proxy
        ? { url: 'http://127.0.0.1:18510/proxy/api/v1/items', headers: { 'x-tenant': 'acme', 'x-scope': 'read' } }
        : {
            url: 'http://127.0.0.1:18510/route',
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
          }),
      connections: 32,
      amount: REQUESTS,
    },
    resolve,
  ),
);
child.kill('SIGINT');
for (const backend of backends) backend.kill();
await new Promise((r) => child.once('exit', r));
const file = readdirSync('/tmp/cpuprof')[0];
const p = JSON.parse(readFileSync('/tmp/cpuprof/' + file, 'utf8'));
const self = new Map();
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const dt = new Map();
let elapsedUs = 0;
for (let i = 0; i < p.samples.length; i++) {
  elapsedUs += p.timeDeltas[i] ?? 0;
  if (elapsedUs < loadAfterMs * 1000) continue;
  dt.set(p.samples[i], (dt.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
}
let total = 0;
for (const [id, t] of dt) {
  const n = byId.get(id);
  const cf = n.callFrame;
  if (cf.functionName === '(idle)') continue;
  total += t;
  const url = cf.url.replace(/.*node_modules\//, '').replace(/.*dist\/prof\/[^/]+\//, '');
  const key = `${cf.functionName || '(anon)'} ${url}:${cf.lineNumber}`;
  self.set(key, (self.get(key) ?? 0) + t);
}
const groups = new Map();
for (const [k, t] of self) {
  const url = k.split(' ')[1] ?? '';
  const g = url.startsWith('@nestjs/core')
    ? 'nest-core'
    : url.startsWith('@nestjs')
      ? 'nest-other'
      : url.startsWith('fastify') || url.startsWith('find-my-way') || url.startsWith('light') || url.startsWith('avvio')
        ? 'fastify'
        : url.startsWith('pino') || url.startsWith('sonic') || url.startsWith('fast-redact')
          ? 'pino'
          : url.startsWith('prom-client')
            ? 'prom'
            : url.startsWith('apps/') || url.startsWith('libs/')
              ? 'ours'
              : url.startsWith('node:')
                ? 'node'
                : url === ':-1' || url === ':0'
                  ? 'native'
                  : url.split('/')[0];
  groups.set(g, (groups.get(g) ?? 0) + t);
}
if (process.env.SELF_JSON) {
  const { writeFileSync } = await import('node:fs');
  writeFileSync(
    process.env.SELF_JSON,
    JSON.stringify(Object.fromEntries([...self].map(([k, t]) => [k.replace(/dist\/prof\/[^/]+\//, ''), t / REQUESTS]))),
  );
}
console.log('busy ms', (total / 1000).toFixed(0), ' µs/request', (total / REQUESTS).toFixed(1));
for (const [g, t] of [...groups].sort((a, b) => b[1] - a[1]))
  console.log(
    g.padEnd(20),
    ((100 * t) / total).toFixed(1).padStart(5) + '%',
    (t / REQUESTS).toFixed(1).padStart(6) + 'µs',
  );
console.log('---');
for (const [k, t] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 45))
  console.log(((100 * t) / total).toFixed(2).padStart(6) + '%', (t / REQUESTS).toFixed(2).padStart(6) + 'µs', k);
// Inclusive time of frames whose name or file matches the filters given after the log level.
const filters = process.argv.slice(3);
if (filters.length > 0) {
  const parent = new Map();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const incl = new Map();
  for (const [id, t] of dt) {
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const cf = byId.get(cur).callFrame;
      const url = cf.url.replace(/.*node_modules\//, '').replace(/.*dist\/prof\/[^/]+\//, '');
      const key = `${cf.functionName || '(anon)'} ${url}:${cf.lineNumber}`;
      if (seen.has(key) || !filters.some((f) => key.includes(f))) continue;
      seen.add(key);
      incl.set(key, (incl.get(key) ?? 0) + t);
    }
  }
  console.log('--- inclusive');
  for (const [k, t] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, 40))
    console.log(((100 * t) / total).toFixed(2).padStart(6) + '%', k);
}
