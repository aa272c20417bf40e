import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ThreatScores } from '../src/advisors/threat-scores';
import { startTestBackend, type TestBackend } from './backends';
import { eventually } from './eventually';
import { post, startOrchestrator, type RunningOrchestrator } from './harness';

/** How an advisor answers one call: a JSON body (200), a status, or nothing for `delayMs` first. */
interface Behaviour {
  readonly status?: number;
  readonly body?: unknown;
  readonly delayMs?: number;
}

/** A scripted HTTP advisor: each call is counted and answered by `answer` (changeable while the test runs). */
interface Advisor {
  readonly url: string;
  readonly calls: { readonly url: string; readonly body: string }[];
  answer: (request: { url: URL; body: string }) => Behaviour;
  close(): Promise<void>;
}

async function startAdvisor(answer: Advisor['answer']): Promise<Advisor> {
  const advisor: Advisor = {
    url: '',
    calls: [],
    answer,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      advisor.calls.push({ url: req.url ?? '', body });
      const behaviour = advisor.answer({ url: new URL(req.url ?? '/', 'http://advisor'), body });
      setTimeout(() => {
        if (res.destroyed) return;
        res.writeHead(behaviour.status ?? 200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(behaviour.body ?? {}));
      }, behaviour.delayMs ?? 0);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return Object.assign(advisor, { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/check` });
}

/** Scores by the last octet of the client IP: 198.51.100.<score>. */
const scoreByIp = ({ url }: { url: URL }): Behaviour => ({
  body: { score: Number((url.searchParams.get('ip') ?? '0').split('.').pop()), reasons: ['octet'] },
});

function rulesFile(rules: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'shieldx-e2e-advisors-'));
  writeFileSync(join(dir, 'rules.json'), JSON.stringify(rules));
  return join(dir, 'rules.json');
}

const TOKEN = 'advisors-e2e-admin-token-0123456789';
const BODY = { service: 'api', tenant: 'acme', scope: 'read', path: '/v1/items' };

function routeFrom(orch: RunningOrchestrator, ip: string, body: Record<string, unknown> = BODY) {
  return post(`${orch.url}/route`, body, { 'x-forwarded-for': ip });
}

async function metric(orch: RunningOrchestrator, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`${orch.url}/metrics`)).text();
  const match = pattern.exec(text);
  return match === null ? 0 : Number(match[1]);
}

describe('threat scores (ORCH_THREAT_URL)', () => {
  let backend: TestBackend;
  let threat: Advisor;
  let orch: RunningOrchestrator;

  beforeAll(async () => {
    backend = await startTestBackend('threat-backend');
    threat = await startAdvisor(scoreByIp);
    orch = await startOrchestrator({
      ORCH_POOL_API: backend.url,
      ORCH_TRUSTED_PROXIES: '127.0.0.1/32',
      ORCH_THREAT_URL: threat.url,
      ORCH_THREAT_TIMEOUT: '150ms',
      ORCH_ADMIN_TOKEN: TOKEN,
      ORCH_ADVISOR_BREAKER_FAILS: '3',
      ORCH_ADVISOR_BREAKER_OPEN_FOR: '400ms',
      ORCH_POLICY_PATH: rulesFile({ allow_all: true, threat: { deny_above: 80, tarpit_above: 50 }, tarpit_ms: 200 }),
    });
  });

  afterAll(async () => {
    await orch?.close();
    await threat?.close();
    await backend?.close();
  });

  it('asks for the client IP and tenant, and the base rules act on the score', async () => {
    const low = await routeFrom(orch, '198.51.100.10');
    expect(low.status).toBe(200);
    expect(threat.calls.at(-1)?.url).toBe('/v1/check?ip=198.51.100.10&tenant=acme');

    const high = await routeFrom(orch, '198.51.100.95');
    expect(high.status).toBe(403);
    expect(high.body).toMatchObject({ error: 'policy_denied' });
    expect(String(high.body['message'])).toContain('threat score 95 above 80');

    const started = Date.now();
    const middle = await routeFrom(orch, '198.51.100.60');
    expect(middle.status).toBe(200);
    expect(middle.body['policy']).toBe('tarpit');
    expect(Date.now() - started).toBeGreaterThanOrEqual(180);
  });

  it('caches a score per IP and makes one call for many requests waiting on it', async () => {
    threat.answer = (request) => ({ ...scoreByIp(request), delayMs: 80 });
    const before = threat.calls.length;
    const answers = await Promise.all(Array.from({ length: 20 }, () => routeFrom(orch, '198.51.100.20')));
    expect(answers.every((answer) => answer.status === 200)).toBe(true);
    expect(threat.calls.length).toBe(before + 1);
    expect((await routeFrom(orch, '198.51.100.20')).status).toBe(200);
    expect(threat.calls.length).toBe(before + 1);
    expect(await metric(orch, /orchestrator_threat_cache_total\{result="coalesced"\} (\d+)/)).toBeGreaterThanOrEqual(
      19,
    );
    expect(await metric(orch, /orchestrator_threat_cache_total\{result="hit"\} (\d+)/)).toBeGreaterThanOrEqual(1);
    const recent = orch.app.get(ThreatScores).recent(10);
    expect(recent[0]).toMatchObject({ ip: '198.51.100.20', score: 20, reasons: ['octet'] });
    // The admin view lists them, IPs anonymised like the logs'.
    const view = await fetch(`${orch.url}/admin/protection`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(view.status).toBe(200);
    const body = (await view.json()) as { threat: Record<string, unknown>; quota: Record<string, unknown> };
    expect(body.threat).toMatchObject({ enabled: true, breaker: 'closed', onError: 'allow' });
    expect((body.threat['recent'] as unknown[])[0]).toMatchObject({ ip: '198.51.100.0', score: 20 });
    expect(body.quota).toMatchObject({ enabled: false });
    expect((await fetch(`${orch.url}/admin/protection`)).status).toBe(401);
    threat.answer = scoreByIp;
  });

  it('goes on without a score when the service is slow, fails or answers garbage, then opens its breaker', async () => {
    const calls = threat.calls.length;
    threat.answer = () => ({ delayMs: 400, body: { score: 99 } });
    expect((await routeFrom(orch, '198.51.100.31')).status).toBe(200);
    threat.answer = () => ({ status: 500 });
    expect((await routeFrom(orch, '198.51.100.32')).status).toBe(200);
    threat.answer = () => ({ body: { score: 'high' } });
    expect((await routeFrom(orch, '198.51.100.33')).status).toBe(200);
    expect(threat.calls.length).toBe(calls + 3);
    // Three failures in a row: the breaker is open, the service is not called, requests still pass (fail mode allow).
    threat.answer = scoreByIp;
    expect((await routeFrom(orch, '198.51.100.97')).status).toBe(200);
    expect(threat.calls.length).toBe(calls + 3);
    expect(await metric(orch, /orchestrator_advisor_breaker_open\{advisor="threat"\} (\d+)/)).toBe(1);
    expect(await metric(orch, /orchestrator_advisor_calls_total\{advisor="threat",outcome="timeout"\} (\d+)/)).toBe(1);
    expect(await metric(orch, /orchestrator_advisor_calls_total\{advisor="threat",outcome="status"\} (\d+)/)).toBe(1);
    expect(await metric(orch, /orchestrator_advisor_calls_total\{advisor="threat",outcome="invalid"\} (\d+)/)).toBe(1);
    expect(
      await metric(orch, /orchestrator_advisor_calls_total\{advisor="threat",outcome="breaker_open"\} (\d+)/),
    ).toBeGreaterThanOrEqual(1);
    expect(
      await metric(orch, /orchestrator_advisor_fail_mode_total\{advisor="threat",mode="allow"\} (\d+)/),
    ).toBeGreaterThanOrEqual(4);
    // After the open period one trial goes through; it succeeds and the breaker closes: scores apply again.
    await eventually(async () => (await routeFrom(orch, '198.51.100.96')).status === 403, { timeoutMs: 3_000 });
    expect(await metric(orch, /orchestrator_advisor_breaker_open\{advisor="threat"\} (\d+)/)).toBe(0);
  });
});

describe('threat fail modes', () => {
  let backend: TestBackend;
  let threat: Advisor;

  beforeAll(async () => {
    backend = await startTestBackend('threat-fail-backend');
    threat = await startAdvisor(() => ({ status: 503 }));
  });

  afterAll(async () => {
    await threat?.close();
    await backend?.close();
  });

  it('deny refuses with 503 threat_unavailable; score:<n> goes on as if the service said n', async () => {
    const rules = rulesFile({ allow_all: true, threat: { deny_above: 80 } });
    const deny = await startOrchestrator({
      ORCH_POOL_API: backend.url,
      ORCH_THREAT_URL: threat.url,
      ORCH_THREAT_ON_ERROR: 'deny',
      ORCH_POLICY_PATH: rules,
    });
    const fixed = await startOrchestrator({
      ORCH_POOL_API: backend.url,
      ORCH_THREAT_URL: threat.url,
      ORCH_THREAT_ON_ERROR: 'score:90',
      ORCH_POLICY_PATH: rules,
    });
    try {
      const refused = await post(`${deny.url}/route`, BODY);
      expect(refused.status).toBe(503);
      expect(refused.body).toMatchObject({ error: 'threat_unavailable' });
      expect(refused.headers.get('retry-after')).toBe('1');
      const scored = await post(`${fixed.url}/route`, BODY);
      expect(scored.status).toBe(403);
      expect(String(scored.body['message'])).toContain('threat score 90');
      // Through /proxy as well.
      const proxied = await fetch(`${deny.url}/proxy/api/x`, { headers: { 'x-tenant': 'acme', 'x-scope': 'read' } });
      expect(proxied.status).toBe(503);
    } finally {
      await deny.close();
      await fixed.close();
    }
  });
});

describe('quotas (ORCH_QUOTA_URL)', () => {
  let backend: TestBackend;
  let quota: Advisor;
  let orch: RunningOrchestrator;
  const left = new Map<string, number>([
    ['acme', 3],
    ['globex', 100],
  ]);

  beforeAll(async () => {
    backend = await startTestBackend('quota-backend');
    quota = await startAdvisor(({ body }) => {
      const { tenant, cost } = JSON.parse(body) as { tenant: string; cost: number };
      const remaining = left.get(tenant) ?? 0;
      if (remaining < cost) return { body: { allowed: false, remaining } };
      left.set(tenant, remaining - cost);
      return { body: { allowed: true, remaining: remaining - cost } };
    });
    orch = await startOrchestrator({
      ORCH_POOL_API: backend.url,
      ORCH_QUOTA_URL: quota.url,
      ORCH_QUOTA_SCOPES: 'write',
      ORCH_POLICY_PATH: rulesFile({
        allow_all: true,
        advanced: [{ tenant: '*', scopes: ['*'], path_prefix: '/reports/', action: 'allow', cost: 40 }],
      }),
    });
  });

  afterAll(async () => {
    await orch?.close();
    await quota?.close();
    await backend?.close();
  });

  it('charges requests of the listed scopes, says what is left, refuses with 429 once it is spent', async () => {
    const write = { ...BODY, scope: 'write' };
    const first = await post(`${orch.url}/route`, write);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-quota-remaining')).toBe('2');
    expect(JSON.parse(quota.calls.at(-1)?.body ?? '{}')).toEqual({ tenant: 'acme', scope: 'write', cost: 1 });
    await post(`${orch.url}/route`, write);
    await post(`${orch.url}/route`, write);
    const spent = await post(`${orch.url}/route`, write);
    expect(spent.status).toBe(429);
    expect(spent.body).toMatchObject({ error: 'quota_exceeded' });
    expect(spent.headers.get('x-quota-remaining')).toBe('0');
    expect(await metric(orch, /orchestrator_quota_checks_total\{result="refused"\} (\d+)/)).toBe(1);

    // A scope that is not listed costs nothing: no call.
    const calls = quota.calls.length;
    expect((await post(`${orch.url}/route`, BODY)).status).toBe(200);
    expect(quota.calls.length).toBe(calls);
  });

  it("charges a decision's cost, through /proxy too, and never a denied request", async () => {
    const proxied = await fetch(`${orch.url}/proxy/api/reports/q3`, {
      headers: { 'x-tenant': 'globex', 'x-scope': 'read' },
    });
    expect(proxied.status).toBe(200);
    expect(proxied.headers.get('x-quota-remaining')).toBe('60');
    expect(JSON.parse(quota.calls.at(-1)?.body ?? '{}')).toEqual({ tenant: 'globex', scope: 'read', cost: 40 });
    const again = await fetch(`${orch.url}/proxy/api/reports/q4`, {
      headers: { 'x-tenant': 'globex', 'x-scope': 'read' },
    });
    expect(again.status).toBe(200);
    const third = await fetch(`${orch.url}/proxy/api/reports/q4`, {
      headers: { 'x-tenant': 'globex', 'x-scope': 'read' },
    });
    expect(third.status).toBe(429);
    expect(third.headers.get('x-quota-remaining')).toBe('20');
  });

  it('goes on without the service by default, refuses with 503 when set to deny', async () => {
    const slow = await startAdvisor(() => ({ delayMs: 300, body: { allowed: true, remaining: 1 } }));
    const allow = await startOrchestrator({
      ORCH_POOL_API: backend.url,
      ORCH_QUOTA_URL: slow.url,
      ORCH_QUOTA_SCOPES: '*',
    });
    const deny = await startOrchestrator({
      ORCH_POOL_API: backend.url,
      ORCH_QUOTA_URL: slow.url,
      ORCH_QUOTA_SCOPES: '*',
      ORCH_QUOTA_ON_ERROR: 'deny',
    });
    try {
      const passed = await post(`${allow.url}/route`, BODY);
      expect(passed.status).toBe(200);
      expect(passed.headers.get('x-quota-remaining')).toBeNull();
      const refused = await post(`${deny.url}/route`, BODY);
      expect(refused.status).toBe(503);
      expect(refused.body).toMatchObject({ error: 'quota_unavailable' });
      // Both gateways of this test count into the process's one registry: one timeout each.
      expect(await metric(allow, /orchestrator_advisor_calls_total\{advisor="quota",outcome="timeout"\} (\d+)/)).toBe(
        2,
      );
    } finally {
      await allow.close();
      await deny.close();
      await slow.close();
    }
  });
});
