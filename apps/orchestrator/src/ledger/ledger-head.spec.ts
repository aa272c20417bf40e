import { canonicalJson, LedgerHeadError, LedgerWriter, planLedgerExport, verificationKeyFor } from '@shieldx/ledger';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { refuseLostHead, type LostHeadSettings } from './ledger-head';

const SIGNING = { kind: 'hmac', secret: 'the lost head test secret, 32 b!' } as const;

describe(refuseLostHead.name, () => {
  let dir: string;
  let path: string;
  let headPath: string;
  let warnings: Record<string, unknown>[];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'shieldx-ledger-head-'));
    path = join(dir, 'ledger.jsonl');
    headPath = `${path}.head`;
    warnings = [];
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const settings = (overrides: Partial<LostHeadSettings> = {}): LostHeadSettings => ({
    headPath,
    acceptHeadless: false,
    checkpointEvery: 1000,
    key: undefined,
    ...overrides,
  });
  const check = (overrides: Partial<LostHeadSettings> = {}) =>
    refuseLostHead(path, settings(overrides), (line) => warnings.push(line));

  /**
   * A closed ledger as the gateway writes it: `starts` starts (`audit.started` with `head` when `head` is given, as
   * since heads exist; without it, as before), each followed by `perStart` denials; then the head file removed.
   */
  async function ledger(
    options: { starts?: number; perStart?: number; head?: 'matched' | 'missing'; rotateBytes?: number } = {},
  ): Promise<void> {
    for (let start = 0; start < (options.starts ?? 2); start++) {
      const writer = await LedgerWriter.open({
        path,
        service: 'orchestrator',
        ...(options.rotateBytes === undefined ? {} : { rotateBytes: options.rotateBytes }),
      });
      const data = { pid: 1, resumedAfterSeq: writer.stats.lastSeq, recovered: false };
      writer.enqueue({
        type: 'audit.started',
        data: options.head === undefined ? data : { ...data, head: options.head },
      });
      for (let i = 0; i < (options.perStart ?? 5); i++) writer.enqueue({ type: 'policy.deny', data: { start, i } });
      await writer.close();
    }
    rmSync(headPath);
  }

  it('a fresh ledger (no file, not even its directory; or an empty active file alone) starts', async () => {
    writeFileSync(path, '');
    await expect(check()).resolves.toBeUndefined();
    path = join(dir, 'not-yet', 'ledger.jsonl');
    await expect(check()).resolves.toBeUndefined();
  });

  it('does not look at the ledger while its head file is there (the writer checks the ledger against it)', async () => {
    writeFileSync(path, 'not a ledger\n');
    writeFileSync(headPath, 'not a head either\n');
    await expect(check()).resolves.toBeUndefined();
  });

  it('a ledger written before heads existed starts, and one that has had a head is refused, since its first', async () => {
    await ledger();
    await expect(check()).resolves.toBeUndefined();
    rmSync(dir, { recursive: true, force: true });
    await ledger({ head: 'matched', starts: 3 });
    await expect(check()).rejects.toThrow(LedgerHeadError);
    await expect(check()).rejects.toThrow(/is missing, though this ledger has had one since seq 1: /);
  });

  it('trusts no line it has not verified: a forged start appended, or the newest start edited, decide nothing', async () => {
    await ledger({ head: 'matched' });
    appendFileSync(path, '{"seq":1,"type":"audit.started","data":{"head":"x"}}\n');
    await expect(check()).rejects.toThrow(
      /had one since seq 1: .* \(and the ledger does not verify: malformed at seq 1 \(ledger\.jsonl line 13\)/,
    );

    // Every start's "head" removed: the edited lines no longer hash, so nothing shows it never had one.
    rmSync(dir, { recursive: true, force: true });
    await ledger({ head: 'missing', starts: 1 });
    writeFileSync(path, readFileSync(path, 'utf8').replace('"head":"missing",', ''));
    await expect(check()).rejects.toThrow(/is missing and the ledger does not verify \(hash_mismatch at seq 1 /);
  });

  it('a missing active file with rotated files left is not a fresh ledger', async () => {
    await ledger({ head: 'matched', starts: 3, perStart: 40, rotateBytes: 4096 });
    rmSync(path);
    await expect(check()).rejects.toThrow(/had one since seq 1:/);
  });

  it('a ledger whose oldest files were archived cannot show it never had a head', async () => {
    await ledger({ starts: 1, perStart: 80, rotateBytes: 4096 });
    await expect(check()).resolves.toBeUndefined();
    rmSync(join(dir, 'ledger.000001.jsonl'));
    await expect(check()).rejects.toThrow(/the ledger starts at seq \d+ \(older files archived\)/);
  });

  it('with a key, verifies the checkpoints: an unsigned run longer than the interval is refused', async () => {
    await ledger({ perStart: 30 });
    await expect(check({ key: verificationKeyFor(SIGNING), checkpointEvery: 20 })).rejects.toThrow(
      /does not verify \(missing_checkpoint/,
    );
    await expect(check({ key: verificationKeyFor(SIGNING), checkpointEvery: 100 })).resolves.toBeUndefined();
  });

  it('verifies the active file as a ledger even when its first line is made an export header', async () => {
    await ledger({ starts: 1, perStart: 8, head: 'matched' });
    const { header } = await planLedgerExport(path, { by: 'seq', fromSeq: 2, toSeq: 9 }, { headPath: false });
    const lines = readFileSync(path, 'utf8').split('\n');
    // The first entry (the start that records a head) replaced: as an export of seq 2..9 the rest would verify.
    writeFileSync(path, [canonicalJson(header), ...lines.slice(1)].join('\n'));
    await expect(check()).rejects.toThrow(
      /does not verify \((malformed|non_canonical) at seq 1 \(ledger\.jsonl line 1\)/,
    );
  });

  it('ORCH_LEDGER_ACCEPT_HEADLESS starts it anyway, and says what it accepted', async () => {
    await ledger({ head: 'matched' });
    appendFileSync(path, 'garbage\n');
    await expect(check({ acceptHeadless: true })).resolves.toBeUndefined();
    expect(warnings).toEqual([
      expect.objectContaining({
        event: 'ledger_head_lost_accepted',
        sinceSeq: 1,
        verify: expect.objectContaining({ reason: 'unparsable' }) as unknown,
      }),
    ]);
  });
});
