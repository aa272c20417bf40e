import { appendFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LedgerEntry } from './entry';
import { readAuditPage, type AuditQuery } from './reader';
import { LedgerWriter } from './writer';

const TYPES = ['policy.deny', 'ratelimit.denied', 'auth.failed'];

/** Every entry of the ledger, oldest first, straight from the files. */
async function allEntries(dir: string): Promise<LedgerEntry[]> {
  // The ledger files only (the head file beside them is not an entry).
  const names = (await readdir(dir))
    .filter((name) => name.endsWith('.jsonl'))
    .sort((a, b) => (a === 'ledger.jsonl' ? 1 : b === 'ledger.jsonl' ? -1 : a < b ? -1 : 1));
  const entries: LedgerEntry[] = [];
  for (const name of names) {
    const text = await readFile(join(dir, name), 'utf8');
    for (const line of text.split('\n')) if (line.startsWith('{')) entries.push(JSON.parse(line) as LedgerEntry);
  }
  return entries;
}

/** Follows `next` from `first` to the end and returns every entry seen. */
async function pageThrough(
  path: string,
  first: AuditQuery,
  budget?: number,
): Promise<{ seqs: number[]; pages: number }> {
  const seqs: number[] = [];
  let query: AuditQuery | null = first;
  let pages = 0;
  while (query !== null) {
    const page = await readAuditPage(path, query, budget);
    pages++;
    seqs.push(...page.entries.map((e) => e.seq));
    query = page.next === null ? null : { ...query, after: undefined, before: undefined, ...page.next };
    if (pages > 10_000) throw new Error('no end');
  }
  return { seqs, pages };
}

describe(readAuditPage.name, () => {
  let dir: string;
  let path: string;
  let entries: LedgerEntry[];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shieldx-audit-'));
    path = join(dir, 'ledger.jsonl');
    // Small files so the ledger spans several rotations; one entry far longer than a read chunk.
    const writer = await LedgerWriter.open({ path, service: 'test', rotateBytes: 40_000, batchMaxEntries: 64 });
    for (let i = 0; i < 1500; i++) {
      writer.enqueue({
        type: TYPES[i % 3],
        corrId: `c${i}`,
        data: { i, pad: i === 700 ? 'x'.repeat(150_000) : 'p'.repeat(i % 50) },
      });
    }
    await writer.close();
    entries = await allEntries(dir);
  });

  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('reads a ledger of several rotated files', async () => {
    expect((await readdir(dir)).length).toBeGreaterThan(10);
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 1500 }, (_, i) => i + 1));
  });

  it('gives the newest entries first without a cursor, then pages back to seq 1', async () => {
    const page = await readAuditPage(path, { limit: 3, order: 'desc' });
    expect(page.entries.map((e) => e.seq)).toEqual([1500, 1499, 1498]);
    expect(page.entries[0]).toEqual(entries[1499]);
    expect(page.next).toEqual({ before: 1498 });
    const { seqs } = await pageThrough(path, { limit: 97, order: 'desc' });
    expect(seqs).toEqual(entries.map((e) => e.seq).reverse());
  });

  it('pages oldest first from any seq, across rotations, with a binary search for the start', async () => {
    const page = await readAuditPage(path, { after: 699, limit: 2, order: 'asc' });
    expect(page.entries.map((e) => e.seq)).toEqual([700, 701]);
    expect(page.scanned).toBe(2);
    const { seqs } = await pageThrough(path, { after: 0, limit: 111, order: 'asc' });
    expect(seqs).toEqual(entries.map((e) => e.seq));
  });

  it('starts a newest-first page below `before`, reading only what it returns', async () => {
    const page = await readAuditPage(path, { before: 702, limit: 3, order: 'desc' });
    expect(page.entries.map((e) => e.seq)).toEqual([701, 700, 699]);
    expect(page.scanned).toBe(3);
  });

  it('filters by type, stopping at the scan budget with a cursor to continue', async () => {
    const wanted = entries.filter((e) => e.type === 'auth.failed').map((e) => e.seq);
    const asc = await pageThrough(path, { limit: 500, type: 'auth.failed', order: 'asc' }, 200);
    expect(asc.seqs).toEqual(wanted);
    expect(asc.pages).toBeGreaterThan(5);
    const desc = await pageThrough(path, { limit: 7, type: 'auth.failed', order: 'desc' });
    expect(desc.seqs).toEqual([...wanted].reverse());
  });

  it('leaves out a torn last line, and answers an empty page for a ledger that does not exist', async () => {
    await appendFile(path, '{"seq":1501,"ts":"2030-01-');
    const page = await readAuditPage(path, { limit: 2, order: 'desc' });
    expect(page.entries.map((e) => e.seq)).toEqual([1500, 1499]);
    const asc = await readAuditPage(path, { after: 1499, limit: 5, order: 'asc' });
    expect(asc.entries.map((e) => e.seq)).toEqual([1500]);
    expect(asc.next).toBeNull();
    const none = await readAuditPage(join(dir, 'missing', 'ledger.jsonl'), { limit: 5, order: 'desc' });
    expect(none).toMatchObject({ entries: [], next: null });
  });
});
