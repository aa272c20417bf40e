import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LedgerEntry } from './entry';
import { planLedgerExport } from './export';
import { encodeExportHeader } from './export-header';
import { defaultHeadPath } from './head';
import { editLine, readLines, steppingClock, tempDir, writeLines } from './testing/helpers';
import { formatVerifyResult, MAX_LINE_BYTES, type VerifyFailure, verifyLedger } from './verify';
import { LedgerWriter } from './writer';

describe(verifyLedger.name, () => {
  let dir: string;
  let remove: () => Promise<void>;
  let path: string;

  beforeEach(async () => {
    ({ dir, remove } = await tempDir());
    path = join(dir, 'ledger.jsonl');
  });

  afterEach(() => remove());

  /** Writes `count` entries (seq 1..count); with rotateBytes 4096 each file holds 12 of them. */
  async function build(count: number, rotateBytes = 0): Promise<void> {
    const writer = await LedgerWriter.open({ path, service: 'svc', clock: steppingClock(), rotateBytes });
    for (let i = 0; i < count; i++) writer.enqueue({ type: 'e', corrId: `c${i}`, data: { i, pad: 'x'.repeat(56) } });
    await writer.close();
  }

  async function edit(file: string, change: (lines: string[]) => void): Promise<void> {
    const lines = await readLines(file);
    change(lines);
    await writeLines(file, lines);
  }

  async function failure(target = path): Promise<VerifyFailure> {
    const result = await verifyLedger(target);
    if (result.ok) throw new Error(`expected a failure, got ${formatVerifyResult(result)}`);
    return result;
  }

  describe('an intact ledger', () => {
    it('verifies with a summary', async () => {
      await build(20);
      const result = await verifyLedger(path);
      expect(result).toMatchObject({
        ok: true,
        entries: 20,
        files: [path],
        firstSeq: 1,
        lastSeq: 20,
        startsAt: null,
        checkpoints: 0,
        tornTail: null,
      });
      expect(formatVerifyResult(result)).toMatch(
        /^ledger OK: 20 entries, seq 1\.\.20, in 1 file\(s\)\n {2}last hash [0-9a-f]{64}\n {2}head: reaches seq 20 of /,
      );
    });

    it('verifies an empty ledger', async () => {
      await build(0);
      expect(await verifyLedger(path)).toMatchObject({ ok: true, entries: 0, firstSeq: 0, lastSeq: 0 });
    });
  });

  describe('every tamper kind, with the first bad seq', () => {
    beforeEach(() => build(20));

    it('a changed field in line 7 → hash_mismatch at seq 7', async () => {
      await edit(path, (lines) => (lines[6] = editLine(lines[6], (e) => ((e.data as { i: number }).i = 99))));
      expect(await failure()).toMatchObject({
        reason: 'hash_mismatch',
        seq: 7,
        line: 7,
        file: path,
        entriesVerified: 6,
      });
    });

    it('a changed line whose hash was recomputed → prev_hash_mismatch at the next seq', async () => {
      await edit(path, (lines) => (lines[6] = editLine(lines[6], (e) => (e.type = 'forged'), true)));
      expect(await failure()).toMatchObject({ reason: 'prev_hash_mismatch', seq: 8, line: 8 });
    });

    it('a changed prevHash → hash_mismatch at its seq; re-hashed → prev_hash_mismatch at its seq', async () => {
      await edit(path, (lines) => (lines[9] = editLine(lines[9], (e) => (e.prevHash = 'f'.repeat(64)))));
      expect(await failure()).toMatchObject({ reason: 'hash_mismatch', seq: 10, line: 10 });
      await edit(path, (lines) => (lines[9] = editLine(lines[9], () => undefined, true)));
      expect(await failure()).toMatchObject({ reason: 'prev_hash_mismatch', seq: 10, line: 10 });
    });

    it('a removed line (seq 7) → seq_gap where the gap shows (seq 8)', async () => {
      await edit(path, (lines) => lines.splice(6, 1));
      const result = await failure();
      expect(result).toMatchObject({ reason: 'seq_gap', seq: 8, line: 7 });
      expect(result.message).toMatch(/seq 7 missing/);
    });

    it('removed lines 7..9 → seq_gap at seq 10 naming the range', async () => {
      await edit(path, (lines) => lines.splice(6, 3));
      expect(await failure()).toMatchObject({
        reason: 'seq_gap',
        seq: 10,
        message: expect.stringMatching(/seq 7\.\.9/) as unknown,
      });
    });

    it('the first line removed → seq_gap at seq 2', async () => {
      await edit(path, (lines) => lines.shift());
      expect(await failure()).toMatchObject({ reason: 'seq_gap', seq: 2, line: 1 });
    });

    it('an inserted forged line (a well-formed seq 8) → seq_out_of_order at the genuine seq 8', async () => {
      await edit(path, (lines) => {
        const forged = editLine(lines[7], (e) => ((e.data as { i: number }).i = -1), true);
        lines.splice(7, 0, forged);
      });
      expect(await failure()).toMatchObject({ reason: 'seq_out_of_order', seq: 8, line: 9 });
    });

    it('an inserted copy of an earlier line → seq_out_of_order at its seq', async () => {
      await edit(path, (lines) => lines.splice(7, 0, lines[2]));
      expect(await failure()).toMatchObject({ reason: 'seq_out_of_order', seq: 3, line: 8 });
    });

    it('an inserted line with a made-up hash → hash_mismatch at the seq it claims', async () => {
      await edit(path, (lines) =>
        lines.splice(
          7,
          0,
          editLine(lines[7], (e) => (e.type = 'inserted')),
        ),
      );
      expect(await failure()).toMatchObject({ reason: 'hash_mismatch', seq: 8, line: 8 });
    });

    it('two lines swapped (7 and 8) → seq_out_of_order at the first out-of-place seq (8)', async () => {
      await edit(path, (lines) => ([lines[6], lines[7]] = [lines[7], lines[6]]));
      const result = await failure();
      expect(result).toMatchObject({ reason: 'seq_out_of_order', seq: 8, line: 7 });
      expect(result.message).toMatch(/seq 7 comes later \(ledger\.jsonl line 8\)/);
    });

    it('a line moved far back → seq_out_of_order', async () => {
      await edit(path, (lines) => lines.push(...lines.splice(4, 1)));
      expect(await failure()).toMatchObject({ reason: 'seq_out_of_order', seq: 6, line: 5 });
    });

    it('an unparsable or blank line → unparsable at the seq expected there', async () => {
      await edit(path, (lines) => (lines[4] = lines[4].slice(0, 30)));
      expect(await failure()).toMatchObject({ reason: 'unparsable', seq: 5, line: 5 });
      await rm(path);
      await rm(`${path}.head`);
      await build(20);
      await edit(path, (lines) => lines.splice(4, 0, ''));
      expect(await failure()).toMatchObject({ reason: 'unparsable', seq: 5, line: 5 });
    });

    it('a line longer than MAX_LINE_BYTES → unparsable at its place, read in bounded memory (not held whole)', async () => {
      await edit(path, (lines) => (lines[4] = 'x'.repeat(MAX_LINE_BYTES + 1)));
      expect(await failure()).toMatchObject({ reason: 'unparsable', seq: 5, line: 5 });
      // Garbage with no line break at all (a device, a file of zeros): the same, at line 1, not a crash.
      expect(await failure('/dev/zero')).toMatchObject({ reason: 'unparsable', seq: 1, line: 1, file: '/dev/zero' });
    });

    it('an extra member → malformed at its seq', async () => {
      await edit(path, (lines) => (lines[3] = lines[3].replace('{"seq"', '{"extra":1,"seq"')));
      expect(await failure()).toMatchObject({ reason: 'malformed', seq: 4, line: 4 });
    });

    it('prints the failure naming the seq, the file and the line', async () => {
      await edit(path, (lines) => lines.splice(6, 1));
      expect(formatVerifyResult(await failure())).toBe(
        `ledger BROKEN at seq 8: seq_gap\n  at ${path}, line 7\n` +
          '  seq 8 follows seq 6: seq 7 missing (lines removed or a file cut short)\n  6 entries verified before it',
      );
    });
  });

  describe('a rotated set (12 entries per file)', () => {
    beforeEach(() => build(30, 4096));
    const file = (n: number) => (n === 3 ? path : join(dir, `ledger.00000${n}.jsonl`));

    it('verifies across 3 files', async () => {
      expect(await verifyLedger(path)).toMatchObject({ ok: true, entries: 30, files: [file(1), file(2), file(3)] });
    });

    it('a file cut short in the middle of the set → seq_gap at the first entry of the next file', async () => {
      await edit(file(1), (lines) => lines.splice(10));
      expect(await failure()).toMatchObject({ reason: 'seq_gap', seq: 13, file: file(2), line: 1 });
    });

    it('a broken link across a rotation → prev_hash_mismatch at the first entry of the later file', async () => {
      await edit(file(3), (lines) => (lines[0] = editLine(lines[0], (e) => (e.prevHash = 'a'.repeat(64)), true)));
      const result = await failure();
      expect(result).toMatchObject({ reason: 'prev_hash_mismatch', seq: 25, file: file(3), line: 1 });
      expect(result.message).toMatch(/across a rotation/);
    });

    it('a middle file removed → seq_gap; files renamed out of order → seq_out_of_order', async () => {
      await rename(file(2), join(dir, 'aside'));
      expect(await failure()).toMatchObject({ reason: 'seq_gap', seq: 25, file: file(3), line: 1 });
      await rename(join(dir, 'aside'), join(dir, 'ledger.000000.jsonl'));
      expect(await failure()).toMatchObject({ reason: 'seq_out_of_order', seq: 13, line: 1 });
    });

    it('the oldest file pruned → a failure by default, startsAt with allowPrunedStart', async () => {
      await rm(file(1));
      expect(await failure()).toMatchObject({ reason: 'seq_gap', seq: 13, file: file(2), line: 1 });
      const result = await verifyLedger(path, { allowPrunedStart: true });
      expect(result).toMatchObject({ ok: true, entries: 18, firstSeq: 13, lastSeq: 30, startsAt: { seq: 13 } });
      expect(formatVerifyResult(result)).toMatch(/starts at seq 13 \(older entries pruned\)/);
    });

    it('one rotated file alone, with allowPrunedStart', async () => {
      expect(await verifyLedger(file(2), { allowPrunedStart: true })).toMatchObject({
        ok: true,
        files: [file(2)],
        firstSeq: 13,
        lastSeq: 24,
      });
    });

    it('a torn line at the end of a rotated file is a failure, at the end of the active file a note', async () => {
      await writeFile(file(3), '{"seq":31,"ts"', { flag: 'a' });
      const ok = await verifyLedger(path);
      expect(ok).toMatchObject({ ok: true, entries: 30, tornTail: { file: file(3), bytes: 14 } });
      expect(formatVerifyResult(ok)).toMatch(/incomplete line of 14 bytes/);
      await writeFile(file(1), '{"seq":13,"ts"', { flag: 'a' });
      expect(await failure()).toMatchObject({ reason: 'unparsable', seq: 13, file: file(1), line: 13 });
    });
  });

  describe('paths', () => {
    it('reports a missing ledger and a directory holding several', async () => {
      expect(await failure(join(dir, 'nope.jsonl'))).toMatchObject({ reason: 'no_ledger', seq: null });
      expect(await failure(dir)).toMatchObject({ reason: 'no_ledger' });
      await build(2);
      await writeFile(join(dir, 'other.jsonl'), '');
      expect(await failure(dir)).toMatchObject({ reason: 'ambiguous_path' });
      expect(formatVerifyResult(await failure(dir))).toMatch(/^ledger BROKEN: ambiguous_path\n/);
      await mkdir(join(dir, 'sub'));
      expect(await failure(join(dir, 'sub'))).toMatchObject({ reason: 'no_ledger' });
    });

    it('verifies the rotated files when a crash left no active file', async () => {
      await build(30, 4096);
      await rename(path, join(dir, 'ledger.000003.jsonl'));
      expect(await verifyLedger(path)).toMatchObject({ ok: true, entries: 30 });
      expect(await verifyLedger(dir)).toMatchObject({ ok: true, entries: 30 });
    });
  });

  describe('for a caller that learns from verified entries (the gateway starting without its head)', () => {
    it('onVerifiedEntry sees each good entry in order, never the line that fails, nor any after it', async () => {
      await build(8);
      await edit(path, (lines) => {
        lines[5] = lines[5].replace('"i":5', '"i":50');
      });
      const seen: number[] = [];
      const result = await verifyLedger(path, { onVerifiedEntry: (entry) => seen.push(entry.seq) });
      expect(result).toMatchObject({ ok: false, reason: 'hash_mismatch', seq: 6 });
      expect(seen).toEqual([1, 2, 3, 4, 5]);
    });

    it('asLedger: a ledger whose first line was made an export header is not verified as an export', async () => {
      await build(8);
      // Without its head file beside it, the file alone looks like an export; asLedger says it is not.
      await rm(defaultHeadPath(path));
      const { header } = await planLedgerExport(path, { by: 'seq', fromSeq: 1, toSeq: 8 });
      await edit(path, (lines) => lines.unshift(encodeExportHeader(header)));
      expect(await verifyLedger(path)).toMatchObject({ ok: true, export: { fromSeq: 1, toSeq: 8 } });
      expect(await verifyLedger(path, { asLedger: true })).toMatchObject({ ok: false, reason: 'malformed', line: 1 });
    });

    it('a file with a head file or rotated files beside it is a ledger, whatever its first line says', async () => {
      await build(8);
      const { header } = await planLedgerExport(path, { by: 'seq', fromSeq: 1, toSeq: 8 });
      await edit(path, (lines) => lines.unshift(encodeExportHeader(header)));
      // The writer left its head file beside it: a ledger, even when verified without its head.
      expect(await verifyLedger(path)).toMatchObject({ ok: false, reason: 'malformed', line: 1 });
      expect(await verifyLedger(path, { headPath: false })).toMatchObject({ ok: false, reason: 'malformed', line: 1 });
      // A head file kept elsewhere (ORCH_LEDGER_HEAD_PATH): naming it says the file is a ledger, even once it is gone.
      await rm(defaultHeadPath(path));
      expect(await verifyLedger(path)).toMatchObject({ ok: true, export: { fromSeq: 1 } });
      const elsewhere = join(dir, 'elsewhere.head');
      expect(await verifyLedger(path, { headPath: elsewhere })).toMatchObject({ ok: false, line: 1 });
      await writeFile(elsewhere, 'a head file\n');
      expect(await verifyLedger(path, { headPath: elsewhere })).toMatchObject({ ok: false, line: 1 });
    });

    it('so is a rotated file verified alone', async () => {
      await build(30, 4096);
      const rotated = join(dir, 'ledger.000001.jsonl');
      const { header } = await planLedgerExport(rotated, { by: 'seq', fromSeq: 1, toSeq: 12 });
      await edit(rotated, (lines) => lines.unshift(encodeExportHeader(header)));
      expect(await verifyLedger(rotated)).not.toHaveProperty('export');
      expect(await verifyLedger(rotated)).toMatchObject({ ok: false });
    });

    it('an export named like a rotated file, with no ledger of that name beside it, is still an export', async () => {
      await build(8);
      const { header } = await planLedgerExport(path, { by: 'seq', fromSeq: 1, toSeq: 8 });
      const lines = [encodeExportHeader(header), ...(await readLines(path))];
      const exported = join(dir, 'export.20261206.jsonl');
      await writeLines(exported, lines);
      expect(await verifyLedger(exported)).toMatchObject({ ok: true, export: { fromSeq: 1, toSeq: 8 } });
    });

    it('so is one with rotated files of its name', async () => {
      await build(30, 4096);
      const { header } = await planLedgerExport(path, { by: 'seq', fromSeq: 1, toSeq: 30 });
      await edit(path, (lines) => lines.unshift(encodeExportHeader(header)));
      expect(await verifyLedger(path)).toMatchObject({ ok: false });
      expect(await verifyLedger(path)).not.toHaveProperty('export');
    });
  });

  it('reads entries back as LedgerEntry objects', async () => {
    await build(1);
    const [line] = await readLines(path);
    expect(JSON.parse(line) as LedgerEntry).toMatchObject({ seq: 1, service: 'svc', corrId: 'c0', data: { i: 0 } });
  });
});
