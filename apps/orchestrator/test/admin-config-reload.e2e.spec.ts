import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { OrchestratorConfig } from '../src/config/config';
import { ORCH_CONFIG } from '../src/config/config.module';
import { PolicyService } from '../src/policy/policy.service';
import { reloadConfig, writeConfigFile } from './config-file';
import { startOrchestrator, type RunningOrchestrator } from './harness';

/**
 * Configuration reloads that overlap (`POST /admin/config/reload` twice, the file changed in between) run one after
 * the other: the second reads the file once the first is done, so the file last read is what runs, and each audited
 * outcome says what that reload changed.
 */
describe('configuration reloads at once', () => {
  let work: string;
  let file: string;
  let rules: string;
  let orch: RunningOrchestrator;

  const writeConfig = (lines: Record<string, string>) => writeConfigFile(file, lines);
  const reload = () => reloadConfig(orch.url);
  const running = () => orch.app.get<symbol, OrchestratorConfig>(ORCH_CONFIG);
  const audited = async (type: string) => {
    const response = await fetch(`${orch.url}/admin/audit?type=${type}&limit=100&order=asc&after=0`);
    return ((await response.json()) as { entries: { data: Record<string, unknown> }[] }).entries.map((e) => e.data);
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'shieldx-admin-config-reload-'));
    file = join(work, 'shieldx.yaml');
    rules = join(work, 'rules.json');
    writeFileSync(rules, JSON.stringify({ allow_all: true }));
    writeConfig({ ORCH_TENANT_BURST: '100' });
    orch = await startOrchestrator({ ORCH_CONFIG: file });
  });

  afterAll(async () => {
    vi.restoreAllMocks();
    await orch?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('lets the second reload wait for the first and read the file itself, so the newer file wins', async () => {
    // The first reload loads a policy (v1 names a rules file): hold it there until the second has had its chance.
    const policy = orch.app.get(PolicyService);
    const reconfigure = policy.reconfigure.bind(policy);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inFirst = new Promise<void>((resolve) => (entered = resolve));
    vi.spyOn(policy, 'reconfigure').mockImplementationOnce(async (...args) => {
      entered();
      await held;
      return reconfigure(...args);
    });

    writeConfig({ ORCH_TENANT_BURST: '300', ORCH_POLICY_PATH: rules });
    const first = reload();
    await inFirst;
    writeConfig({ ORCH_TENANT_BURST: '400', ORCH_POLICY_PATH: rules });
    const second = reload();
    // Unserialised, the second reload would apply v2 now and the first would then overwrite it with v1.
    const early = await Promise.race([second, new Promise((resolve) => setTimeout(() => resolve('waiting'), 500))]);
    release();

    const [a, b] = await Promise.all([first, second]);
    expect(running().rateLimit.tenantPerMinute).toBe(400);
    expect(early).toBe('waiting');
    expect(a).toEqual({
      status: 200,
      body: expect.objectContaining({ ok: true, applied: ['ORCH_TENANT_BURST', 'ORCH_POLICY_PATH'] }),
    });
    // Read after the first was applied, v2 changes only the tenant burst: that is all it says it applied.
    expect(b).toEqual({ status: 200, body: expect.objectContaining({ ok: true, applied: ['ORCH_TENANT_BURST'] }) });
    expect(running().policy.path).toBe(rules);
    const reloads = (await audited('admin.action')).filter((data) => data['action'] === 'config.reload');
    expect(reloads.slice(-2)).toEqual([
      expect.objectContaining({ result: 'success', applied: ['ORCH_TENANT_BURST', 'ORCH_POLICY_PATH'] }),
      expect.objectContaining({ result: 'success', applied: ['ORCH_TENANT_BURST'] }),
    ]);
  });

  it('ends with the file last written after pairs of reloads ~3 ms apart', async () => {
    // The race of the review (the older file won 7 times in 15); the test above forces its interleaving.
    for (let round = 0; round < 15; round++) {
      const v1 = String(1000 + round * 10);
      const v2 = String(1000 + round * 10 + 1);
      // Each version names its own policy file, so every reload awaits a policy load before it applies.
      const path = (version: string) => {
        const name = join(work, `rules-${version}.json`);
        writeFileSync(name, JSON.stringify({ allow_all: true }));
        return name;
      };
      const p1 = path(v1);
      const p2 = path(v2);
      writeConfig({ ORCH_TENANT_BURST: v1, ORCH_POLICY_PATH: p1 });
      const first = reload();
      await new Promise((resolve) => setTimeout(resolve, 3));
      writeConfig({ ORCH_TENANT_BURST: v2, ORCH_POLICY_PATH: p2 });
      const second = reload();
      const answers = await Promise.all([first, second]);
      expect(answers.map((answer) => answer.status)).toEqual([200, 200]);
      expect({ round, burst: running().rateLimit.tenantPerMinute, path: running().policy.path }).toEqual({
        round,
        burst: Number(v2),
        path: p2,
      });
    }
  });

  it('names who reloaded in the policy.reloaded event a configuration reload causes', async () => {
    const reloaded = (await audited('policy.reloaded')).filter((data) => data['trigger'] === 'config');
    expect(reloaded.length).toBeGreaterThan(0);
    for (const data of reloaded) expect(data['actor']).toBe('insecure-loopback');
  });
});
