import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RolloutsService } from '../src/rollouts/rollouts.service';
import { startOrchestrator, type RunningOrchestrator, UNLIMITED } from './harness';
import { call, startVersion, type VersionBackend } from './rollout-backends';

const TOKEN = 'admin-token-for-restart-tests-0123456789';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const READ = { 'x-tenant': 'acme', 'x-scope': 'read' };

interface RolloutBody {
  state: string;
  phase: string;
  percent: number;
  step: number;
  history: { kind: string; reason: string }[];
}

/**
 * Rollouts without Redis survive a restart through the state file beside the ledger; a pool under a live rollout
 * refuses edits, and a configuration reload leaves it to the rollout.
 */
describe(`${RolloutsService.name} across restarts`, () => {
  let work: string;
  let stable: VersionBackend;
  let green: VersionBackend;
  let broken: VersionBackend;
  const running: RunningOrchestrator[] = [];

  /** Starts an instance on the shared ledger directory; `pools` false: the pools come from `env` (a file). */
  const start = async (env: Record<string, string> = {}, pools = true): Promise<RunningOrchestrator> => {
    const orch = await startOrchestrator({
      ORCH_ADMIN_TOKEN: TOKEN,
      ORCH_LEDGER_PATH: join(work, 'ledger.jsonl'),
      ...(pools ? { ORCH_POOL_WEB: stable.url, ORCH_POOL_BAD: stable.url } : {}),
      ...UNLIMITED,
      ...env,
    });
    running.push(orch);
    return orch;
  };
  const stop = async (orch: RunningOrchestrator): Promise<void> => {
    running.splice(running.indexOf(orch), 1);
    await orch.close();
  };
  const rollout = async (orch: RunningOrchestrator, pool: string): Promise<RolloutBody> =>
    (await call(orch.url, 'GET', `/admin/rollouts/${pool}`, undefined, AUTH)).body as unknown as RolloutBody;
  const names = async (orch: RunningOrchestrator, pool: string, count: number): Promise<string[]> => {
    const seen: string[] = [];
    for (let i = 0; i < count; i++) {
      seen.push(String((await call(orch.url, 'GET', `/proxy/${pool}/x`, undefined, READ)).body['name']));
    }
    return seen;
  };
  const badRollout = () => ({
    stable: [stable.url],
    canary: [broken.url],
    steps: [100],
    interval: '1h',
    maxErrorRate: 0.1,
    maxP99Ratio: 100,
    minRequests: 3,
    preview: false,
  });

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'shieldx-rollouts-restart-'));
    stable = await startVersion('stable');
    green = await startVersion('green');
    broken = await startVersion('broken', () => 500);
  });

  afterAll(async () => {
    for (const orch of [...running]) await orch.close();
    await Promise.all([stable, green, broken].map((backend) => backend?.close()));
    rmSync(work, { recursive: true, force: true });
  });

  it('resumes a live rollout at its step after a restart, and never splits to a set that was rolled back', async () => {
    const first = await start();
    const put = await call(
      first.url,
      'PUT',
      '/admin/rollouts/web',
      {
        stable: [stable.url],
        canary: [green.url],
        steps: [50, 100],
        interval: '1h',
        maxErrorRate: 0.1,
        maxP99Ratio: 100,
        minRequests: 1000,
      },
      AUTH,
    );
    expect(put.body).toMatchObject({ state: 'running', phase: 'traffic', percent: 50 });
    expect((await call(first.url, 'PUT', '/admin/rollouts/bad', badRollout(), AUTH)).status).toBe(200);
    let bad = await rollout(first, 'bad');
    for (let i = 0; bad.state === 'running' && i < 20; i++) {
      await names(first, 'bad', 1);
      bad = await rollout(first, 'bad');
    }
    expect(bad.state).toBe('rolled_back');
    const statePath = join(work, 'ledger.rollouts.json');
    expect(existsSync(statePath)).toBe(true);
    expect(JSON.parse(readFileSync(statePath, 'utf8'))).toMatchObject({ format: 1 });
    await stop(first);

    // The configuration still asks for the rollout that rolled back: it is not started again.
    const second = await start({ ORCH_ROLLOUTS: JSON.stringify({ bad: badRollout() }) });
    const web = await rollout(second, 'web');
    expect(web).toMatchObject({ state: 'running', phase: 'traffic', percent: 50, step: 0 });
    expect(web.history.map((h) => h.kind)).toEqual(['started', 'restored']);
    expect(web.history[1].reason).toMatch(/restart/);
    expect(new Set(await names(second, 'web', 20))).toEqual(new Set(['stable', 'green']));
    expect(await rollout(second, 'bad')).toMatchObject({ state: 'rolled_back', percent: 0 });
    const hitsBefore = broken.seen.length;
    expect(new Set(await names(second, 'bad', 10))).toEqual(new Set(['stable']));
    expect(broken.seen.length).toBe(hitsBefore);
    const log = second.logs.find((line) => line['event'] === 'config_rollouts');
    expect(log?.['skipped']).toEqual([{ pool: 'bad', reason: 'rolled_back' }]);
    await stop(second);
  });

  it('refuses pool edits during a rollout (409 rollout_active) and holds a reloaded pool for the rollout', async () => {
    const file = join(work, 'shieldx.yaml');
    writeFileSync(file, `ORCH_POOL_WEB: "${stable.url}"\n`);
    const orch = await start({ ORCH_CONFIG: file }, false);
    expect(await rollout(orch, 'web')).toMatchObject({ state: 'running', percent: 50 });
    const edit = await call(orch.url, 'PUT', '/admin/pools/web', { urls: [green.url] }, AUTH);
    expect(edit).toMatchObject({ status: 409, body: { error: 'rollout_active' } });
    expect(String(edit.body['message'])).toMatch(/'web' is under a running rollout/);
    expect((await call(orch.url, 'DELETE', '/admin/pools/web', undefined, AUTH)).body['error']).toBe('rollout_active');

    writeFileSync(file, `ORCH_POOL_WEB: "${green.url}"\n`);
    const reload = await call(orch.url, 'POST', '/admin/config/reload', undefined, AUTH);
    expect(reload.body).toMatchObject({ ok: true, pools: { held: ['web'] } });
    const pools = (await call(orch.url, 'GET', '/admin/pools', undefined, AUTH)).body['pools'] as {
      name: string;
      backends: { url: string }[];
    }[];
    expect(pools.find((pool) => pool.name === 'web')?.backends.map((b) => b.url)).toEqual([stable.url]);

    // Once the rollout ends, the same file applies on the next reload.
    expect((await call(orch.url, 'POST', '/admin/rollouts/web/abort', undefined, AUTH)).body['state']).toBe('aborted');
    const again = await call(orch.url, 'POST', '/admin/config/reload', undefined, AUTH);
    expect(again.body).toMatchObject({ ok: true, pools: { defined: ['web'] } });
    expect(new Set(await names(orch, 'web', 5))).toEqual(new Set(['green']));
  });
});
