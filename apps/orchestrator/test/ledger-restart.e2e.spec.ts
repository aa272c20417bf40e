import { verifyLedger, type LedgerEntry } from '@shieldx/ledger';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileOrchestrator } from './compile';
import { post, startOrchestrator } from './harness';
import { denyUntilKilled, launchLedgerGateway } from './ledger-process';

/** The complete (newline-terminated) lines of a ledger file; a torn last line is what recovery cuts. */
function entriesOf(path: string): LedgerEntry[] {
  const text = readFileSync(path, 'utf8');
  return text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as LedgerEntry);
}

/**
 * kill -9 of a real orchestrator process in the middle of a burst of denials (each one a ledger append), then a new
 * orchestrator on the same ledger file: the chain verifies and goes on from where the disk had it.
 */
describe('audit ledger across kill -9 of the orchestrator', () => {
  let work: string;
  let build: string;
  let child: ChildProcess | undefined;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'shieldx-e2e-restart-'));
    build = compileOrchestrator('e2e-ledger-restart-');
  }, 120_000);

  afterAll(() => {
    child?.kill('SIGKILL');
    rmSync(build, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  it('verifies after the kill, and the next process resumes the chain', async () => {
    const ledgerPath = join(work, 'ledger.jsonl');
    const gateway = await launchLedgerGateway(build, ledgerPath);
    child = gateway.process;

    // 16 clients deny in a loop; kill -9 once 400 denials were answered (the ledger is mid-write then).
    await denyUntilKilled(gateway, 16, 400);
    expect(await gateway.exited).toBe('SIGKILL');

    const afterKill = await verifyLedger(ledgerPath);
    expect(afterKill.ok).toBe(true);
    const before = entriesOf(ledgerPath);
    const deniedBefore = before.filter((e) => e.type === 'policy.deny').length;
    expect(deniedBefore).toBeGreaterThan(100);
    const lastBefore = before.at(-1) as LedgerEntry;

    // The test client counts as a trusted proxy, so the X-Correlation-IDs it sends are kept as the requests' own.
    const next = await startOrchestrator({
      ORCH_POOL_API: 'http://127.0.0.1:9',
      ORCH_LEDGER_PATH: ledgerPath,
      ORCH_TRUSTED_PROXIES: '127.0.0.1/32',
    });
    try {
      for (let i = 0; i < 5; i++) {
        const answer = await post(
          `${next.url}/route`,
          { service: 'api', tenant: 'acme', scope: 'read', path: `/internal/after/${i}` },
          { 'x-correlation-id': `after-restart-${i}` },
        );
        expect(answer.status).toBe(403);
      }
    } finally {
      await next.close();
    }

    const result = await verifyLedger(ledgerPath);
    expect(result).toMatchObject({ ok: true, firstSeq: 1, tornTail: null });
    const entries = entriesOf(ledgerPath);
    expect(entries.map((e) => e.seq)).toEqual(entries.map((_, i) => i + 1));
    // The chain goes on from the last entry the killed process got onto the disk (after a recovery record when the
    // kill tore a line).
    const resumed = entries.slice(lastBefore.seq);
    expect(resumed[0].prevHash).toBe(lastBefore.hash);
    const started = resumed.find((e) => e.type === 'audit.started');
    expect(started?.data).toMatchObject({ resumedAfterSeq: expect.any(Number) });
    expect(resumed.filter((e) => e.corrId?.startsWith('after-restart-')).map((e) => e.corrId)).toEqual([
      'after-restart-0',
      'after-restart-1',
      'after-restart-2',
      'after-restart-3',
      'after-restart-4',
    ]);
    expect(entries.at(-1)?.type).toBe('audit.stopped');
  }, 90_000);
});
