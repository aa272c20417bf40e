import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestBackend, type TestBackend } from './backends';
import { startOrchestrator, type RunningOrchestrator } from './harness';

const CALLER = { 'x-tenant': 'acme', 'x-scope': 'read' };
const REQUESTS = 10;

/**
 * A pool of two backends: `failing` answers 503 to everything, `hanging` never answers `/hang`. A GET that lands on
 * `failing` is retried on `hanging`, where it stays in flight: so retries pile up, and the retry budget
 * (docs/proxy.md, ORCH_RETRY_BUDGET; always at least 3 retries in flight) decides how many.
 */
describe('the retry budget of /proxy', () => {
  let backends: TestBackend[] = [];
  let orch: RunningOrchestrator | undefined;
  const aborts: AbortController[] = [];

  afterEach(async () => {
    for (const abort of aborts.splice(0)) abort.abort();
    await orch?.close();
    await Promise.all(backends.map((b) => b.close()));
  });

  /** Sends the GETs one after the other, each settled (answered, or arrived at `hanging`) before the next. */
  async function run(budget: string): Promise<{ failing: number; retried: number; refused: number }> {
    backends = await Promise.all(['failing', 'hanging'].map((name) => startTestBackend(name)));
    const [failing, hanging] = backends;
    failing.failWith = 503;
    orch = await startOrchestrator({
      ORCH_POOL_PAIR: backends.map((b) => b.url).join(','),
      ORCH_POOL_ALGO_PAIR: 'round_robin',
      ORCH_RETRY_BUDGET: budget,
      ORCH_PROXY_RETRIES: '1',
      ORCH_PROXY_TIMEOUT: '60s',
      // Neither the breaker nor outlier detection may take `failing` out: every pick stays possible.
      ORCH_CB_FAILS: '1000',
      ORCH_OUTLIER_MAX_EJECTION: '0',
      ORCH_IP_BURST: '1000000',
      ORCH_TENANT_BURST: '1000000',
    });
    let refused = 0;
    for (let i = 0; i < REQUESTS; i++) {
      const abort = new AbortController();
      aborts.push(abort);
      const arrived = once(hanging.events, 'request');
      const answered = fetch(`${orch.url}/proxy/pair/hang`, { headers: CALLER, signal: abort.signal }).then(
        async (response) => {
          await response.arrayBuffer();
          return response.status;
        },
      );
      const outcome = await Promise.race([arrived.then(() => 'in flight' as const), answered]);
      if (outcome !== 'in flight') {
        expect(outcome).toBe(503);
        refused++;
      }
      answered.catch(() => undefined);
    }
    // Every GET reached `hanging` once, directly or as the retry of one `failing` refused.
    const retried = hanging.hits - (REQUESTS - failing.hits);
    return { failing: failing.hits, retried, refused };
  }

  it('with ORCH_RETRY_BUDGET=0, retries at most 3 at once and answers the other failures as they are', async () => {
    const { failing, retried, refused } = await run('0');
    expect(failing).toBeGreaterThan(3);
    expect(retried).toBe(3);
    expect(refused).toBe(failing - 3);
  });

  it('with ORCH_RETRY_BUDGET=1, retries every failure while the others are in flight', async () => {
    const { failing, retried, refused } = await run('1');
    expect(failing).toBeGreaterThan(3);
    expect(retried).toBe(failing);
    expect(refused).toBe(0);
  });
});
