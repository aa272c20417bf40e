import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoBackend, type RunningDemoBackend } from '../src/demo/demo-backends';
import { startOrchestrator, type RunningOrchestrator } from './harness';

/** Rollouts declared in the configuration (ORCH_ROLLOUTS): started at start-up and on a reload, idempotently. */
describe('rollouts in the configuration', () => {
  let stable: RunningDemoBackend;
  let canary: RunningDemoBackend;
  let work: string;
  const running: RunningOrchestrator[] = [];

  const rollout = (steps: number[] = [100]) => ({
    web: {
      stable: [stable.url],
      canary: [canary.url],
      steps,
      interval: '1h',
      maxErrorRate: 0.5,
      maxP99Ratio: 10,
      minRequests: 1000,
    },
  });
  const start = async (env: Record<string, string>) => {
    const orch = await startOrchestrator(env);
    running.push(orch);
    return orch;
  };
  const stateOf = async (orch: RunningOrchestrator) => {
    const response = await fetch(`${orch.url}/admin/rollouts/web`);
    return response.status === 200 ? ((await response.json()) as { state: string; percent: number }) : response.status;
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'shieldx-rollouts-config-'));
    stable = await startDemoBackend({ name: 'stable', delayMs: 0, jitterMs: 0 });
    canary = await startDemoBackend({ name: 'canary', delayMs: 0, jitterMs: 0 });
  });

  afterAll(async () => {
    for (const orch of running) await orch.close();
    await stable?.close();
    await canary?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('starts a configured rollout at start-up', async () => {
    const orch = await start({ ORCH_POOL_WEB: stable.url, ORCH_ROLLOUTS: JSON.stringify(rollout()) });
    // Blue-green previews first: no client request reaches the canary before its preview passed.
    expect(await stateOf(orch)).toMatchObject({ state: 'running', phase: 'preview', percent: 0 });
    const audit = (await (await fetch(`${orch.url}/admin/audit?type=admin.action&limit=20`)).json()) as {
      entries: { data: Record<string, unknown> }[];
    };
    expect(audit.entries.map((entry) => entry.data)).toContainEqual(
      expect.objectContaining({ action: 'rollout.put', pool: 'web', actor: 'config' }),
    );
  });

  it('does not start it again once the pool serves the canary set (promoted before a restart)', async () => {
    const orch = await start({ ORCH_POOL_WEB: canary.url, ORCH_ROLLOUTS: JSON.stringify(rollout()) });
    expect(await stateOf(orch)).toBe(404);
  });

  it('refuses to start with a configured rollout that cannot run, naming it', async () => {
    await expect(
      startOrchestrator({ ORCH_POOL_WEB: stable.url, ORCH_ROLLOUTS: JSON.stringify(rollout([50])) }),
    ).rejects.toThrow(/ORCH_ROLLOUTS: the rollout of 'web': .*the last step must be 100/);
    await expect(startOrchestrator({ ORCH_ROLLOUTS: '{"Web!": {}}' })).rejects.toThrow(/ORCH_ROLLOUTS/);
  });

  it('starts a rollout added to the file on a configuration reload', async () => {
    const file = join(work, 'shieldx.yaml');
    writeFileSync(file, `ORCH_POOL_WEB: "${stable.url}"\n`);
    const orch = await start({ ORCH_CONFIG: file });
    expect(await stateOf(orch)).toBe(404);
    writeFileSync(
      file,
      `ORCH_POOL_WEB: "${stable.url}"\nORCH_ROLLOUTS: ${JSON.stringify(JSON.stringify(rollout()))}\n`,
    );
    const answer = (await (await fetch(`${orch.url}/admin/config/reload`, { method: 'POST' })).json()) as Record<
      string,
      unknown
    >;
    expect(answer).toMatchObject({
      ok: true,
      applied: ['ORCH_ROLLOUTS'],
      rollouts: { started: ['web'], skipped: [], failed: [] },
    });
    expect(await stateOf(orch)).toMatchObject({ state: 'running' });
  });
});
