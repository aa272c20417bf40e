import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SecurityEvents } from '../src/events/security-events';
import { denyEvent } from './security-event';
import { post, startOrchestrator, type RunningOrchestrator } from './harness';
import { eventually } from './eventually';

const ROOT = join(__dirname, '../../..');
const CLOSED = 'http://127.0.0.1:9';
/** The test client counts as a trusted proxy, so the X-Correlation-ID it sends becomes the request's. */
const TRUSTED = { ORCH_TRUSTED_PROXIES: '127.0.0.1/32' };
const DENIED = { service: 'api', tenant: 'acme', scope: 'read', path: '/internal/secrets' };

interface Entry {
  seq: number;
  type: string;
  corrId: string | null;
  data: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

async function getJson(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { headers });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function readEntries(path: string): Entry[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Entry);
}

function cli(...args: string[]) {
  return spawnSync(process.execPath, [join(ROOT, 'packages/cli/shieldx.mjs'), ...args], {
    encoding: 'utf8',
    timeout: 180_000,
  });
}

describe('audit ledger: security events, /admin/audit, /admin/ledger/verify', () => {
  let orch: RunningOrchestrator;
  let dir: string;
  let ledgerPath: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'shieldx-e2e-ledger-'));
    ledgerPath = join(dir, 'audit', 'ledger.jsonl');
    orch = await startOrchestrator({
      ...TRUSTED,
      ORCH_POOL_API: CLOSED,
      ORCH_LEDGER_PATH: ledgerPath,
      ORCH_LEDGER_AGGREGATE_WINDOW: '300ms',
    });
  });

  afterAll(async () => {
    await orch?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('opens the ledger at ORCH_LEDGER_PATH (creating the directory) and records the start', async () => {
    const { status, body } = await getJson(`${orch.url}/admin/audit?order=asc&after=0`);
    expect(status).toBe(200);
    const entries = body.entries as Entry[];
    expect(entries[0]).toMatchObject({ seq: 1, type: 'audit.started', corrId: null, prevHash: '0'.repeat(64) });
    expect(existsSync(ledgerPath)).toBe(true);
  });

  it('records a policy denial with the correlation id of the request that caused it', async () => {
    const answer = await post(`${orch.url}/route`, DENIED, { 'x-correlation-id': 'ledger-deny-1' });
    expect(answer.status).toBe(403);
    const { body } = await getJson(`${orch.url}/admin/audit?type=policy.deny&limit=1`);
    const [entry] = body.entries as Entry[];
    expect(entry).toMatchObject({
      type: 'policy.deny',
      corrId: 'ledger-deny-1',
      data: { service: 'api', tenant: 'acme', scope: 'read', path: '/internal/secrets' },
    });
    expect(entry.data.reason).toEqual(expect.any(String));
  });

  it('folds a burst of identical denials into one entry with a count', async () => {
    const event = { ...DENIED, path: '/internal/burst' };
    for (let i = 0; i < 25; i++) {
      expect((await post(`${orch.url}/route`, event, { 'x-correlation-id': `burst-${i}` })).status).toBe(403);
    }
    // Whatever windows the burst spread over: the first denial on its own, the others counted in repeat entries.
    const count = (e: Entry) => (e.data.repeated === undefined ? 1 : (e.data.repeated as { count: number }).count);
    const entries = await eventually(async () => {
      const { body } = await getJson(`${orch.url}/admin/audit?type=policy.deny&limit=30&order=asc&after=0`);
      const found = (body.entries as Entry[]).filter((e) => e.data.path === '/internal/burst');
      return found.reduce((sum, e) => sum + count(e), 0) === 25 ? found : undefined;
    });
    expect(entries.length).toBeLessThan(10);
    expect(entries[0]).toMatchObject({ corrId: 'burst-0', data: { path: '/internal/burst' } });
    expect(entries[0].data.repeated).toBeUndefined();
    const last = entries.at(-1) as Entry;
    expect(last.corrId).toBe('burst-24');
    expect(last.data.repeated).toMatchObject({ windowMs: 300, lastCorrId: 'burst-24' });
    const metrics = await (await fetch(`${orch.url}/metrics`)).text();
    expect(metrics).toMatch(/orchestrator_ledger_events_total\{outcome="aggregated"\} [1-9]\d*$/m);
  });

  it('pages by seq both ways and answers 400 for a bad query', async () => {
    const newest = await getJson(`${orch.url}/admin/audit?limit=2`);
    const [a, b] = newest.body.entries as Entry[];
    expect(a.seq).toBe(b.seq + 1);
    expect(newest.body).toMatchObject({ order: 'desc', next: { before: b.seq }, lastSeq: a.seq });
    const older = await getJson(`${orch.url}/admin/audit?before=${b.seq}&limit=1`);
    expect((older.body.entries as Entry[])[0].seq).toBe(b.seq - 1);
    const asc = await getJson(`${orch.url}/admin/audit?after=1&limit=2`);
    expect((asc.body.entries as Entry[]).map((e) => e.seq)).toEqual([2, 3]);
    expect(asc.body.next).toEqual({ after: 3 });
    const chained = (asc.body.entries as Entry[])[1];
    expect(chained.prevHash).toBe((asc.body.entries as Entry[])[0].hash);

    for (const query of [
      'limit=0',
      'limit=501',
      'limit=ten',
      'after=-1',
      'before=0',
      'order=sideways',
      'type=Policy Deny',
      'after=1&before=9',
      'order=asc&before=5',
      'page=2',
      'limit=1&limit=2',
    ]) {
      const { status, body } = await getJson(`${orch.url}/admin/audit?${query}`);
      expect({ query, status, error: body.error }).toEqual({ query, status: 400, error: 'invalid_query' });
      expect(body.correlationId).toEqual(expect.any(String));
    }
  });

  it('verifies the chain over HTTP and with npx shieldx ledger verify; both name the first bad seq after tampering', async () => {
    const ok = await getJson(`${orch.url}/admin/ledger/verify`);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ ok: true, firstSeq: 1, writer: { state: 'up' } });
    expect(ok.body.entries).toBe(ok.body.lastSeq);

    const good = cli('ledger', 'verify', ledgerPath);
    // On a fresh clone the CLI first builds dist/ and says so in one line on stderr; nothing else may appear there.
    expect(good.stderr.replace(/^shieldx: building the orchestrator \(dist\/ is missing\)…\n/, '')).toBe('');
    expect(good.status).toBe(0);
    expect(good.stdout).toMatch(/^ledger OK: \d+ entries, seq 1\.\.\d+/);
    expect(good.stdout).toMatch(
      /\n {2}head: reaches seq \d+ of .*ledger\.jsonl\.head \(signature not checked, written /,
    );

    // Change what one past entry says (its hash no longer matches), as someone editing the file would.
    await orch.close();
    const lines = readFileSync(ledgerPath, 'utf8').split('\n');
    const index = lines.findIndex((line) => line.includes('"corrId":"ledger-deny-1"'));
    const tampered = JSON.parse(lines[index]) as Entry;
    lines[index] = lines[index].replace('/internal/secrets', '/internal/harmless');
    writeFileSync(ledgerPath, lines.join('\n'));

    const bad = cli('ledger', 'verify', ledgerPath);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain(`ledger BROKEN at seq ${tampered.seq}: hash_mismatch`);

    // Restarted on the same file: the chain goes on after the last entry; the broken past is still reported.
    orch = await startOrchestrator({ ...TRUSTED, ORCH_POOL_API: CLOSED, ORCH_LEDGER_PATH: ledgerPath });
    const broken = await getJson(`${orch.url}/admin/ledger/verify`);
    expect(broken.status).toBe(409);
    expect(broken.body).toMatchObject({
      error: 'ledger_broken',
      correlationId: expect.any(String),
      details: { ok: false, reason: 'hash_mismatch', seq: tampered.seq },
    });
    expect(broken.body.message).toContain(`seq ${tampered.seq}`);
    const entries = readEntries(ledgerPath);
    expect(entries.at(-1)).toMatchObject({ type: 'audit.started', seq: entries.length });
  });

  it('keeps the admin endpoints behind the admin guard', async () => {
    const guarded = await startOrchestrator({
      ORCH_POOL_API: CLOSED,
      ORCH_ADMIN_TOKEN: 'ledger-admin-token-0123456789',
    });
    try {
      expect((await getJson(`${guarded.url}/admin/audit`)).status).toBe(401);
      expect((await getJson(`${guarded.url}/admin/ledger/verify`)).status).toBe(401);
      const allowed = await getJson(`${guarded.url}/admin/audit`, {
        authorization: 'Bearer ledger-admin-token-0123456789',
      });
      expect(allowed.status).toBe(200);
    } finally {
      await guarded.close();
    }
  });
});

describe('audit ledger: signed checkpoints (ORCH_LEDGER_SIGNING_KEY)', () => {
  it('signs a checkpoint every 1000 entries and one at close; verify checks them over HTTP and in the CLI', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shieldx-e2e-ledger-signed-'));
    const ledgerPath = join(dir, 'ledger.jsonl');
    const secret = 'checkpoint-secret-0123456789abcdef';
    const orch = await startOrchestrator({
      ORCH_POOL_API: CLOSED,
      ORCH_LEDGER_PATH: ledgerPath,
      ORCH_LEDGER_SIGNING_KEY: `hmac:${secret}`,
      ORCH_LEDGER_MAX_PER_SECOND: '100000',
    });
    try {
      const events = orch.app.get(SecurityEvents);
      for (let i = 0; i < 1200; i++) {
        events.emit(denyEvent({ path: `/internal/${i}`, reason: 'test' }, `signed-${i}`));
      }
      const { status, body } = await getJson(`${orch.url}/admin/ledger/verify`);
      expect(status).toBe(200);
      expect(body).toMatchObject({ ok: true, checkpoints: 1, signaturesChecked: true });
      expect(JSON.stringify(orch.logs)).not.toContain(secret);
    } finally {
      await orch.close();
    }
    const entries = readEntries(ledgerPath);
    const checkpoints = entries.filter((e) => e.type === 'ledger.checkpoint');
    expect(checkpoints[0]).toMatchObject({ seq: 1001, data: { uptoSeq: 1000, alg: 'hmac-sha256' } });
    // Close appends one over the last entry (audit.stopped), so every entry is covered by a signature.
    expect(checkpoints).toHaveLength(2);
    expect(entries.at(-1)).toMatchObject({ type: 'ledger.checkpoint', data: { uptoSeq: entries.length - 1 } });
    writeFileSync(join(dir, 'secret'), `${secret}\n`);
    writeFileSync(join(dir, 'wrong'), 'another-secret-0123456789abcdef\n');
    const good = cli('ledger', 'verify', ledgerPath, '--hmac-secret-file', join(dir, 'secret'));
    expect(good.status).toBe(0);
    expect(good.stdout).toContain('2 checkpoint(s), signatures verified');
    expect(good.stdout).toMatch(/head: reaches seq \d+ of .* \(signature verified, written .*, closed\)/);
    expect(
      cli('ledger', 'verify', ledgerPath, '--hmac-secret-file', join(dir, 'secret'), '--checkpoint-every', '1000')
        .status,
    ).toBe(0);
    expect(cli('ledger', 'verify', ledgerPath, '--checkpoint-every', 'many').status).toBe(2);
    expect(cli('ledger', 'verify', ledgerPath, '--head', 'x', '--no-head').status).toBe(2);
    const wrong = cli('ledger', 'verify', ledgerPath, '--hmac-secret-file', join(dir, 'wrong'), '--json');
    expect(wrong.status).toBe(1);
    expect(JSON.parse(wrong.stdout)).toMatchObject({ ok: false, reason: 'bad_signature', seq: 1001 });
    expect(cli('ledger', 'verify', ledgerPath, '--hmac-secret', 'short').status).toBe(2);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('audit ledger: a write failure never fails a request', () => {
  let orch: RunningOrchestrator | undefined;
  let dir: string;

  afterEach(async () => {
    await orch?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers requests, counts the failure, and takes /readyz down while the disk refuses writes', async () => {
    dir = mkdtempSync(join(tmpdir(), 'shieldx-e2e-ledger-full-'));
    // Every write to /dev/full fails with ENOSPC: a real disk-full, no fake file system.
    symlinkSync('/dev/full', join(dir, 'ledger.jsonl'));
    orch = await startOrchestrator({ ORCH_POOL_API: CLOSED, ORCH_LEDGER_PATH: join(dir, 'ledger.jsonl') });
    const url = orch.url;
    const ready = await eventually(async () => {
      const answer = await getJson(`${url}/readyz`);
      return answer.status === 503 ? answer : undefined;
    });
    expect(ready.body).toMatchObject({
      error: 'unavailable',
      details: { ledger: { status: 'down', error: expect.stringMatching(/ENOSPC|no space/i) } },
    });
    const denied = await post(`${url}/route`, DENIED);
    expect(denied.status).toBe(403);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(Number(/orchestrator_ledger_errors_total\{kind="write"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThanOrEqual(
      1,
    );
    expect(
      Number(/orchestrator_ledger_errors_total\{kind="dropped"\} (\d+)/.exec(metrics)?.[1]),
    ).toBeGreaterThanOrEqual(1);
    expect(metrics).toMatch(/orchestrator_ledger_up 0/);
    expect(orch.logs.some((line) => line.event === 'ledger_write_failed')).toBe(true);
  });
});

describe('a ledger path that cannot be made', () => {
  it('stops start-up at once with the reason, where recursive mkdir would spin for ever (dangling link, /proc)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shieldx-ledger-dangling-'));
    try {
      // A volume that is not mounted: the link exists, its target does not.
      symlinkSync(join(dir, 'not-mounted'), join(dir, 'data'));
      for (const ledgerPath of [join(dir, 'data', 'audit', 'ledger.jsonl'), '/proc/shieldx-none/ledger.jsonl']) {
        if (ledgerPath.startsWith('/proc/') && !existsSync('/proc/self')) continue;
        const started = Date.now();
        await expect(startOrchestrator({ ORCH_LEDGER_PATH: ledgerPath })).rejects.toMatchObject({
          name: 'LedgerOpenError',
          message: expect.stringMatching(/^cannot open the audit ledger .* \(ORCH_LEDGER_PATH\): ENOENT/),
        });
        expect(Date.now() - started).toBeLessThan(5000);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 20_000);
});
