import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoBackend, type RunningDemoBackend } from '../src/demo/demo-backends';
import { SecurityEvents } from '../src/events/security-events';
import { PolicyService } from '../src/policy/policy.service';
import { post, startOrchestrator, type RunningOrchestrator } from './harness';

const ROOT = join(__dirname, '../../..');
const VALID = { service: 'api', tenant: 'acme', scope: 'read', path: '/v1/items' };

/** Compiles a one-rule Rego policy with the project's own CLI (the real opa underneath). */
function compile(dir: string, name: string, decision: string): string {
  const src = join(dir, `${name}-src`);
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'policy.rego'), `package shieldx.routing\n\nimport rego.v1\n\ndecision := ${decision}\n`);
  const out = join(dir, `${name}.tar.gz`);
  const result = spawnSync(
    process.execPath,
    [join(ROOT, 'packages/cli/shieldx.mjs'), 'policy', 'build', src, '--out', out],
    { encoding: 'utf8' },
  );
  if (result.status !== 0) throw new Error(`policy build failed: ${result.stderr}`);
  return out;
}

const RULES = {
  allow_all: true,
  advanced: [
    { tenant: '*', scopes: ['*'], path_prefix: '/internal/', action: 'deny', reason: 'internal' },
    { tenant: '*', scopes: ['scanner'], path_prefix: '/', action: 'tarpit', tarpit_ms: 150 },
    { tenant: 'quarantine', scopes: ['*'], path_prefix: '/', action: 'divert', divert_to: 'honeypot' },
    { tenant: 'lost', scopes: ['*'], path_prefix: '/', action: 'divert', divert_to: 'nowhere' },
  ],
};

describe('policy actions through POST /route (base rules)', () => {
  let backends: RunningDemoBackend[];
  let orch: RunningOrchestrator;
  let route: string;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shieldx-e2e-policy-'));
    writeFileSync(join(dir, 'rules.json'), JSON.stringify(RULES));
    backends = await Promise.all(['a', 'honeypot'].map((name) => startDemoBackend({ name, delayMs: 0, jitterMs: 0 })));
    orch = await startOrchestrator({
      ORCH_POOL_API: backends[0].url,
      ORCH_POOL_HONEYPOT: backends[1].url,
      ORCH_POLICY_PATH: join(dir, 'rules.json'),
      ORCH_TARPIT_MAX: '1',
    });
    route = `${orch.url}/route`;
  });

  afterAll(async () => {
    await orch?.close();
    await Promise.all(backends.map((b) => b.close()));
  });

  it('allows; base rules alone are answered directly, never from the cache', async () => {
    const first = await post(route, { ...VALID, path: '/cache-check' });
    const second = await post(route, { ...VALID, path: '/cache-check' });
    expect(first.body).toMatchObject({ policy: 'allow', cached: false, target: backends[0].url });
    expect(second.body).toMatchObject({ policy: 'allow', cached: false });
  });

  it('denies with 403 and the rule reason', async () => {
    const res = await post(route, { ...VALID, path: '/internal/secrets' });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ error: 'policy_denied', message: 'denied by policy: internal' });
  });

  it('diverts to the pool the decision names, 503 when that pool does not exist', async () => {
    const res = await post(route, { ...VALID, tenant: 'quarantine' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ policy: 'divert', pool: 'honeypot', target: backends[1].url });
    const lost = await post(route, { ...VALID, tenant: 'lost' });
    expect(lost.status).toBe(503);
    expect(lost.body['error']).toBe('no_backend');
  });

  it('holds a tarpitted answer on a timer, and refuses beyond the cap with 429', async () => {
    const started = performance.now();
    // The second request goes out once the first is held (its tarpit event), not after a guessed delay.
    const events = orch.app.get(SecurityEvents);
    const firstHeld = new Promise<void>((resolve) => {
      const off = events.onEvent((event) => {
        if (event.type !== 'policy.tarpit') return;
        off();
        resolve();
      });
    });
    const [held, refused] = await Promise.all([
      post(route, { ...VALID, scope: 'scanner' }),
      firstHeld.then(() => post(route, { ...VALID, scope: 'scanner', path: '/other' })),
    ]);
    expect(held.status).toBe(200);
    expect(held.body['policy']).toBe('tarpit');
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    expect(refused.status).toBe(429);
    expect(refused.body['error']).toBe('tarpit_full');
    // Meanwhile the event loop was free: health answered at once.
    expect((await fetch(`${orch.url}/healthz`)).status).toBe(200);
  });

  it('reports the policy on GET /policy', async () => {
    const status = (await (await fetch(`${orch.url}/policy`)).json()) as Record<string, unknown>;
    expect(status).toMatchObject({
      version: 1,
      source: 'base-rules',
      opaLoaded: false,
      enforce: false,
      lastError: null,
    });
    expect(status['cache']).toEqual({ hits: 0, misses: 0, size: 0 });
    const metrics = await (await fetch(`${orch.url}/metrics`)).text();
    expect(metrics).toContain('orchestrator_policy_version 1');
    expect(metrics).toContain('orchestrator_route_denied_total{reason="policy"} 1');
  });
});

describe('OPA policy enforced, hot reload', () => {
  let dir: string;
  let active: string;
  let bundles: Record<'allow' | 'deny' | 'notPolicy', string>;
  let orch: RunningOrchestrator;
  let route: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'shieldx-e2e-opa-'));
    bundles = {
      allow: compile(dir, 'allow', '{"action": "allow", "reason": "v2"}'),
      deny: compile(dir, 'deny', '{"action": "deny", "reason": "v1 says no"}'),
      notPolicy: join(dir, 'plain.wasm'),
    };
    writeFileSync(bundles.notPolicy, Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]));
    active = join(dir, 'active', 'policy.tar.gz');
    mkdirSync(join(dir, 'active'));
    copyFileSync(bundles.deny, active);
    orch = await startOrchestrator({
      ORCH_POOL_API: 'http://127.0.0.1:9',
      ORCH_OPA_POLICY_PATH: active,
      ORCH_OPA_ENFORCE: '1',
      ORCH_ADMIN_TOKEN: 'admin-token-for-tests-0123456789',
    });
    route = `${orch.url}/route`;
  }, 60_000);

  afterAll(() => orch?.close());

  function nextReload(): Promise<unknown> {
    const policy = orch.app.get(PolicyService);
    return new Promise((resolve) => {
      const off = policy.onReload((outcome) => {
        off();
        resolve(outcome);
      });
    });
  }

  it('decides with OPA, reloads a changed file within 2 s, and keeps the last good policy on a broken one', async () => {
    expect((await post(route, VALID)).body).toMatchObject({
      error: 'policy_denied',
      message: 'denied by policy: v1 says no',
    });

    const started = performance.now();
    const reloaded = nextReload();
    copyFileSync(bundles.allow, active);
    expect(await reloaded).toEqual({ ok: true, version: 2 });
    const after = await post(route, VALID);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(after.status).toBe(200);
    expect(after.body).toMatchObject({ policy: 'allow', cached: false });
    expect((await post(route, VALID)).body).toMatchObject({ policy: 'allow', cached: true });

    for (const broken of [
      Buffer.from('truncated junk'),
      Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]),
    ]) {
      const rejected = nextReload();
      writeFileSync(active, broken);
      expect(await rejected).toMatchObject({ ok: false, version: 2 });
      expect((await post(route, VALID)).status).toBe(200);
    }
    const status = (await (await fetch(`${orch.url}/policy`)).json()) as Record<string, unknown>;
    expect(status).toMatchObject({
      version: 2,
      source: 'opa',
      opaLoaded: true,
      enforce: true,
      lastError: expect.stringContaining('policy.tar.gz'),
    });
    const metrics = await (await fetch(`${orch.url}/metrics`)).text();
    expect(metrics).toContain('orchestrator_policy_reload_total{result="success"} 1');
    expect(metrics).toContain('orchestrator_policy_reload_total{result="failure"} 2');
    expect(metrics).toContain('orchestrator_policy_version 2');
    expect(metrics).toMatch(/orchestrator_opa_cache_hit_total [1-9]/);
    expect(metrics).toMatch(/orchestrator_opa_cache_miss_total [1-9]/);
  });

  it('POST /admin/policy/reload needs the admin token, then reloads', async () => {
    const refused = await fetch(`${orch.url}/admin/policy/reload`, { method: 'POST' });
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ error: 'admin_unauthorized' });
    const wrong = await fetch(`${orch.url}/admin/policy/reload`, {
      method: 'POST',
      headers: { authorization: 'Bearer nope' },
    });
    expect(wrong.status).toBe(401);
    copyFileSync(bundles.deny, active);
    const res = await fetch(`${orch.url}/admin/policy/reload`, {
      method: 'POST',
      headers: { authorization: 'Bearer admin-token-for-tests-0123456789' },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ reloaded: true, status: { source: 'opa' } });
    expect((await post(route, VALID)).status).toBe(403);
  });
});
