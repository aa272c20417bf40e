#!/usr/bin/env node
// Development aid: CPU time per /route request (user+sys of the server process over N requests), for the orchestrator
// and the bare Fastify baseline. CPU time, unlike req/s, hardly moves when the shared machine is busy, so it shows
// where a change helps. Not a benchmark of record (those are under bench/).
//   node scripts/dev/cpu-per-request.mjs [N]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

const N = Number(process.argv[2] ?? 30000);
const body = JSON.stringify({ service: 'api', tenant: 'acme', scope: 'read', path: '/v1/items' });
const cpu = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10; // ms (100 Hz ticks)
};
async function measure(name, command, args, env, port) {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 100; i++) {
    try {
      if (
        (
          await fetch(`http://127.0.0.1:${port}/route`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
          })
        ).ok
      )
        break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const run = (amount) =>
    new Promise((resolve) =>
      autocannon(
        {
          url: `http://127.0.0.1:${port}/route`,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          connections: 32,
          amount,
        },
        (_e, r) => resolve(r),
      ),
    );
  await run(5000);
  const before = cpu(child.pid);
  const result = await run(N);
  const used = cpu(child.pid) - before;
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]) / 1024;
  console.log(
    `${name.padEnd(28)} ${((used * 1000) / N).toFixed(1).padStart(6)} µs CPU/request  ${Math.round(result.requests.average)} req/s  non2xx ${result.non2xx}  RSS ${rss.toFixed(0)} MB`,
  );
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}
const orchEnv = {
  ORCH_ALLOW_INSECURE: '1',
  ORCH_HOST: '127.0.0.1',
  ORCH_POOL_API: '127.0.0.1:9,127.0.0.1:7',
  ORCH_IP_BURST: '1000000000',
  ORCH_IP_BURST_DEGRADED: '1000000000',
  ORCH_TENANT_BURST: '1000000000',
  ORCH_HEALTH_EVERY: '1m',
  ORCH_HEALTH_TIMEOUT: '1s',
};
await measure('bare fastify', process.execPath, ['bench/baseline-fastify.mjs'], { PORT: '18501' }, 18501);
await measure(
  'orchestrator (warn)',
  process.execPath,
  ['dist/prof/o/apps/orchestrator/src/main.js'],
  { ...orchEnv, ORCH_PORT: '18502', ORCH_LOG_LEVEL: 'warn' },
  18502,
);
await measure(
  'orchestrator (info)',
  process.execPath,
  ['dist/prof/o/apps/orchestrator/src/main.js'],
  { ...orchEnv, ORCH_PORT: '18503' },
  18503,
);
