import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { canonicalJson } from './canonical-json';
import { type LedgerEntry } from './entry';
import { type LedgerExportHeader, type LedgerExportRange } from './export-header';
import { LedgerExportError, ledgerExportLines, type LedgerExportOptions, planLedgerExport } from './export';
import { type SigningKey, verificationKeyFor } from './signing';
import { editLine, readLines, steppingClock, tempDir, writeLines } from './testing/helpers';
import { formatVerifyResult, type VerifyFailure, type VerifyOk, type VerifyOptions, verifyLedger } from './verify';
import { LedgerWriter } from './writer';

const hmac: SigningKey = { kind: 'hmac', secret: 'the export test secret, 32 bytes' };
const key = verificationKeyFor(hmac);
const EVERY = 10;
const EXPORTED_AT = () => new Date(Date.UTC(2026, 0, 2));

describe(planLedgerExport.name, () => {
  let dir: string;
  let remove: () => Promise<void>;
  let path: string;
  let out: string;

  beforeEach(async () => {
    ({ dir, remove } = await tempDir());
    path = join(dir, 'ledger.jsonl');
    out = join(dir, 'export.jsonl');
  });

  afterEach(() => remove());

  /** Writes `count` events (a checkpoint after every 10th entry with a key), then closes the ledger. */
  async function build(count: number, options: { signed?: boolean; rotateBytes?: number } = {}): Promise<void> {
    const writer = await LedgerWriter.open({
      path,
      service: 'svc',
      clock: steppingClock(),
      checkpointEvery: EVERY,
      ...(options.rotateBytes === undefined ? {} : { rotateBytes: options.rotateBytes }),
      ...(options.signed === true ? { signingKey: hmac } : {}),
    });
    for (let i = 0; i < count; i++) writer.enqueue({ type: 'e', corrId: `c${i}`, data: { i } });
    await writer.close();
  }

  async function exportTo(range: LedgerExportRange, options: LedgerExportOptions = {}) {
    const plan = await planLedgerExport(path, range, { now: EXPORTED_AT, ...options });
    let text = '';
    for await (const line of ledgerExportLines(plan)) text += line;
    await writeFile(out, text);
    return plan;
  }

  async function ok(options: VerifyOptions = {}): Promise<VerifyOk> {
    const result = await verifyLedger(out, options);
    if (!result.ok) throw new Error(`expected OK, got ${formatVerifyResult(result)}`);
    return result;
  }

  async function failure(options: VerifyOptions = {}): Promise<VerifyFailure> {
    const result = await verifyLedger(out, options);
    if (result.ok) throw new Error(`expected a failure, got ${formatVerifyResult(result)}`);
    return result;
  }

  /** The export's lines: the header (parsed) and the entry lines. */
  async function parts(): Promise<{ header: LedgerExportHeader; lines: string[] }> {
    const [first, ...lines] = await readLines(out);
    return { header: JSON.parse(first) as LedgerExportHeader, lines };
  }

  async function rewrite(header: LedgerExportHeader, lines: readonly string[]): Promise<void> {
    await writeLines(out, [canonicalJson(header), ...lines]);
  }

  describe('round trip', () => {
    it('without a key: the lines of the range byte for byte, the chain checked, "no signatures checked" said', async () => {
      await build(30);
      const plan = await exportTo({ by: 'seq', fromSeq: 5, toSeq: 12 });
      expect(plan.endsSigned).toBe('none');
      const ledger = await readLines(path);
      const { header, lines } = await parts();
      expect(lines).toEqual(ledger.slice(4, 12));
      expect(header).toMatchObject({
        shieldxLedgerExport: 1,
        service: 'svc',
        fromSeq: 5,
        toSeq: 12,
        anchor: { seq: 4, hash: (JSON.parse(ledger[3]) as LedgerEntry).hash },
        exportedAt: '2026-01-02T00:00:00.000Z',
        head: null,
      });
      const result = await ok();
      expect(result).toMatchObject({ entries: 8, firstSeq: 5, lastSeq: 12, signaturesChecked: false });
      expect(result.export).toMatchObject({ fromSeq: 5, toSeq: 12, endsSigned: 'none' });
      expect(formatVerifyResult(result)).toMatch(
        /ledger export OK: 8 entries, seq 5\.\.12[\s\S]*no signatures checked/,
      );
    });

    it('with a key: the end is extended to the next signed checkpoint, which verify requires and checks', async () => {
      await build(35, { signed: true });
      const plan = await exportTo({ by: 'seq', fromSeq: 3, toSeq: 7 });
      expect(plan).toMatchObject({ endsSigned: 'checkpoint', header: { fromSeq: 3, toSeq: 11, range: { toSeq: 7 } } });
      const result = await ok({ key, checkpointEvery: EVERY });
      expect(result).toMatchObject({ entries: 9, checkpoints: 1, signaturesChecked: true });
      expect(result.export?.endsSigned).toBe('checkpoint');
      expect(formatVerifyResult(result)).toMatch(/covered by a signature/);
      // The chain alone verifies without the key.
      expect((await ok()).signaturesChecked).toBe(false);
    });

    it('with a key, up to the end: the signed head is in the header and checked', async () => {
      await build(25, { signed: true });
      const plan = await exportTo({ by: 'seq', fromSeq: 20, toSeq: 1_000 });
      const last = (JSON.parse((await readLines(path)).at(-1)!) as LedgerEntry).seq;
      expect(plan.header).toMatchObject({ toSeq: last, head: { seq: last, closed: true } });
      const result = await ok({ key, checkpointEvery: EVERY });
      expect(result.head).toMatchObject({ source: 'export', seq: last, signed: true });
    });

    it('across rotated files', async () => {
      await build(60, { rotateBytes: 2_000 });
      expect((await readdir(dir)).filter((name) => /\.\d{6}\.jsonl$/.test(name)).length).toBeGreaterThan(1);
      const all = [...(await readdir(dir))].filter((n) => n.endsWith('.jsonl')).sort();
      const ledger = (await Promise.all(all.map((n) => readLines(join(dir, n))))).flat();
      const bySeq = new Map(ledger.map((line) => [(JSON.parse(line) as LedgerEntry).seq, line]));
      await exportTo({ by: 'seq', fromSeq: 2, toSeq: 59 });
      const { lines } = await parts();
      expect(lines).toEqual(Array.from({ length: 58 }, (_, i) => bySeq.get(i + 2)));
      expect(await ok()).toMatchObject({ entries: 58, firstSeq: 2, lastSeq: 59 });
    });

    it('by time: the entries whose ts is in [since, until)', async () => {
      await build(30);
      const entries = (await readLines(path)).map((line) => JSON.parse(line) as LedgerEntry);
      const since = entries[9].ts;
      const until = entries[20].ts;
      const plan = await exportTo({ by: 'time', since, until });
      expect(plan.header).toMatchObject({ fromSeq: 10, toSeq: 20 });
      expect((await ok()).export?.range).toEqual({ by: 'time', since, until });
    });

    it('refuses an empty range, a seq not in the ledger, a range over the bound, an invalid range', async () => {
      await build(5);
      const reason = (range: LedgerExportRange, options?: LedgerExportOptions) =>
        planLedgerExport(path, range, options).then(
          () => 'none',
          (error: unknown) => (error instanceof LedgerExportError ? error.reason : String(error)),
        );
      expect(await reason({ by: 'seq', fromSeq: 50, toSeq: 60 })).toBe('no_entries');
      expect(await reason({ by: 'time', since: '2030-01-01T00:00:00Z', until: '2030-01-02T00:00:00Z' })).toBe(
        'no_entries',
      );
      expect(await reason({ by: 'seq', fromSeq: 1, toSeq: 3 }, { maxEntries: 2 })).toBe('too_large');
      expect(await reason({ by: 'seq', fromSeq: 1, toSeq: 2_000_000 })).toBe('too_large');
      expect(await reason({ by: 'seq', fromSeq: 4, toSeq: 2 })).toBe('invalid_range');
      expect(await reason({ by: 'time', since: 'yesterday', until: '2030-01-02T00:00:00Z' })).toBe('invalid_range');
    });
  });

  describe('against tampering', () => {
    beforeEach(async () => {
      await build(35, { signed: true });
      await exportTo({ by: 'seq', fromSeq: 5, toSeq: 18 });
    });

    it('the untouched export verifies', async () => {
      expect(await ok({ key, checkpointEvery: EVERY })).toMatchObject({ firstSeq: 5, lastSeq: 21, checkpoints: 2 });
    });

    it('truncated: the last lines removed → truncated, with or without a key', async () => {
      const { header, lines } = await parts();
      await rewrite(header, lines.slice(0, -3));
      for (const options of [{}, { key }]) {
        expect(await failure(options)).toMatchObject({ reason: 'truncated', seq: 19 });
      }
    });

    it('truncated and the header edited to match → not covered by a signature (with a key)', async () => {
      const { header, lines } = await parts();
      await rewrite({ ...header, toSeq: 18 }, lines.slice(0, -3));
      expect(await failure({ key, checkpointEvery: EVERY })).toMatchObject({ reason: 'missing_checkpoint', seq: 18 });
      expect((await ok()).export?.endsSigned).toBe('none');
    });

    it('a line cut in the middle → unparsable', async () => {
      const { header, lines } = await parts();
      await writeFile(out, `${canonicalJson(header)}\n${lines.join('\n')}`.slice(0, -20));
      expect(await failure()).toMatchObject({ reason: 'unparsable', seq: 21 });
    });

    it('an edited line → hash_mismatch; re-hashed → prev_hash_mismatch at the next', async () => {
      const { header, lines } = await parts();
      lines[3] = lines[3].replace('"i":7', '"i":70');
      await rewrite(header, lines);
      expect(await failure()).toMatchObject({ reason: 'hash_mismatch', seq: 8, line: 5 });
      lines[3] = editLine(lines[3], () => undefined, true);
      await rewrite(header, lines);
      expect(await failure()).toMatchObject({ reason: 'prev_hash_mismatch', seq: 9 });
    });

    it('reordered lines → seq_out_of_order', async () => {
      const { header, lines } = await parts();
      [lines[2], lines[3]] = [lines[3], lines[2]];
      await rewrite(header, lines);
      expect(await failure()).toMatchObject({ reason: 'seq_out_of_order', seq: 8 });
    });

    it('a line removed in the middle → seq_gap', async () => {
      const { header, lines } = await parts();
      lines.splice(4, 1);
      await rewrite(header, lines);
      expect(await failure()).toMatchObject({ reason: 'seq_gap', seq: 10 });
    });

    it('spliced: a line of the ledger from outside the range inserted → seq_out_of_order; appended → bad_export', async () => {
      const ledger = await readLines(path);
      const { header, lines } = await parts();
      await rewrite(header, [...lines.slice(0, 2), ledger[0], ...lines.slice(2)]);
      expect(await failure()).toMatchObject({ reason: 'seq_out_of_order', seq: 1 });
      await rewrite(header, [...lines, ledger[21]]);
      expect(await failure()).toMatchObject({ reason: 'bad_export', seq: 22 });
    });

    it('spliced: another ledger re-chained onto the anchor → its checkpoints do not verify with the key', async () => {
      const { header, lines } = await parts();
      let prevHash = header.anchor.hash;
      const forged = lines.map((line) =>
        editLine(
          line,
          (entry) => {
            entry.prevHash = prevHash;
            if (entry.type === 'e') entry.data = { i: 0 };
            else (entry.data as { uptoHash: string }).uptoHash = prevHash;
            prevHash = '';
          },
          true,
        ),
      );
      // Fix the links after re-hashing, the way a forger would.
      for (let i = 1; i < forged.length; i++) {
        const before = JSON.parse(forged[i - 1]) as LedgerEntry;
        forged[i] = editLine(
          forged[i],
          (entry) => {
            entry.prevHash = before.hash;
            if (entry.type !== 'e') (entry.data as { uptoHash: string }).uptoHash = before.hash;
          },
          true,
        );
      }
      await rewrite(header, forged);
      expect((await ok()).entries).toBe(17);
      expect(await failure({ key })).toMatchObject({ reason: 'bad_signature', seq: 11 });
    });

    it('the anchor edited → prev_hash_mismatch at the first entry', async () => {
      const { header, lines } = await parts();
      await rewrite({ ...header, anchor: { seq: 4, hash: 'a'.repeat(64) } }, lines);
      expect(await failure()).toMatchObject({ reason: 'prev_hash_mismatch', seq: 5, line: 2 });
    });

    it('the range, the seqs or the form of the header edited → bad_export (or the lines disagree)', async () => {
      const { header, lines } = await parts();
      await rewrite({ ...header, range: { by: 'seq', fromSeq: 1, toSeq: 18 } }, lines);
      expect(await failure()).toMatchObject({ reason: 'bad_export' });
      await rewrite({ ...header, fromSeq: 4, anchor: { seq: 3, hash: header.anchor.hash } }, lines);
      expect(await failure()).toMatchObject({ reason: 'bad_export' });
      await rewrite({ ...header, toSeq: 20 }, lines);
      expect(await failure()).toMatchObject({ reason: 'bad_export', seq: 21 });
      await writeLines(out, [JSON.stringify(header, null, 1).replace(/\n/g, ''), ...lines]);
      expect(await failure()).toMatchObject({ reason: 'bad_export', line: 1 });
      await writeLines(out, [canonicalJson({ ...header, extra: 1 }), ...lines]);
      expect(await failure()).toMatchObject({ reason: 'bad_export' });
    });

    it('the time range edited so the first entry falls outside it → bad_export', async () => {
      const { header, lines } = await parts();
      const first = JSON.parse(lines[0]) as LedgerEntry;
      const later = new Date(Date.parse(first.ts) + 1).toISOString();
      await rewrite({ ...header, range: { by: 'time', since: later, until: '2030-01-01T00:00:00.000Z' } }, lines);
      expect(await failure()).toMatchObject({ reason: 'bad_export', seq: 5 });
    });
  });

  describe('the head in the header, tampered', () => {
    beforeEach(async () => {
      await build(25, { signed: true });
      await exportTo({ by: 'seq', fromSeq: 15, toSeq: 100 });
    });

    it('its signature, seq or hash edited → bad_head with the key, head_mismatch without', async () => {
      const { header, lines } = await parts();
      const head = header.head!;
      await rewrite({ ...header, head: { ...head, ts: '2030-01-01T00:00:00.000Z' } }, lines);
      expect(await failure({ key })).toMatchObject({ reason: 'bad_head' });
      await rewrite({ ...header, head: { ...head, hash: 'b'.repeat(64) } }, lines);
      expect(await failure()).toMatchObject({ reason: 'head_mismatch', seq: head.seq });
      await rewrite({ ...header, head: { ...head, seq: head.seq - 1 } }, lines);
      expect(await failure()).toMatchObject({ reason: 'head_mismatch' });
    });

    it('the head removed and the last checkpoint cut → missing_checkpoint with the key', async () => {
      const { header, lines } = await parts();
      await rewrite({ ...header, head: null, toSeq: header.toSeq - 1 }, lines.slice(0, -1));
      expect(await failure({ key, checkpointEvery: EVERY })).toMatchObject({ reason: 'missing_checkpoint' });
    });
  });
});
