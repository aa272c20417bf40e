import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerService } from '../../src/ledger/ledger.service';
import { post, startOrchestrator, type RunningOrchestrator } from '../harness';

const TOKEN = 'admin-token-0123456789abcdef';
const DENIED = { service: 'api', tenant: 'acme', scope: 'read', path: '/internal/x' };

function rules(): string {
  const dir = mkdtempSync(join(tmpdir(), 'shieldx-adv-corr-'));
  const file = join(dir, 'rules.json');
  writeFileSync(
    file,
    JSON.stringify({
      allow_all: true,
      advanced: [{ tenant: '*', scopes: ['*'], path_prefix: '/internal/', action: 'deny', reason: 'internal' }],
    }),
  );
  return file;
}

async function ledgerEntries(orch: RunningOrchestrator): Promise<Record<string, unknown>[]> {
  await orch.app.get(LedgerService).flush();
  return readFileSync(orch.ledgerPath, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('correlation ids chosen by callers (adversarial)', () => {
  let orch: RunningOrchestrator;

  beforeAll(async () => {
    orch = await startOrchestrator({
      ORCH_POOL_API: 'http://127.0.0.1:9',
      ORCH_POLICY_PATH: rules(),
      ORCH_ADMIN_TOKEN: TOKEN,
    });
  });

  afterAll(async () => {
    await orch.close();
  });

  it("never files an anonymous caller's records under an admin request's id", async () => {
    const admin = await fetch(`${orch.url}/admin/pools/extra`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ urls: ['http://127.0.0.1:9'] }),
    });
    expect(admin.status).toBe(200);
    const adminId = admin.headers.get('x-correlation-id') as string;
    const adminEntries = (await ledgerEntries(orch)).filter((e) => e['corrId'] === adminId).length;
    expect(adminEntries).toBeGreaterThan(0);

    // The attacker replays the admin request's id on requests of its own: denied, refused, malformed.
    const denied = await post(`${orch.url}/route`, DENIED, { 'x-correlation-id': adminId });
    expect(denied.status).toBe(403);
    expect(denied.headers.get('x-correlation-id')).not.toBe(adminId);
    expect(denied.body['correlationId']).toBe(denied.headers.get('x-correlation-id'));
    const unauthorised = await fetch(`${orch.url}/admin/pools`, { headers: { 'x-correlation-id': adminId } });
    expect(unauthorised.status).toBe(401);
    expect(unauthorised.headers.get('x-correlation-id')).not.toBe(adminId);

    const entries = await ledgerEntries(orch);
    expect(entries.filter((e) => e['corrId'] === adminId)).toHaveLength(adminEntries);
    const denial = entries.find((e) => e['corrId'] === denied.headers.get('x-correlation-id'));
    expect(denial).toMatchObject({ type: 'policy.deny', data: { callerCorrId: adminId } });
    const access = orch.logs.find((l) => l['event'] === 'access' && l['corrId'] === denied.body['correlationId']);
    expect(access).toMatchObject({ callerCorrId: adminId });
  });
});

describe('correlation ids from a trusted proxy (adversarial)', () => {
  let orch: RunningOrchestrator;

  beforeAll(async () => {
    orch = await startOrchestrator({
      ORCH_POOL_API: 'http://127.0.0.1:9',
      ORCH_POLICY_PATH: rules(),
      ORCH_TRUSTED_PROXIES: '127.0.0.1/32',
    });
  });

  afterAll(async () => {
    await orch.close();
  });

  it("keeps the proxy's id as the correlation id, end to end", async () => {
    const denied = await post(`${orch.url}/route`, DENIED, { 'x-correlation-id': 'edge-7f3a' });
    expect(denied.headers.get('x-correlation-id')).toBe('edge-7f3a');
    const entry = (await ledgerEntries(orch)).find((e) => e['corrId'] === 'edge-7f3a');
    expect(entry).toMatchObject({ type: 'policy.deny' });
    expect((entry?.['data'] as Record<string, unknown>)['callerCorrId']).toBeUndefined();
  });
});
