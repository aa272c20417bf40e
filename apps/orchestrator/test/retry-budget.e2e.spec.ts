import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import type { Env } from '../src/config/config';
import { ProxyService } from '../src/proxy/proxy.service';
import { startTestBackend, type TestBackend } from './backends';
import { eventually } from './eventually';
import { startOrchestrator, type RunningOrchestrator } from './harness';

const CALLER = { 'x-tenant': 'acme', 'x-scope': 'read' };
const REQUESTS = 10;

/** What became of one GET: still in flight on `hanging` (first attempt or retry), or answered with a status. */
type Outcome = 'in flight' | number;

/**
 * Pool `pair` has two backends: `failing` answers 503 to everything, `hanging` never answers `/hang`. A GET that lands
 * on `failing` is retried on `hanging`, where it stays in flight: so retries pile up, and the retry budget
 * (docs/http-api.md, ORCH_RETRY_BUDGET: retries in flight at most that share of proxied requests in flight, always at
 * least 3) decides how many. Pool `hold` (backend `idle`, which never answers `/hang` either) adds requests in flight
 * that are not retries.
 */
describe('the retry budget of /proxy', () => {
  let backends: TestBackend[] = [];
  let orch: RunningOrchestrator | undefined;
  const aborts: AbortController[] = [];

  afterEach(async () => {
    for (const abort of aborts.splice(0)) abort.abort();
    await orch?.close();
    orch = undefined;
    await Promise.all(backends.map((b) => b.close()));
  });

  /** Starts the backends and a gateway in front of them; `weights` of `pair` as ORCH_POOL_WEIGHTS_PAIR takes them. */
  async function start(env: Env, weights?: { failing: number; hanging: number }) {
    backends = await Promise.all(['failing', 'hanging', 'idle'].map((name) => startTestBackend(name)));
    const [failing, hanging, idle] = backends;
    failing.failWith = 503;
    orch = await startOrchestrator({
      ORCH_POOL_PAIR: `${failing.url},${hanging.url}`,
      ORCH_POOL_ALGO_PAIR: 'round_robin',
      ...(weights === undefined
        ? {}
        : {
            ORCH_POOL_WEIGHTS_PAIR: JSON.stringify({ [failing.url]: weights.failing, [hanging.url]: weights.hanging }),
          }),
      ORCH_POOL_HOLD: idle.url,
      ORCH_PROXY_RETRIES: '1',
      ORCH_PROXY_TIMEOUT: '60s',
      // Neither the breaker nor outlier detection may take `failing` out: every pick stays possible.
      ORCH_CB_FAILS: '1000',
      ORCH_OUTLIER_MAX_EJECTION: '0',
      ORCH_IP_BURST: '1000000',
      ORCH_TENANT_BURST: '1000000',
      ...env,
    });
    return { failing, hanging, idle, url: orch.url };
  }

  /** Sends one GET and waits until it is settled: answered, or arrived at `until` (where it stays in flight). */
  async function send(url: string, pool: string, until: TestBackend): Promise<Outcome> {
    const abort = new AbortController();
    aborts.push(abort);
    const arrived = once(until.events, 'request');
    const answered = fetch(`${url}/proxy/${pool}/hang`, { headers: CALLER, signal: abort.signal }).then(
      async (response) => {
        await response.arrayBuffer();
        return response.status;
      },
    );
    answered.catch(() => undefined);
    return Promise.race([arrived.then(() => 'in flight' as const), answered]);
  }

  /** Ends every request still in flight (client aborts) and waits until the gateway has none left. */
  async function endAllInFlight(): Promise<void> {
    for (const abort of aborts.splice(0)) abort.abort();
    const proxy = orch!.app.get(ProxyService);
    await eventually(() => proxy.inFlight === 0, { what: 'no proxied request in flight' });
  }

  /** Sends the GETs one after the other, each settled before the next; every one lands first on either backend. */
  async function run(budget: string): Promise<{ failing: number; retried: number; refused: number }> {
    const { failing, hanging, url } = await start({ ORCH_RETRY_BUDGET: budget });
    let refused = 0;
    for (let i = 0; i < REQUESTS; i++) {
      const outcome = await send(url, 'pair', hanging);
      if (outcome !== 'in flight') {
        expect(outcome).toBe(503);
        refused++;
      }
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

  it('by default, lets retries in flight reach half of the proxied requests in flight, and no more', async () => {
    // `failing` takes every first attempt (smooth round robin gives `hanging` its first turn at pick 501).
    const { failing, hanging, idle, url } = await start({}, { failing: 1000, hanging: 1 });
    for (let i = 0; i < REQUESTS; i++) expect(await send(url, 'hold', idle)).toBe('in flight');
    // The k-th GET to `pair` may be retried while the k-1 retries before it are fewer than (10 + k) / 2: k ≤ 11.
    const outcomes: Outcome[] = [];
    for (let k = 1; k <= 14; k++) outcomes.push(await send(url, 'pair', hanging));
    expect(failing.hits).toBe(14);
    expect(outcomes).toEqual([...Array<Outcome>(11).fill('in flight'), 503, 503, 503]);
    expect(hanging.hits).toBe(11);
  });

  it('is whole again once the retries in flight have ended', async () => {
    const { failing, hanging, url } = await start({ ORCH_RETRY_BUDGET: '0' }, { failing: 1000, hanging: 1 });
    const spend = async (): Promise<Outcome[]> => {
      const outcomes: Outcome[] = [];
      for (let k = 1; k <= 5; k++) outcomes.push(await send(url, 'pair', hanging));
      return outcomes;
    };
    const spent = ['in flight', 'in flight', 'in flight', 503, 503];
    expect(await spend()).toEqual(spent);
    await endAllInFlight();
    expect(await spend()).toEqual(spent);
    expect([failing.hits, hanging.hits]).toEqual([10, 6]);
  });
});
