import { it } from 'vitest';
import { Pool } from 'undici';
import { startOrchestrator } from './harness';
import { startRedis } from './redis-harness';
it('speed', async () => {
  const redis = await startRedis();
  for (const env of [{}, { REDIS_ADDR: redis.url }]) {
    const a = await startOrchestrator({ ORCH_POOL_API: 'http://10.9.9.9:80', ORCH_IP_BURST: '1000000', ORCH_IP_BURST_DEGRADED: '1000000', ...env });
    const pool = new Pool(a.url, { connections: 16, pipelining: 8 });
    const body = JSON.stringify({ service: 'api', tenant: 'acme', scope: 'read', path: '/x' });
    for (const round of [1, 2, 3, 4]) {
      const t0 = performance.now();
      await Promise.all(Array.from({ length: 600 }, async () => { const r = await pool.request({ method: 'POST', path: '/route', headers: { 'content-type': 'application/json' }, body }); await r.body.text(); }));
      console.log(JSON.stringify(env), round, Math.round(performance.now() - t0), 'ms / 600');
    }
    await pool.close();
    await a.close();
  }
  await redis.stop();
}, 60000);
