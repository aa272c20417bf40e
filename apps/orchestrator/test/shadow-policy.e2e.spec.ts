import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoBackend, type RunningDemoBackend } from '../src/demo/demo-backends';
import { eventually } from './eventually';
import { post, startOrchestrator, type RunningOrchestrator } from './harness';
import { buildRegoBundle } from './rego';

const ALLOWED = { service: 'api', tenant: 'acme', scope: 'read', path: '/v1/items' };
const BETA = { ...ALLOWED, tenant: 'beta', path: '/v1/orders' };

/** Active base rules: everything is allowed except the internal paths. */
const ACTIVE_RULES = {
  allow_all: true,
  advanced: [{ tenant: '*', scopes: ['*'], path_prefix: '/internal/', action: 'deny', reason: 'internal' }],
};

/** The candidate, in Rego: denies tenant beta as well. */
const CANDIDATE_REGO = `package shieldx.routing

import rego.v1

closed(tenant) if tenant == "beta"

decision := {"action": "deny", "reason": "beta is closed"} if closed(input.tenant)

else := "allow"
`;

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** A POST without a body (promote, reload). */
async function act(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, { method: 'POST', headers });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

interface Cell {
  active: string;
  shadow: string;
  count: number;
}

interface AuditEntry {
  type: string;
  corrId: string | null;
  data: Record<string, unknown>;
}

describe('candidate policy (ORCH_SHADOW_POLICY_PATH): shadow matrix, promote, what-if', () => {
  let dir: string;
  let backend: RunningDemoBackend;
  let orch: RunningOrchestrator;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'shieldx-e2e-shadow-'));
    writeFileSync(join(dir, 'rules.json'), JSON.stringify(ACTIVE_RULES));
    const candidate = buildRegoBundle(dir, 'candidate', CANDIDATE_REGO);
    backend = await startDemoBackend({ name: 'a', delayMs: 0, jitterMs: 0 });
    orch = await startOrchestrator({
      ORCH_POOL_API: backend.url,
      ORCH_POLICY_PATH: join(dir, 'rules.json'),
      ORCH_SHADOW_POLICY_PATH: candidate,
    });
  });

  afterAll(async () => {
    await orch?.close();
    await backend?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('leaves the real answers alone and shows the divergence in the matrix and the samples', async () => {
    expect((await post(`${orch.url}/route`, BETA)).status).toBe(200);
    expect((await post(`${orch.url}/route`, ALLOWED)).status).toBe(200);
    expect((await post(`${orch.url}/route`, { ...ALLOWED, path: '/internal/x' })).status).toBe(403);
    const report = await eventually(
      async () => {
        const { body } = await getJson(`${orch.url}/admin/policy/shadow`);
        return (body.evaluated as number) >= 3 ? body : undefined;
      },
      { what: 'three shadow evaluations' },
    );
    expect(report.candidate).toMatchObject({ state: 'loaded', source: 'opa', lastError: null });
    const matrix = report.matrix as Cell[];
    expect(matrix).toContainEqual({ active: 'allow', shadow: 'deny', count: 1 });
    expect(matrix).toContainEqual({ active: 'allow', shadow: 'allow', count: 1 });
    // The candidate allows what the active rules deny on /internal/: also a divergence.
    expect(matrix).toContainEqual({ active: 'deny', shadow: 'allow', count: 1 });
    expect(report.divergent).toBe(2);
    const samples = report.samples as { input: Record<string, unknown>; active: unknown; candidate: unknown }[];
    const beta = samples.find((sample) => sample.input.tenant === 'beta');
    expect(beta).toMatchObject({
      input: { tenant: 'beta', path: '/v1/orders', scope: 'read', ip: '127.0.0.0' },
      active: { action: 'allow' },
      candidate: { action: 'deny', reason: 'beta is closed' },
    });
    const metrics = await (await fetch(`${orch.url}/metrics`)).text();
    expect(metrics).toMatch(/orchestrator_policy_shadow_total\{active="allow",shadow="deny"\} 1/);
  });

  it('shows the rules of both policies: base rules as parsed, the Rego the candidate bundle carries', async () => {
    const { status, body } = await getJson(`${orch.url}/admin/policy/rules`);
    expect(status).toBe(200);
    expect(body.active).toMatchObject({
      source: 'base-rules',
      baseRules: { allowAll: true, advanced: [{ pathPrefix: '/internal/', action: 'deny' }] },
      rego: [],
    });
    const candidate = body.candidate as { source: string; rego: { path: string; text: string }[] };
    expect(candidate.source).toBe('opa');
    expect(candidate.rego.map((module) => module.text).join('\n')).toContain('closed(tenant) if tenant == "beta"');
  });

  it('evaluates a what-if input against both policies without routing it, and audits it', async () => {
    const answer = await post(`${orch.url}/admin/policy/evaluate`, {
      service: 'api',
      tenant: 'beta',
      scope: 'read',
      path: '/v1/orders',
      method: 'POST',
      ip: '203.0.113.9',
      threatScore: 12,
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      input: { tenant: 'beta', path: '/v1/orders', method: 'POST', threat: { score: 12 }, ip_reputation: 88 },
      active: { action: 'allow' },
      candidate: { action: 'deny', reason: 'beta is closed' },
      differ: true,
    });
    const { body } = await getJson(`${orch.url}/admin/audit?type=admin.action&limit=5`);
    expect(body.entries as AuditEntry[]).toContainEqual(
      expect.objectContaining({
        type: 'admin.action',
        data: expect.objectContaining({
          action: 'policy.evaluate',
          tenant: 'beta',
          active: 'allow',
          candidate: 'deny',
        }),
      }),
    );
    const shadow = await getJson(`${orch.url}/admin/policy/shadow`);
    expect(shadow.body.evaluated, 'a what-if input is not traffic').toBe(3);
  });

  it('refuses a malformed what-if input with a 400 naming the field', async () => {
    const good = { service: 'api', tenant: 'beta', scope: 'read', path: '/v1/x' };
    const cases: [Record<string, unknown> | string, RegExp][] = [
      [{ ...good, tenant: undefined }, /tenant/],
      [{ ...good, path: '/v1/../../etc' }, /path/],
      [{ ...good, path: 'no-slash' }, /path/],
      [{ ...good, threatScore: 101 }, /threatScore/],
      [{ ...good, threatScore: 'high' }, /threatScore/],
      [{ ...good, poolHealth: 2 }, /poolHealth/],
      [{ ...good, ip: 'not-an-ip' }, /ip must be an IPv4 or IPv6 address/],
      [{ ...good, method: 'TRACE' }, /method/],
      [{ ...good, identityUris: 'spiffe://x' }, /identityUris/],
      [{ ...good, dpopJkt: 'short' }, /dpopJkt/],
      [{ ...good, extra: 1 }, /extra/],
      [{ ...good, tenant: '__proto__' }, /tenant/],
      ['{"service":', /./],
      ['[]', /./],
    ];
    for (const [body, message] of cases) {
      const answer = await post(`${orch.url}/admin/policy/evaluate`, body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body.error).toEqual(expect.any(String));
      expect(answer.body.message).toMatch(message);
    }
  });

  it('promotes the candidate: it decides from then on, the promotion is audited, the slot stays empty', async () => {
    const promoted = await act(`${orch.url}/admin/policy/promote`, { 'x-correlation-id': 'promote-1' });
    expect(promoted.status).toBe(200);
    expect(promoted.body).toMatchObject({ promoted: true, version: 2, source: 'opa' });
    const denied = await post(`${orch.url}/route`, BETA);
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({ error: 'policy_denied', message: 'denied by policy: beta is closed' });
    expect((await post(`${orch.url}/route`, ALLOWED)).status).toBe(200);

    const { body } = await getJson(`${orch.url}/admin/audit?type=admin.action&limit=10`);
    expect(body.entries as AuditEntry[]).toContainEqual(
      expect.objectContaining({
        data: expect.objectContaining({
          action: 'policy.promote',
          callerCorrId: 'promote-1',
          actor: 'insecure-loopback',
          before: { version: 1, source: 'base-rules' },
          after: { version: 2, source: 'opa' },
        }),
      }),
    );
    const again = await act(`${orch.url}/admin/policy/promote`);
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ error: 'candidate_policy_empty' });
    const shadow = await getJson(`${orch.url}/admin/policy/shadow`);
    expect(shadow.body).toMatchObject({ candidate: { state: 'promoted', source: null }, evaluated: 0, matrix: [] });
    const whatIf = await post(`${orch.url}/admin/policy/evaluate`, BETA);
    expect(whatIf.body).toMatchObject({ active: { action: 'deny' }, candidate: null, differ: false });
  });

  it('counts the tenants and paths denied most, and decisions per action in the overview samples', async () => {
    const { body } = await getJson(`${orch.url}/admin/policy/denied`);
    expect(body.tenants).toContainEqual({ key: 'beta', count: 1, error: 0 });
    expect(body.paths).toContainEqual({ key: '/internal/x', count: 1, error: 0 });
    const samples = await eventually(async () => {
      const metrics = await getJson(`${orch.url}/admin/metrics`);
      const list = metrics.body.samples as { decisionsPerSec: Record<string, number> }[];
      return list.length > 0 ? list : undefined;
    });
    expect(Object.keys(samples[0].decisionsPerSec).sort()).toEqual(['allow', 'deny', 'divert', 'tarpit']);
  });

  it('reloads both policies from their files: the active rules decide again, the candidate is back', async () => {
    const reloaded = await act(`${orch.url}/admin/policy/reload`);
    expect(reloaded.body).toMatchObject({ reloaded: true, version: 3, candidate: { state: 'loaded', source: 'opa' } });
    expect((await post(`${orch.url}/route`, BETA)).status).toBe(200);
    const report = await eventually(async () => {
      const { body } = await getJson(`${orch.url}/admin/policy/shadow`);
      return (body.evaluated as number) >= 1 ? body : undefined;
    });
    expect(report.matrix).toEqual([{ active: 'allow', shadow: 'deny', count: 1 }]);
  });
});

describe('without a candidate policy', () => {
  let backend: RunningDemoBackend;
  let orch: RunningOrchestrator;

  beforeAll(async () => {
    backend = await startDemoBackend({ name: 'a', delayMs: 0, jitterMs: 0 });
    orch = await startOrchestrator({ ORCH_POOL_API: backend.url });
  });

  afterAll(async () => {
    await orch?.close();
    await backend?.close();
  });

  it('answers promote with a clear 404, and what-if with the active decision only', async () => {
    const promoted = await act(`${orch.url}/admin/policy/promote`);
    expect(promoted.status).toBe(404);
    expect(promoted.body).toMatchObject({
      error: 'no_candidate_policy',
      message: expect.stringContaining('ORCH_SHADOW_POLICY_PATH'),
    });
    const shadow = await getJson(`${orch.url}/admin/policy/shadow`);
    expect(shadow.body).toMatchObject({ candidate: { state: 'none', path: null }, matrix: [], samples: [] });
    const whatIf = await post(`${orch.url}/admin/policy/evaluate`, { ...ALLOWED, path: '/internal/x' });
    expect(whatIf.status).toBe(200);
    expect(whatIf.body).toMatchObject({ active: { action: 'deny' }, candidate: null, differ: false });
  });

  it('rate-limits what-if evaluations with a 429', async () => {
    let limited: Awaited<ReturnType<typeof post>> | undefined;
    for (let i = 0; i < 40 && limited === undefined; i++) {
      const answer = await post(`${orch.url}/admin/policy/evaluate`, ALLOWED);
      if (answer.status === 429) limited = answer;
      else expect(answer.status).toBe(200);
    }
    expect(limited?.body).toMatchObject({ error: 'evaluate_rate_limited' });
    expect(limited?.headers.get('retry-after')).toBe('1');
  });
});
