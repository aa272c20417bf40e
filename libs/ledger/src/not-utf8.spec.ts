import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LedgerEntry } from './entry';
import { LedgerCorruptError, LedgerHeadError } from './errors';
import { LedgerExportError, ledgerExportLines, planLedgerExport } from './export';
import { encodeHead, makeHead, readLedgerHead } from './head';
import { fileSetFromNames, rotatedPath } from './naming';
import { readAuditPage } from './reader';
import { createSigner, type SigningKey, verificationKeyFor } from './signing';
import { steppingClock, tempDir } from './testing/helpers';
import { formatVerifyResult, type VerifyFailure, type VerifyOptions, verifyLedger } from './verify';
import { LedgerWriter } from './writer';

/*
 * A byte edited so that a line is no longer UTF-8. The case that matters: U+FFFD (EF BF BD) edited into a lone 0xFF,
 * or cut to EF BF. A lenient decoder (Buffer#toString) reads either as U+FFFD again: the same text, the same hash, so
 * a check of the decoded text passes a line whose bytes were changed. Every reader that checks lines must judge the
 * bytes.
 */

const hmac: SigningKey = { kind: 'hmac', secret: 'the utf-8 test secret, 32 bytes!' };
const key = verificationKeyFor(hmac);
const FFFD = Buffer.from('\uFFFD');

/** Edits that a lenient decoder reads back as the U+FFFD they replace, and one it reads otherwise. */
const EDITS: [string, number[]][] = [
  ['a lone 0xFF', [0xff]],
  ['a sequence cut short (EF BF)', [0xef, 0xbf]],
  ['an encoded surrogate (ED A0 80)', [0xed, 0xa0, 0x80]],
];

/** Replaces the `nth` U+FFFD (0-based) of `file` with `bytes`; returns the 1-based number of the line it is in. */
async function breakUtf8(file: string, bytes: readonly number[], nth = 0): Promise<number> {
  const content = await readFile(file);
  let at = -1;
  for (let i = 0; i <= nth; i++) at = content.indexOf(FFFD, at + 1);
  if (at === -1) throw new Error(`no U+FFFD number ${nth} in ${file}`);
  await writeFile(
    file,
    Buffer.concat([content.subarray(0, at), Buffer.from(bytes), content.subarray(at + FFFD.length)]),
  );
  return content.subarray(0, at).toString('latin1').split('\n').length;
}

describe('lines that are not valid UTF-8', () => {
  let dir: string;
  let remove: () => Promise<void>;
  let path: string;

  beforeEach(async () => {
    ({ dir, remove } = await tempDir());
    path = join(dir, 'ledger.jsonl');
  });

  afterEach(() => remove());

  /** A closed ledger of `count` entries (seq 1..count), those whose index is in `marked` holding U+FFFD. */
  async function build(
    count: number,
    options: { marked?: readonly number[]; signed?: boolean; rotateBytes?: number; service?: string } = {},
  ): Promise<void> {
    const writer = await LedgerWriter.open({
      path,
      service: options.service ?? 'svc',
      clock: steppingClock(),
      checkpointEvery: 10,
      ...(options.rotateBytes === undefined ? {} : { rotateBytes: options.rotateBytes }),
      ...(options.signed === true ? { signingKey: hmac } : {}),
    });
    const marked = new Set(options.marked ?? [2]);
    for (let i = 0; i < count; i++) {
      writer.enqueue({ type: 'e', corrId: null, data: { i, s: marked.has(i) ? 'a\uFFFDb' : 'ab' } });
    }
    await writer.close();
  }

  /** The entries of `file`, as written (the file read leniently). */
  async function entries(file = path): Promise<LedgerEntry[]> {
    return (await readFile(file, 'utf8'))
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as LedgerEntry);
  }

  async function failure(target: string, options: VerifyOptions = {}): Promise<VerifyFailure> {
    const result = await verifyLedger(target, options);
    if (result.ok) throw new Error(`expected a failure, got ${formatVerifyResult(result)}`);
    return result;
  }

  describe('verify', () => {
    it.each(EDITS)('%s in an entry → unparsable at that line, with or without a key', async (_what, bytes) => {
      await build(8, { signed: true });
      const line = await breakUtf8(path, bytes);
      for (const options of [{}, { key }]) {
        const result = await failure(path, options);
        expect(result).toMatchObject({ reason: 'unparsable', seq: line, file: path, line, entriesVerified: line - 1 });
        expect(result.message).toMatch(/not valid UTF-8/);
      }
    });

    it('in a rotated file too', async () => {
      await build(30, { rotateBytes: 1024, marked: [1] });
      const first = rotatedPath(path, 1);
      const line = await breakUtf8(first, [0xff]);
      expect(await failure(path)).toMatchObject({ reason: 'unparsable', seq: line, file: first, line });
    });

    it('the untouched ledger, U+FFFD and all, verifies', async () => {
      await build(8, { signed: true });
      // Eight entries and the checkpoint of the close.
      expect(await verifyLedger(path, { key })).toMatchObject({ ok: true, entries: 9, checkpoints: 1 });
    });
  });

  describe('export', () => {
    it('refuses to plan or copy over such a line (it would be copied changed)', async () => {
      await build(8);
      const line = await breakUtf8(path, [0xff]);
      const plan = planLedgerExport(path, { by: 'seq', fromSeq: 1, toSeq: 8 });
      await expect(plan).rejects.toThrow(LedgerExportError);
      await expect(plan).rejects.toThrow(
        new RegExp(`line ${line} is not a ledger entry \\(its bytes are not valid UTF-8`),
      );
    });

    it('an export file with such a line, or such a header, fails verification', async () => {
      const exportOf = async (): Promise<string> => {
        const plan = await planLedgerExport(path, { by: 'seq', fromSeq: 1, toSeq: 8 });
        let text = '';
        for await (const line of ledgerExportLines(plan)) text += line;
        const out = join(dir, 'export.jsonl');
        await writeFile(out, text);
        expect(await verifyLedger(out)).toMatchObject({ ok: true });
        return out;
      };
      await build(8);
      const out = await exportOf();
      await breakUtf8(out, [0xff]);
      expect(await failure(out)).toMatchObject({ reason: 'unparsable', seq: 3, line: 4 });

      // The header's first U+FFFD is the service name's.
      await remove();
      ({ dir, remove } = await tempDir());
      path = join(dir, 'ledger.jsonl');
      await build(8, { service: 's\uFFFD', marked: [] });
      const headed = await exportOf();
      expect(await breakUtf8(headed, [0xff])).toBe(1);
      expect(await failure(headed)).toMatchObject({ reason: 'bad_export', line: 1 });
      expect((await failure(headed)).message).toMatch(/not valid UTF-8/);
    });
  });

  describe('the writer reopening the ledger', () => {
    it('cuts such a last line as invalid (ledger.recovered), not resumes from it', async () => {
      await build(5, { marked: [4] });
      await breakUtf8(path, [0xff]);
      const writer = await LedgerWriter.open({ path, service: 'svc', headPath: false });
      try {
        expect(writer.recovery).toMatchObject({ reason: 'invalid_line', afterSeq: 4 });
        expect(writer.stats.lastSeq).toBe(5);
      } finally {
        await writer.close();
      }
      expect(await verifyLedger(path, { headPath: false })).toMatchObject({ ok: true, lastSeq: 5, recoveries: 1 });
    });

    it('refuses such a line where its head names an entry (it is not the entry the head witnessed)', async () => {
      await build(6, { marked: [3] });
      // What a crash leaves: a head behind the ledger, at seq 4.
      const fourth = (await entries())[3];
      const behind = makeHead({ service: 'svc', seq: 4, hash: fourth.hash, ts: fourth.ts, closed: false }, null);
      await writeFile(`${path}.head`, encodeHead(behind));
      await breakUtf8(path, [0xff]);
      const open = LedgerWriter.open({ path, service: 'svc' });
      await expect(open).rejects.toThrow(LedgerHeadError);
      await expect(open).rejects.toThrow(
        /witnesses seq 4 with hash [0-9a-f]{64}, but the entry there is missing or invalid/,
      );
    });

    it('refuses to resume from a rotated file whose last line is such a line', async () => {
      await build(30, { rotateBytes: 1024, marked: Array.from({ length: 30 }, (_, i) => i) });
      const { rotated } = fileSetFromNames(path, await readdir(dir));
      const newest = rotated.at(-1)!.path;
      // The active file emptied: the chain resumes from the newest rotated file's last line.
      await writeFile(path, '');
      const lines = await entries(newest);
      await breakUtf8(newest, [0xff], lines.filter((e) => JSON.stringify(e).includes('\uFFFD')).length - 1);
      const open = LedgerWriter.open({ path, service: 'svc', headPath: false });
      await expect(open).rejects.toThrow(LedgerCorruptError);
      await expect(open).rejects.toThrow(/the last line of this rotated file is its bytes are not valid UTF-8/);
    });
  });

  it('a head file that is not UTF-8 is not a head', async () => {
    const headPath = join(dir, 'x.head');
    const head = makeHead(
      { service: 's\uFFFD', seq: 1, hash: 'a'.repeat(64), ts: '2026-01-01T00:00:00.000Z', closed: true },
      createSigner(hmac),
    );
    await writeFile(headPath, encodeHead(head));
    expect(await readLedgerHead(headPath)).toEqual({ kind: 'ok', head });
    await breakUtf8(headPath, [0xff]);
    expect(await readLedgerHead(headPath)).toEqual({
      kind: 'invalid',
      message: expect.stringMatching(/not valid UTF-8/),
    });
  });

  it('the audit page counts such a line as unreadable, both ways', async () => {
    await build(6);
    await breakUtf8(path, [0xff]);
    for (const order of ['asc', 'desc'] as const) {
      const page = await readAuditPage(path, { order, limit: 100 });
      expect(page.unreadable).toBe(1);
      expect(page.entries.map((e) => e.seq)).not.toContain(3);
    }
  });
});
