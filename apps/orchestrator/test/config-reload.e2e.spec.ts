import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoBackend, type RunningDemoBackend } from '../src/demo/demo-backends';
import { reloadConfig, writeConfigFile } from './config-file';
import { post, startOrchestrator, type RunningOrchestrator } from './harness';

const ROUTE = { service: 'api', tenant: 'acme', scope: 'read', path: '/v1/items' };

/** Live configuration: `POST /admin/config/reload` and SIGHUP read the ORCH_CONFIG file again. */
describe('configuration reload', () => {
  let work: string;
  let file: string;
  let first: RunningDemoBackend;
  let second: RunningDemoBackend;
  let orch: RunningOrchestrator;

  const writeConfig = (lines: Record<string, string>) => writeConfigFile(file, lines);

  const reload = () => reloadConfig(orch.url);

  const auditOf = async () => {
    const response = await fetch(`${orch.url}/admin/audit?type=admin.action&limit=50`);
    const page = (await response.json()) as { entries: { data: Record<string, unknown> }[] };
    return page.entries.map((entry) => entry.data).filter((data) => data['action'] === 'config.reload');
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'shieldx-config-reload-'));
    file = join(work, 'shieldx.yaml');
    first = await startDemoBackend({ name: 'first', delayMs: 0, jitterMs: 0 });
    second = await startDemoBackend({ name: 'second', delayMs: 0, jitterMs: 0 });
    writeConfig({ ORCH_POOL_API: first.url, ORCH_TENANT_BURST: '100', ORCH_LOG_LEVEL: 'info' });
    orch = await startOrchestrator({ ORCH_CONFIG: file });
  });

  afterAll(async () => {
    await orch?.close();
    await first?.close();
    await second?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('applies pools and limits at once and names the settings that need a restart', async () => {
    const before = await post(`${orch.url}/route`, ROUTE);
    expect(before.body['target']).toBe(first.url);
    expect(before.headers.get('ratelimit-limit')).toBe('100');

    writeConfig({
      ORCH_POOL_API: second.url,
      ORCH_POOL_ORDERS: first.url,
      ORCH_TENANT_BURST: '200',
      ORCH_LOG_LEVEL: 'warn',
    });
    const answer = await reload();
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      ok: true,
      applied: ['pools', 'ORCH_TENANT_BURST'],
      pools: { defined: ['api', 'orders'], removed: [] },
      restartRequired: ['ORCH_LOG_LEVEL'],
    });
    const after = await post(`${orch.url}/route`, ROUTE);
    expect(after.body['target']).toBe(second.url);
    expect(after.headers.get('ratelimit-limit')).toBe('200');
    expect((await post(`${orch.url}/route`, { ...ROUTE, service: 'orders' })).body['target']).toBe(first.url);
  });

  it('keeps the running configuration when the file is invalid, and says why', async () => {
    writeConfig({ ORCH_POOL_API: second.url, ORCH_TENANT_BURST: 'lots' });
    const answer = await reload();
    expect(answer.status).toBe(422);
    expect(answer.body['error']).toBe('config_invalid');
    expect(answer.body['details']).toEqual({ problems: [expect.stringContaining('ORCH_TENANT_BURST')] });
    const still = await post(`${orch.url}/route`, ROUTE);
    expect(still.body['target']).toBe(second.url);
    expect(still.headers.get('ratelimit-limit')).toBe('200');
    expect(await auditOf()).toContainEqual(expect.objectContaining({ result: 'rejected' }));
  });

  it('reloads on SIGHUP too, removing a pool the file no longer has', async () => {
    writeConfig({ ORCH_POOL_API: second.url, ORCH_TENANT_BURST: '200', ORCH_LOG_LEVEL: 'warn' });
    process.emit('SIGHUP');
    const removed = await post(`${orch.url}/route`, { ...ROUTE, service: 'orders' });
    expect(removed.status).toBe(404);
    expect(await auditOf()).toContainEqual(
      expect.objectContaining({ actor: 'signal', result: 'success', pools: { defined: [], removed: ['orders'] } }),
    );
  });

  it('applies policy settings live: a new rules file decides at once, one that does not load refuses the reload', async () => {
    const rules = join(work, 'rules.json');
    writeFileSync(
      rules,
      JSON.stringify({
        allow_all: true,
        advanced: [{ tenant: 'acme', scopes: ['*'], path_prefix: '/v1/', action: 'deny', reason: 'acme is closed' }],
      }),
    );
    const base = { ORCH_POOL_API: second.url, ORCH_TENANT_BURST: '200', ORCH_LOG_LEVEL: 'warn' };
    expect((await post(`${orch.url}/route`, ROUTE)).status).toBe(200);
    const versionBefore = ((await (await fetch(`${orch.url}/policy`)).json()) as { version: number }).version;
    writeConfig({ ...base, ORCH_POLICY_PATH: rules, ORCH_TARPIT_MAX: '7' });
    const answer = await reload();
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      ok: true,
      applied: ['ORCH_POLICY_PATH', 'ORCH_TARPIT_MAX'],
    });
    const denied = await post(`${orch.url}/route`, ROUTE);
    expect(denied.status).toBe(403);
    expect(denied.body['message']).toContain('acme is closed');
    expect(await (await fetch(`${orch.url}/policy`)).json()).toMatchObject({ version: versionBefore + 1 });

    // A rules file that does not parse: nothing of the file applies (the pool change neither), the policy stays.
    writeFileSync(join(work, 'broken.json'), '{"allow_all": ');
    writeConfig({ ...base, ORCH_POOL_API: first.url, ORCH_POLICY_PATH: join(work, 'broken.json') });
    const refused = await reload();
    expect(refused.status).toBe(422);
    expect(refused.body['details']).toEqual({ problems: [expect.stringMatching(/^policy: .*broken\.json/)] });
    expect((await post(`${orch.url}/route`, ROUTE)).status).toBe(403);
    expect((await post(`${orch.url}/route`, { ...ROUTE, tenant: 'globex' })).body['target']).toBe(second.url);
    expect(await auditOf()).toContainEqual(
      expect.objectContaining({ result: 'rejected', problems: [expect.stringContaining('broken.json')] }),
    );

    // Back to the bundled rules.
    writeConfig(base);
    expect((await reload()).body).toMatchObject({ ok: true, applied: ['ORCH_POLICY_PATH', 'ORCH_TARPIT_MAX'] });
    expect((await post(`${orch.url}/route`, ROUTE)).status).toBe(200);
  });
});
