import { signUserAssertion, type AdminUser } from '@shieldx/security';
import { verifyLedger } from '@shieldx/ledger';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { base64url, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOrchestrator, type RunningOrchestrator } from '../harness';

/**
 * People behind the admin token: the admin UI signs a short-lived user assertion per call; the orchestrator
 * verifies it, enforces the person's role with its own rule table, and names the person in the audit ledger.
 * Every forged, stale, misdirected or unsigned assertion is refused, and so is every spelling of a route that might
 * pick a weaker rule.
 */

const TOKEN = 'admin-identity-token-0123456789';
const ui = generateKeyPairSync('ed25519');
const attacker = generateKeyPairSync('ed25519');
const ISSUER = 'shieldx-admin-ui';
const AUDIENCE = 'shieldx-orchestrator';
const VIEWER: AdminUser = { sub: 'viewer-7', email: 'vera@example.com', name: 'Vera Viewer', role: 'viewer' };
const OPERATOR: AdminUser = { sub: 'operator-3', email: 'otto@example.com', name: 'Otto Operator', role: 'operator' };
const POOL = { urls: ['http://127.0.0.1:9'] };

function assertion(user: AdminUser, key: KeyObject = ui.privateKey, over: { audience?: string; now?: number } = {}) {
  return signUserAssertion(user, {
    key,
    issuer: ISSUER,
    audience: over.audience ?? AUDIENCE,
    ...(over.now === undefined ? {} : { clock: { now: () => over.now as number } }),
  });
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

async function call(
  orch: RunningOrchestrator,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<Answer> {
  const response = await fetch(`${orch.url}${path}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const json = response.headers.get('content-type')?.startsWith('application/json') === true;
  return { status: response.status, body: json ? (JSON.parse(text) as Record<string, unknown>) : { text } };
}

type Entry = { seq: number; type: string; data: Record<string, unknown> };

async function audit(orch: RunningOrchestrator, type: string): Promise<Entry[]> {
  const page = await call(orch, 'GET', `/admin/audit?type=${type}&limit=100`, { authorization: `Bearer ${TOKEN}` });
  return page.body.entries as Entry[];
}

describe('admin identity: user assertions and roles', () => {
  let orch: RunningOrchestrator;
  const as = async (user: AdminUser) => ({
    authorization: `Bearer ${TOKEN}`,
    'x-shieldx-user': await assertion(user),
  });

  beforeAll(async () => {
    orch = await startOrchestrator({
      ORCH_ADMIN_TOKEN: TOKEN,
      ORCH_ADMIN_USER_KEYS: ui.publicKey.export({ format: 'pem', type: 'spki' }).toString(),
      ORCH_POOL_API: 'http://127.0.0.1:9',
    });
  });
  afterAll(() => orch?.close());

  it("records the operator's pool edit under the operator's name, in /admin/audit and in the verified ledger", async () => {
    const answer = await call(orch, 'PUT', '/admin/pools/ops-edit', await as(OPERATOR), POOL);
    expect(answer.status).toBe(200);
    await expect.poll(async () => (await audit(orch, 'pool.changed')).map((e) => e.data.pool)).toContain('ops-edit');
    const changed = (await audit(orch, 'pool.changed')).find((e) => e.data.pool === 'ops-edit') as Entry;
    expect(changed.data.actor).toBe('user:operator-3');
    expect(changed.data.user).toEqual({ ...OPERATOR, via: 'token' });
    const action = (await audit(orch, 'admin.action')).find((e) => e.data.pool === 'ops-edit') as Entry;
    expect(action.data.user).toMatchObject({ sub: 'operator-3', email: 'otto@example.com', role: 'operator' });
    // The person is in the entry's hashed payload: the chain that `shieldx ledger verify` checks covers it.
    await expect.poll(() => readFileSync(orch.ledgerPath, 'utf8').includes('"email":"otto@example.com"')).toBe(true);
    expect((await verifyLedger(orch.ledgerPath)).ok).toBe(true);
  });

  it("refuses a viewer's pool edit (403) and audits the refusal with the person and the role needed", async () => {
    const headers = await as(VIEWER);
    expect((await call(orch, 'GET', '/admin/pools', headers)).status).toBe(200);
    const refused = await call(orch, 'PUT', '/admin/pools/viewer-edit', headers, POOL);
    expect(refused.status).toBe(403);
    expect(refused.body.error).toBe('admin_role_refused');
    expect((await call(orch, 'DELETE', '/admin/pools/api', headers)).status).toBe(403);
    expect(
      (await call(orch, 'GET', '/admin/pools', { authorization: `Bearer ${TOKEN}` })).body.pools,
    ).not.toContainEqual(expect.objectContaining({ name: 'viewer-edit' }));
    await expect
      .poll(async () => (await audit(orch, 'auth.failed')).find((e) => e.data.reason === 'admin_role_refused'))
      .toBeDefined();
    const entry = (await audit(orch, 'auth.failed')).find((e) => e.data.reason === 'admin_role_refused') as Entry;
    expect(entry.data).toMatchObject({ method: 'PUT', route: '/admin/pools/:name', requiredRole: 'operator' });
    expect(entry.data.user).toMatchObject({ sub: 'viewer-7', email: 'vera@example.com', role: 'viewer' });
  });

  it('keeps the ledger export, configuration reload and unclassified writes to admins, however the path is spelt', async () => {
    const operator = await as(OPERATOR);
    expect((await call(orch, 'GET', '/admin/ledger/export?fromSeq=1&toSeq=1', operator)).status).toBe(403);
    expect((await call(orch, 'POST', '/admin/config/reload', operator)).status).toBe(403);
    for (const path of [
      '/admin/ledger/export/?fromSeq=1&toSeq=1',
      '/admin//ledger/export?fromSeq=1&toSeq=1',
      '/admin/%6cedger/export?fromSeq=1&toSeq=1',
      '/admin/ledger/%65xport?fromSeq=1&toSeq=1',
      '/ADMIN/ledger/export?fromSeq=1&toSeq=1',
    ]) {
      expect((await call(orch, 'GET', path, await as(VIEWER))).status, path).not.toBe(200);
    }
    const admin = await as({ sub: 'root-1', role: 'admin' });
    expect((await call(orch, 'GET', '/admin/ledger/export?fromSeq=1&toSeq=1', admin)).status).toBe(200);
  });

  it('refuses forged, stale, misdirected and unsigned assertions with 401, never acting as the token', async () => {
    const token = { authorization: `Bearer ${TOKEN}` };
    const put = (assertionText: string) =>
      call(orch, 'PUT', '/admin/pools/forged', { ...token, 'x-shieldx-user': assertionText }, POOL);
    const valid = await assertion(OPERATOR);
    const [, payload] = valid.split('.');
    const cases: Record<string, string> = {
      'another key': await assertion(OPERATOR, attacker.privateKey),
      expired: await assertion(OPERATOR, ui.privateKey, { now: Date.now() - 10 * 60_000 }),
      'wrong audience': await assertion(OPERATOR, ui.privateKey, { audience: 'another-service' }),
      'alg none': `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${payload}.`,
      'HS256 keyed with the public key': await new SignJWT({ role: 'admin' })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('mallory')
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setIssuedAt()
        .setExpirationTime('1m')
        .sign(new TextEncoder().encode(ui.publicKey.export({ format: 'pem', type: 'spki' }) as string)),
      garbage: 'x'.repeat(5000),
    };
    for (const [name, text] of Object.entries(cases)) {
      const answer = await put(text);
      expect(answer.status, name).toBe(401);
      expect(answer.body.error, name).toBe('admin_user_invalid');
    }
    // An assertion alone is no credential.
    expect((await call(orch, 'GET', '/admin/pools', { 'x-shieldx-user': valid })).status).toBe(401);
    // The same header twice is refused, never merged or half-read.
    const twice = await fetch(`${orch.url}/admin/pools`, {
      headers: [
        ['authorization', `Bearer ${TOKEN}`],
        ['x-shieldx-user', valid],
        ['x-shieldx-user', valid],
      ],
    });
    expect(twice.status).toBe(401);
    expect((await call(orch, 'GET', '/admin/pools', token)).body.pools).not.toContainEqual(
      expect.objectContaining({ name: 'forged' }),
    );
  });

  it('records sign-ins, sign-outs and refused sign-ins reported by the UI as admin.session events', async () => {
    const signIn = await call(orch, 'POST', '/admin/ui-events', await as(VIEWER), { event: 'sign_in' });
    expect(signIn.status).toBe(202);
    const refused = await call(
      orch,
      'POST',
      '/admin/ui-events',
      { authorization: `Bearer ${TOKEN}` },
      { event: 'sign_in_refused', reason: 'no_role', claimed: { sub: 'nobody-1', email: 'nobody@example.com' } },
    );
    expect(refused.status).toBe(202);
    // A report about a signed-in person needs their assertion; a malformed report is a 400.
    const anonymous = await call(
      orch,
      'POST',
      '/admin/ui-events',
      { authorization: `Bearer ${TOKEN}` },
      {
        event: 'sign_out',
      },
    );
    expect(anonymous.status).toBe(400);
    const malformed = await call(orch, 'POST', '/admin/ui-events', await as(VIEWER), { event: 'root', extra: 1 });
    expect(malformed.status).toBe(400);
    await expect.poll(async () => (await audit(orch, 'admin.session')).length).toBe(2);
    const [newest, oldest] = await audit(orch, 'admin.session');
    expect(oldest.data).toMatchObject({
      event: 'sign_in',
      actor: 'user:viewer-7',
      user: { email: 'vera@example.com' },
    });
    expect(newest.data).toMatchObject({ event: 'sign_in_refused', actor: 'token', reason: 'no_role' });
    expect(newest.data.user).toBeUndefined();
  });
});

describe('admin identity: ORCH_ADMIN_REQUIRE_USER', () => {
  let orch: RunningOrchestrator;
  beforeAll(async () => {
    orch = await startOrchestrator({
      ORCH_ADMIN_TOKEN: TOKEN,
      ORCH_ADMIN_USER_KEYS: ui.publicKey.export({ format: 'pem', type: 'spki' }).toString().replace(/\n/g, '\\n'),
      ORCH_ADMIN_REQUIRE_USER: '1',
    });
  });
  afterAll(() => orch?.close());

  it('refuses the token alone, except for reporting a refused sign-in', async () => {
    const token = { authorization: `Bearer ${TOKEN}` };
    const alone = await call(orch, 'GET', '/admin/pools', token);
    expect(alone.status).toBe(401);
    expect(alone.body.error).toBe('admin_user_required');
    const withUser = await call(orch, 'GET', '/admin/pools', {
      ...token,
      'x-shieldx-user': await assertion(VIEWER),
    });
    expect(withUser.status).toBe(200);
    const report = await call(orch, 'POST', '/admin/ui-events', token, { event: 'sign_in_refused', reason: 'no_role' });
    expect(report.status).toBe(202);
  });
});

describe('admin identity: an orchestrator without ORCH_ADMIN_USER_KEYS', () => {
  let orch: RunningOrchestrator;
  beforeAll(async () => {
    orch = await startOrchestrator({ ORCH_ADMIN_TOKEN: TOKEN });
  });
  afterAll(() => orch?.close());

  it('refuses an assertion rather than ignoring it and acting with every right', async () => {
    const answer = await call(orch, 'GET', '/admin/pools', {
      authorization: `Bearer ${TOKEN}`,
      'x-shieldx-user': await assertion(VIEWER),
    });
    expect(answer.status).toBe(401);
    expect(answer.body.message).toMatch(/ORCH_ADMIN_USER_KEYS/);
    expect((await call(orch, 'GET', '/admin/pools', { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
  });
});
