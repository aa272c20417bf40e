import { generateKeyPairSync } from 'node:crypto';
import { base64url, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { parseRoleMap, requiredAdminRole, roleAllows, roleFromClaim } from './admin-roles';
import { signUserAssertion, UserAssertionVerifier } from './user-assertion';

const ed = generateKeyPairSync('ed25519');
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const other = generateKeyPairSync('ed25519');
const NOW = 1_800_000_000_000;
const clock = { now: () => NOW };
const OPTS = { issuer: 'shieldx-admin-ui', audience: 'shieldx-orchestrator', clock };
const ALICE = { sub: 'alice-1', email: 'alice@example.com', role: 'operator' as const };

function verifier(keys = [ed.publicKey, ec.publicKey]) {
  return new UserAssertionVerifier({ keys, ...OPTS });
}

describe(UserAssertionVerifier.name, () => {
  it('accepts an EdDSA or ES256 assertion of a configured key and reads the person', async () => {
    for (const key of [ed.privateKey, ec.privateKey]) {
      const token = await signUserAssertion(ALICE, { key, ...OPTS });
      expect(await verifier().verify(token)).toEqual({ ok: true, user: ALICE });
    }
  });

  it('refuses another key, alg none, HMAC with the public key, and a bent signature', async () => {
    const token = await signUserAssertion(ALICE, { key: other.privateKey, ...OPTS });
    expect(await verifier().verify(token)).toEqual({ ok: false, reason: 'bad_signature' });
    const [, payload] = (await signUserAssertion(ALICE, { key: ed.privateKey, ...OPTS })).split('.');
    const none = `${base64url.encode(JSON.stringify({ alg: 'none' }))}.${payload}.`;
    expect((await verifier().verify(none)).ok).toBe(false);
    const hmac = await new SignJWT({ role: 'admin' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('mallory')
      .setIssuer(OPTS.issuer)
      .setAudience(OPTS.audience)
      .setIssuedAt(NOW / 1000)
      .setExpirationTime(NOW / 1000 + 60)
      .sign(ed.publicKey.export({ format: 'der', type: 'spki' }));
    expect(await verifier().verify(hmac)).toEqual({ ok: false, reason: 'algorithm_not_allowed' });
    const good = await signUserAssertion(ALICE, { key: ed.privateKey, ...OPTS });
    const [h, p] = good.split('.');
    const escalated = base64url.encode(
      JSON.stringify({ ...JSON.parse(new TextDecoder().decode(base64url.decode(p))), role: 'admin' }),
    );
    expect(await verifier().verify(`${h}.${escalated}.${good.split('.')[2]}`)).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('refuses an expired, too long-lived, wrong-audience or wrong-issuer assertion, and unknown roles', async () => {
    const sign = (over: Partial<typeof OPTS> & { lifetimeS?: number }, user: object = ALICE) =>
      signUserAssertion(user as typeof ALICE, { key: ed.privateKey, ...OPTS, ...over });
    const past = { now: () => NOW - 120_000 };
    expect(await verifier().verify(await sign({ clock: past }))).toEqual({ ok: false, reason: 'expired' });
    expect(await verifier().verify(await sign({ lifetimeS: 3600 }))).toEqual({ ok: false, reason: 'too_long_lived' });
    expect(await verifier().verify(await sign({ audience: 'other' }))).toEqual({ ok: false, reason: 'bad_claims' });
    expect(await verifier().verify(await sign({ issuer: 'other' }))).toEqual({ ok: false, reason: 'bad_claims' });
    const future = { now: () => NOW + 60_000 };
    expect(await verifier().verify(await sign({ clock: future }))).toEqual({ ok: false, reason: 'bad_claims' });
    expect(await verifier().verify(await sign({}, { ...ALICE, role: 'root' }))).toEqual({
      ok: false,
      reason: 'bad_claims',
    });
    expect(await verifier().verify('not-a-jwt')).toEqual({ ok: false, reason: 'malformed' });
    expect(await verifier([]).verify(await sign({}))).toEqual({ ok: false, reason: 'bad_signature' });
  });
});

describe('admin roles', () => {
  it('needs viewer to read, operator to change traffic, admin for export, reload and unknown writes', () => {
    expect(requiredAdminRole('GET', '/admin/pools')).toBe('viewer');
    expect(requiredAdminRole('HEAD', '/admin/audit')).toBe('viewer');
    expect(requiredAdminRole('PUT', '/admin/pools/:name')).toBe('operator');
    expect(requiredAdminRole('DELETE', '/admin/pools/api')).toBe('operator');
    expect(requiredAdminRole('POST', '/admin/rollouts/:pool/:action')).toBe('operator');
    expect(requiredAdminRole('POST', '/admin/policy/reload')).toBe('operator');
    expect(requiredAdminRole('POST', '/admin/policy/evaluate')).toBe('viewer');
    expect(requiredAdminRole('GET', '/admin/ledger/export')).toBe('admin');
    expect(requiredAdminRole('POST', '/admin/config/reload')).toBe('admin');
    expect(requiredAdminRole('POST', '/admin/something/new')).toBe('admin');
    expect(requiredAdminRole('PATCH', '/admin/pools/:name')).toBe('admin');
    expect(roleAllows('operator', 'viewer')).toBe(true);
    expect(roleAllows('viewer', 'operator')).toBe(false);
  });

  it('maps an array, a space- or comma-separated claim to the strongest mapped role', () => {
    const map = parseRoleMap('shieldx-viewer=viewer, shieldx-operator=operator,shieldx-admin=admin');
    expect(roleFromClaim(['x', 'shieldx-viewer'], map)).toBe('viewer');
    expect(roleFromClaim('shieldx-viewer shieldx-admin', map)).toBe('admin');
    expect(roleFromClaim('shieldx-operator,other', map)).toBe('operator');
    expect(roleFromClaim(['SHIELDX-ADMIN', 7, null], map)).toBeUndefined();
    expect(roleFromClaim(undefined, map)).toBeUndefined();
    expect(roleFromClaim({ 'shieldx-admin': true }, map)).toBeUndefined();
    expect(() => parseRoleMap('a=root')).toThrow(/viewer\|operator\|admin/);
    expect(() => parseRoleMap(' , ')).toThrow(/names no claim value/);
  });
});
