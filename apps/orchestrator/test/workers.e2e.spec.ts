import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileOrchestrator } from './compile';
import { eventually } from './eventually';
import { freePort } from './redis-harness';

/** One request on a fresh connection (so the primary hands it to the next worker); resolves status, headers, body. */
function request(
  url: string,
  options: { method?: string; body?: unknown } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const req = http.request(
      url,
      {
        method: options.method ?? 'GET',
        agent: false,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        timeout: 5000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

/** Polls `probe` until it yields a value; a probe that throws (a worker not listening yet) counts as not yet. */
function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  return eventually(() => probe().catch(() => undefined), { timeoutMs, everyMs: 50, what });
}

/** The primary's JSON log lines (stdout). */
function logLines(output: string): Record<string, unknown>[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/**
 * ORCH_WORKERS=2 on the built app (main.js as a child process, so node:cluster runs for real): two worker processes
 * answer on one port, each with its own ledger file; a killed worker is started again; the demo backends run once;
 * `/metrics` shows every worker; SIGTERM stops everything.
 */
describe('ORCH_WORKERS=2 (node:cluster)', () => {
  let work: string;
  let build: string;
  let child: ChildProcess | undefined;
  let stdout = '';
  let stderr = '';
  let origin: string;
  let ops: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'shieldx-e2e-workers-'));
    build = compileOrchestrator('e2e-workers-');

    const port = await freePort();
    origin = `http://127.0.0.1:${port}`;
    const opsPort = await freePort();
    ops = `http://127.0.0.1:${opsPort}`;
    child = spawn(process.execPath, [join(build, 'apps/orchestrator/src/main.js')], {
      env: {
        PATH: process.env.PATH,
        ORCH_ALLOW_INSECURE: '1',
        ORCH_HOST: '127.0.0.1',
        ORCH_PORT: String(port),
        ORCH_WORKERS: '2',
        ORCH_OPS_PORT: String(opsPort),
        ORCH_DEMO: '1',
        ORCH_LEDGER_PATH: join(work, 'ledger.jsonl'),
        ORCH_IP_BURST: '1000000',
        ORCH_IP_BURST_DEGRADED: '1000000',
        ORCH_LOG_LEVEL: 'info',
        ORCH_SHUTDOWN_GRACE: '2s',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await waitFor('both workers listening', 30_000, () => {
      if (child?.exitCode !== null) throw new Error(`the orchestrator exited: ${stderr}${stdout.slice(-3000)}`);
      const listening = logLines(stdout).some((line) => line.event === 'listening' && line.workers === 2);
      return Promise.resolve(listening ? true : undefined);
    });
  }, 120_000);

  afterAll(() => {
    if (child !== undefined && child.exitCode === null) child.kill('SIGKILL');
    for (const line of logLines(stdout)) {
      if (line.event === 'worker_started' && typeof line.pid === 'number') {
        try {
          process.kill(line.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    rmSync(build, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  /** Slot numbers seen in `x-shieldx-worker` over `n` fresh connections. */
  async function slotsAnswering(n: number): Promise<Set<string>> {
    const slots = new Set<string>();
    for (let i = 0; i < n; i++) {
      const answer = await request(`${origin}/route`, {
        method: 'POST',
        body: { service: 'api', tenant: 'acme', scope: 'read', path: '/v1/items' },
      });
      expect(answer.status).toBe(200);
      slots.add(String(answer.headers['x-shieldx-worker']));
    }
    return slots;
  }

  const started = () =>
    logLines(stdout).filter((line) => line.event === 'worker_started') as { slot: number; pid: number }[];

  it('serves one port from two worker processes, each with its own ledger file, demo backends started once', async () => {
    expect([...(await slotsAnswering(8))].sort()).toEqual(['1', '2']);
    const pids = new Set(started().map((line) => line.pid));
    expect(pids.size).toBe(2);
    expect(pids.has(child?.pid ?? -1)).toBe(false);
    expect(existsSync(join(work, 'ledger.w1.jsonl'))).toBe(true);
    expect(existsSync(join(work, 'ledger.w2.jsonl'))).toBe(true);
    expect(existsSync(join(work, 'ledger.jsonl'))).toBe(false);

    // Both workers balance over the same demo backends (started once, by the primary).
    const backendsOf = async (slot: string): Promise<string[]> =>
      waitFor(`/health from worker ${slot}`, 5000, async () => {
        const answer = await request(`${origin}/health`);
        if (answer.headers['x-shieldx-worker'] !== slot) return undefined;
        const body = JSON.parse(answer.body) as { pools: Record<string, { backends: { url: string }[] }> };
        return Object.values(body.pools)
          .flatMap((pool) => pool.backends.map((backend) => backend.url))
          .sort();
      });
    const one = await backendsOf('1');
    expect(one.length).toBe(7);
    expect(await backendsOf('2')).toEqual(one);
    expect(logLines(stdout).filter((line) => line.event === 'demo_pool')).toHaveLength(3);
  });

  it("answers /metrics with every worker's samples, labelled by worker", async () => {
    const answer = await request(`${origin}/metrics`);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatch(/^orchestrator_route_total\{action="allow",worker="1"\} \d+/m);
    expect(answer.body).toMatch(/^orchestrator_route_total\{action="allow",worker="2"\} \d+/m);
    expect(answer.body.match(/^# TYPE orchestrator_route_total counter$/gm)).toHaveLength(1);
    // The ops listener (ORCH_OPS_PORT, plain HTTP for probes and scrapes) answers the same, from either worker.
    const scraped = await request(`${ops}/metrics`);
    expect(scraped.status).toBe(200);
    expect(scraped.body).toMatch(/^orchestrator_route_total\{action="allow",worker="2"\} \d+/m);
    expect((await request(`${ops}/healthz`)).status).toBe(200);
    expect((await request(`${ops}/readyz`)).status).toBe(200);
    expect((await request(`${ops}/route`, { method: 'POST', body: {} })).status).toBe(405);
    expect((await request(`${ops}/health`)).status).toBe(404);
  });

  it('starts a killed worker again, in the same slot', async () => {
    const victim = started().find((line) => line.slot === 1);
    expect(victim).toBeDefined();
    process.kill(victim?.pid ?? -1, 'SIGKILL');
    const replacement = await waitFor('a new worker in slot 1', 15_000, () =>
      Promise.resolve(started().find((line) => line.slot === 1 && line.pid !== victim?.pid)),
    );
    expect(logLines(stdout).some((line) => line.event === 'worker_exited' && line.slot === 1)).toBe(true);
    await waitFor('slot 1 answering again', 15_000, async () =>
      (await slotsAnswering(4)).has('1') ? true : undefined,
    );
    expect(replacement.pid).not.toBe(victim?.pid);
  });

  it('stops every worker and exits 0 on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)));
    child?.kill('SIGTERM');
    expect(await exited).toBe(0);
    const workers = started().map((line) => line.pid);
    for (const pid of workers) {
      expect(() => process.kill(pid, 0), `worker ${pid} still running`).toThrow();
    }
  });
});
