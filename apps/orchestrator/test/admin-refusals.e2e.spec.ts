import { signUserAssertion } from '@shieldx/security';
import { verifyLedger } from '@shieldx/ledger';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './eventually';
import { startOrchestrator, type RunningOrchestrator } from './harness';

/**
 * Refused admin calls in the audit ledger: refusals of one address are folded per reason (and route), and the
 * count of the folded ones is written when their 10 s end, or on shutdown, even when the refusals stopped.
 */

const TOKEN = 'admin-refusals-token-0123456789';
const ui = generateKeyPairSync('ed25519');
const attacker = generateKeyPairSync('ed25519');

type Entry = { seq: number; type: string; corrId: string | null; data: Record<string, unknown> };

/** A user assertion signed with a key the orchestrator does not trust (`bad_signature`). */
const forged = () =>
  signUserAssertion(
    { sub: 'mallory', role: 'admin' },
    { key: attacker.privateKey, issuer: 'shieldx-admin-ui', audience: 'shieldx-orchestrator' },
  );

/** The attack of the review: one bad token, then 20 configuration reloads with a forged user assertion. */
async function attack(orch: RunningOrchestrator): Promise<void> {
  const bad = await fetch(`${orch.url}/admin/pools`, { headers: { authorization: 'Bearer not-the-token' } });
  expect(bad.status).toBe(401);
  const assertion = await forged();
  for (let i = 0; i < 20; i++) {
    const answer = await fetch(`${orch.url}/admin/config/reload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'x-shieldx-user': assertion },
    });
    expect(answer.status).toBe(401);
    expect(((await answer.json()) as { error: string }).error).toBe('admin_user_invalid');
  }
}

/** The admin guard's `auth.failed` entries, as [reason, route, folded count or null]. */
function refusals(entries: readonly Entry[]): [unknown, unknown, unknown][] {
  return entries
    .filter((entry) => entry.type === 'auth.failed' && entry.data['scheme'] === 'admin')
    .map((entry) => [
      entry.data['reason'],
      entry.data['route'],
      (entry.data['repeated'] as { count: number } | undefined)?.count ?? null,
    ]);
}

const ENV = {
  ORCH_ADMIN_TOKEN: TOKEN,
  ORCH_ADMIN_USER_KEYS: ui.publicKey.export({ format: 'pem', type: 'spki' }).toString(),
};

describe('refused admin calls in the ledger', () => {
  let orch: RunningOrchestrator;
  const audit = async (): Promise<Entry[]> => {
    const response = await fetch(`${orch.url}/admin/audit?type=auth.failed&after=0&limit=100`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    return ((await response.json()) as { entries: Entry[] }).entries;
  };

  beforeAll(async () => {
    orch = await startOrchestrator(ENV);
  });
  afterAll(() => orch?.close());

  it('records each reason at once, and the folded count when the 10 s end, though the attacker stopped', async () => {
    await attack(orch);
    expect(refusals(await audit())).toEqual([
      ['admin_unauthorized', '/admin/pools', null],
      ['admin_user_invalid:bad_signature', '/admin/config/reload', null],
    ]);
    // Nothing more is sent: the count is written by the guard's own timer.
    const all = await eventually(
      async () => {
        const entries = await audit();
        return entries.length >= 3 && entries;
      },
      { timeoutMs: 15_000, everyMs: 250, what: 'the folded refusals entry' },
    );
    expect(refusals(all)).toEqual([
      ['admin_unauthorized', '/admin/pools', null],
      ['admin_user_invalid:bad_signature', '/admin/config/reload', null],
      ['admin_user_invalid:bad_signature', undefined, 19],
    ]);
    expect(all[2].data['repeated']).toMatchObject({ windowMs: 10_000 });
    expect(all[2].data['ip']).toBe('127.0.0.0');
  }, 25_000);
});

describe('refused admin calls still counted at shutdown', () => {
  let work: string;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'shieldx-admin-refusals-'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('writes the folded count before the ledger closes', async () => {
    const ledgerPath = join(work, 'ledger.jsonl');
    const orch = await startOrchestrator({ ...ENV, ORCH_LEDGER_PATH: ledgerPath });
    try {
      await attack(orch);
    } finally {
      await orch.close();
    }
    const entries = readFileSync(ledgerPath, 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Entry);
    expect(refusals(entries)).toEqual([
      ['admin_unauthorized', '/admin/pools', null],
      ['admin_user_invalid:bad_signature', '/admin/config/reload', null],
      ['admin_user_invalid:bad_signature', undefined, 19],
    ]);
    // Written before `audit.stopped`, inside the verified chain.
    const types = entries.map((entry) => entry.type);
    expect(types.lastIndexOf('auth.failed')).toBeLessThan(types.indexOf('audit.stopped'));
    expect((await verifyLedger(ledgerPath)).ok).toBe(true);
  });
});
