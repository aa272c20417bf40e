import { afterAll, beforeAll, describe, it } from 'vitest';
import { eventually } from './eventually';
import { startOrchestrator, type RunningOrchestrator } from './harness';

interface DemoTraffic {
  startFlakyBackends(options?: { periodMs?: number; downMs?: number }): Promise<{
    urls: string[];
    close(): Promise<unknown>;
  }>;
  driveTraffic(orchUrl: string, options?: { rate?: number }): () => Promise<void>;
}

const SCRIPT = new URL('../../../scripts/demo-traffic.mjs', import.meta.url).href;

/** The value of one sample of `/metrics`, 0 when absent. */
function sample(metrics: string, series: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

/** `npm start`'s demo traffic (scripts/demo-traffic.mjs), faster, against the demo pools and its flaky pool. */
describe('demo traffic of npm start', () => {
  let demo: DemoTraffic;
  let flaky: Awaited<ReturnType<DemoTraffic['startFlakyBackends']>>;
  let orch: RunningOrchestrator;

  beforeAll(async () => {
    demo = (await import(SCRIPT)) as DemoTraffic;
    flaky = await demo.startFlakyBackends({ periodMs: 2000, downMs: 1000 });
    orch = await startOrchestrator({
      ORCH_DEMO: '1',
      ORCH_POOL_FLAKY: flaky.urls.join(','),
      ORCH_CB_FAILS: '1',
      ORCH_HEALTH_EVERY: '250ms',
      ORCH_TENANT_BURST: '100000',
      ORCH_IP_BURST: '100000',
      ORCH_IP_BURST_DEGRADED: '100000',
    });
  });

  afterAll(async () => {
    await orch?.close();
    await flaky?.close();
  });

  it('shows every kind of decision and a breaker opening within seconds', async () => {
    const stop = demo.driveTraffic(orch.url, { rate: 50 });
    try {
      await eventually(
        async () => {
          const metrics = await (await fetch(`${orch.url}/metrics`)).text();
          return (
            ['allow', 'divert', 'tarpit'].every(
              (action) => sample(metrics, `orchestrator_route_total{action="${action}"}`) > 0,
            ) &&
            sample(metrics, 'orchestrator_route_denied_total{reason="policy"}') > 0 &&
            sample(metrics, 'orchestrator_cb_open_total') > 0
          );
        },
        { timeoutMs: 15_000, everyMs: 250, what: 'allow, divert, tarpit, deny and an open breaker' },
      );
    } finally {
      await stop();
    }
  }, 30_000);
});
