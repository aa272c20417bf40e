import { appendFile, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GENESIS_HASH, hashEntry, type LedgerEntry } from './entry';
import { LedgerClosedError, LedgerCorruptError, LedgerError, LedgerWriteError } from './errors';
import {
  countingFileSystem,
  diskFullAfter,
  ManualTimers,
  readLines,
  steppingClock,
  tempDir,
  writeLines,
} from './testing/helpers';
import { verifyLedger } from './verify';
import { LedgerWriter } from './writer';
import type { LedgerWriterOptions } from './writer-options';

describe(LedgerWriter.name, () => {
  let dir: string;
  let remove: () => Promise<void>;
  let path: string;
  const writers: LedgerWriter[] = [];

  beforeEach(async () => {
    ({ dir, remove } = await tempDir());
    path = join(dir, 'ledger.jsonl');
  });

  afterEach(async () => {
    await Promise.allSettled(writers.splice(0).map((w) => w.close()));
    await remove();
  });

  async function open(options: Partial<LedgerWriterOptions> = {}): Promise<LedgerWriter> {
    const writer = await LedgerWriter.open({ path, service: 'test', clock: steppingClock(), ...options });
    writers.push(writer);
    return writer;
  }

  const parse = (line: string) => JSON.parse(line) as LedgerEntry;
  /** The ledger files in the directory (its head file beside them left out), sorted. */
  const ledgerFiles = async () => (await readdir(dir)).filter((name) => name.endsWith('.jsonl')).sort();

  it('appends chained entries as docs/ledger.md describes and resolves once they are durable', async () => {
    const writer = await open();
    const first = await writer.append({ type: 'policy.deny', corrId: 'c-1', data: { route: '/a' } });
    const second = await writer.append({ type: 'admin.action', data: { who: 'ops' } });
    expect(first).toEqual({
      seq: 1,
      ts: '2025-01-01T00:00:00.000Z',
      service: 'test',
      type: 'policy.deny',
      corrId: 'c-1',
      data: { route: '/a' },
      prevHash: GENESIS_HASH,
      hash: hashEntry(first),
    });
    expect(second).toMatchObject({ seq: 2, corrId: null, prevHash: first.hash, ts: '2025-01-01T00:00:00.001Z' });
    const lines = await readLines(path);
    expect(lines.map(parse)).toEqual([first, second]);
    expect(Object.keys(parse(lines[0]))).toEqual([
      'seq',
      'ts',
      'service',
      'type',
      'corrId',
      'data',
      'prevHash',
      'hash',
    ]);
    expect(writer.stats).toMatchObject({ lastSeq: 2, syncedSeq: 2, pendingEntries: 0, lastHash: second.hash });
  });

  it('group commit: a burst of appends costs one write and one fsync per batch', async () => {
    const { fs, counts } = countingFileSystem();
    const writer = await open({ fileSystem: fs, batchMaxEntries: 100 });
    const before = { ...counts };
    const appended = Array.from({ length: 1000 }, (_, i) => writer.append({ type: 'burst', data: { i } }));
    const entries = await Promise.all(appended);
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    expect(counts.syncs - before.syncs).toBe(10);
    expect(counts.appends - before.appends).toBe(10);
    expect(writer.stats.batchesWritten).toBe(10);
  });

  it('writes a partial batch after batchIntervalMs, not before', async () => {
    const timers = new ManualTimers();
    const writer = await open({ timers, batchIntervalMs: 25 });
    const seq = writer.enqueue({ type: 'one' });
    writer.enqueue({ type: 'two' });
    expect(seq).toBe(1);
    expect(timers.delays).toEqual([25]);
    expect(writer.stats).toMatchObject({ pendingEntries: 2, batchesWritten: 0 });
    expect(await readFile(path, 'utf8')).toBe('');
    timers.fireAll();
    await writer.flush();
    expect(writer.stats).toMatchObject({ pendingEntries: 0, batchesWritten: 1, syncedSeq: 2 });
    expect(await readLines(path)).toHaveLength(2);
  });

  it('resumes seq and prevHash after reopening', async () => {
    const first = await open();
    await first.append({ type: 'a' });
    const last = await first.append({ type: 'b' });
    await first.close();
    const second = await open();
    expect(second.recovery).toBeNull();
    const next = await second.append({ type: 'c' });
    expect(next).toMatchObject({ seq: 3, prevHash: last.hash });
    await second.close();
    expect(await verifyLedger(path)).toMatchObject({ ok: true, entries: 3, lastSeq: 3 });
  });

  it('cuts a torn last line on open, records it in ledger.recovered and continues the chain', async () => {
    const writer = await open();
    for (let i = 0; i < 5; i++) writer.enqueue({ type: 'e', data: { i } });
    await writer.close();
    const good = await readLines(path);
    const half = good[2].slice(0, 40);
    await appendFile(path, half);
    expect(await verifyLedger(path)).toMatchObject({ ok: true, entries: 5, tornTail: { bytes: 40 } });

    const reopened = await open();
    expect(reopened.recovery).toMatchObject({
      file: 'ledger.jsonl',
      reason: 'torn_line',
      truncatedBytes: 40,
      afterSeq: 5,
    });
    const next = await reopened.append({ type: 'after' });
    expect(next.seq).toBe(7);
    await reopened.close();

    const lines = (await readLines(path)).map(parse);
    expect(lines.slice(0, 5).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(lines[5]).toMatchObject({
      seq: 6,
      type: 'ledger.recovered',
      data: { reason: 'torn_line', truncatedBytes: 40, afterSeq: 5, file: 'ledger.jsonl' },
      prevHash: lines[4].hash,
    });
    expect(await verifyLedger(path)).toMatchObject({ ok: true, entries: 7, recoveries: 1, tornTail: null });
  });

  it('cuts a complete but invalid last line (changed after the crash) the same way', async () => {
    // No head witnessed the line (as after a crash before any head write): see head.spec for a witnessed one.
    const writer = await open({ headPath: false });
    for (let i = 0; i < 3; i++) writer.enqueue({ type: 'e', data: { i } });
    await writer.close();
    const lines = await readLines(path);
    lines[2] = lines[2].replace('"i":2', '"i":9');
    await writeLines(path, lines);
    const reopened = await open();
    expect(reopened.recovery).toMatchObject({ reason: 'invalid_line', afterSeq: 2 });
    await reopened.close();
    expect(await verifyLedger(path)).toMatchObject({ ok: true, entries: 3, recoveries: 1 });
  });

  it('refuses to resume when the line before a cut one is bad too', async () => {
    const writer = await open();
    for (let i = 0; i < 3; i++) writer.enqueue({ type: 'e', data: { i } });
    await writer.close();
    const lines = await readLines(path);
    lines[2] = lines[2].replace('"i":2', '"i":7');
    await writeFile(path, `${lines.join('\n')}\n{"seq":4,`);
    await expect(open()).rejects.toBeInstanceOf(LedgerCorruptError);
    // The failed open released the file: a later open is refused for the same reason, not as "locked".
    await expect(open()).rejects.toMatchObject({ code: 'corrupt' });
  });

  it('rotates by size across 3 files, each first entry linking to the last hash of the file before', async () => {
    // Each entry is 322 bytes, so 12 fit in 4096 bytes: 30 entries make 12 + 12 + 6.
    const writer = await open({ rotateBytes: 4096, batchMaxEntries: 7 });
    for (let i = 0; i < 30; i++) writer.enqueue({ type: 'e', data: { i, pad: 'x'.repeat(60) } });
    await writer.close();
    const names = ['ledger.000001.jsonl', 'ledger.000002.jsonl', 'ledger.jsonl'];
    expect(await ledgerFiles()).toEqual(names);
    const files = await Promise.all(
      names.map(async (name) => ({
        size: (await readFile(join(dir, name))).length,
        entries: (await readLines(join(dir, name))).map(parse),
      })),
    );
    expect(files.map((f) => f.entries.length)).toEqual([12, 12, 6]);
    for (const file of files) expect(file.size).toBeLessThanOrEqual(4096);
    for (let n = 1; n < files.length; n++) {
      expect(files[n].entries[0].prevHash).toBe(files[n - 1].entries.at(-1)!.hash);
      expect(files[n].entries[0].seq).toBe(files[n - 1].entries.at(-1)!.seq + 1);
    }
    expect(writer.stats.rotations).toBe(2);
    expect(await verifyLedger(path)).toMatchObject({
      ok: true,
      entries: 30,
      lastSeq: 30,
      files: names.map((name) => join(dir, name)),
    });
    expect(await verifyLedger(dir)).toMatchObject({ ok: true, entries: 30 });

    const reopened = await open({ rotateBytes: 4096 });
    expect((await reopened.append({ type: 'e', data: { i: 30, pad: 'y'.repeat(60) } })).seq).toBe(31);
    for (let i = 31; i < 40; i++) reopened.enqueue({ type: 'e', data: { i, pad: 'y'.repeat(60) } });
    await reopened.close();
    expect(await ledgerFiles()).toEqual([
      'ledger.000001.jsonl',
      'ledger.000002.jsonl',
      'ledger.000003.jsonl',
      'ledger.jsonl',
    ]);
    expect(await verifyLedger(path)).toMatchObject({ ok: true, entries: 40 });
  });

  it('resumes from the newest rotated file when a crash left no active file', async () => {
    const writer = await open({ rotateBytes: 2048 });
    for (let i = 0; i < 30; i++) writer.enqueue({ type: 'e', data: { i, pad: 'x'.repeat(60) } });
    await writer.close();
    const { rename } = await import('node:fs/promises');
    const rotated = (await ledgerFiles()).filter((n) => n !== 'ledger.jsonl');
    const lastIndex = Number(/\.(\d+)\./.exec(rotated.at(-1)!)![1]);
    const lastSeq = (await verifyLedger(path)).ok ? 30 : -1;
    await rename(path, join(dir, `ledger.${String(lastIndex + 1).padStart(6, '0')}.jsonl`));
    const reopened = await open({ rotateBytes: 2048 });
    expect((await reopened.append({ type: 'after' })).seq).toBe(lastSeq + 1);
    await reopened.close();
    expect(await verifyLedger(path)).toMatchObject({ ok: true, entries: 31 });
  });

  it('an entry larger than rotateBytes gets a file of its own', async () => {
    const writer = await open({ rotateBytes: 512 });
    writer.enqueue({ type: 'small' });
    writer.enqueue({ type: 'big', data: { pad: 'z'.repeat(2000) } });
    writer.enqueue({ type: 'small' });
    await writer.close();
    expect(await ledgerFiles()).toEqual(['ledger.000001.jsonl', 'ledger.000002.jsonl', 'ledger.jsonl']);
    expect(await verifyLedger(path)).toMatchObject({ ok: true, entries: 3 });
  });

  it('is fail-stop on an I/O error, and unawaited appends cannot cause an unhandled rejection', async () => {
    const errors: LedgerError[] = [];
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const writer = await open({ fileSystem: diskFullAfter(1), batchMaxEntries: 2, onError: (e) => errors.push(e) });
      await writer.append({ type: 'ok' });
      void writer.append({ type: 'lost-1' });
      void writer.append({ type: 'lost-2' });
      await expect(writer.flush()).rejects.toBeInstanceOf(LedgerWriteError);
      expect(errors).toHaveLength(1);
      expect(writer.stats.lastError).toBe(errors[0]);
      expect(writer.stats.lastError?.message).toMatch(/ENOSPC/);
      expect(() => writer.enqueue({ type: 'later' })).toThrow(LedgerWriteError);
      await expect(writer.close()).rejects.toBeInstanceOf(LedgerWriteError);
      // Give any stray rejection the chance to surface: 'unhandledRejection' fires after the microtask queue drains.
      await new Promise<void>((done) => setImmediate(done));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(await verifyLedger(path)).toMatchObject({ ok: true, entries: 1 });
  });

  it('refuses bad input synchronously and appends nothing', async () => {
    const writer = await open();
    expect(() => writer.enqueue({ type: '' })).toThrow(LedgerError);
    expect(() => writer.enqueue({ type: 'ledger.checkpoint' })).toThrow(/reserved/);
    expect(() => writer.enqueue({ type: 'x', data: { n: Number.NaN } })).toThrow(/non-finite/);
    expect(() => writer.append({ type: 'x', corrId: 5 as unknown as string })).toThrow(/corrId/);
    expect(writer.stats.lastSeq).toBe(0);
  });

  it('rejects bad options naming them, a second writer on the same file, and use after close', async () => {
    await expect(open({ batchMaxEntries: 0 })).rejects.toThrow(/batchMaxEntries must be an integer >= 1, got 0/);
    await expect(open({ rotateBytes: -1 })).rejects.toThrow(/rotateBytes/);
    await expect(open({ batchIntervalMs: Number.NaN })).rejects.toThrow(/batchIntervalMs/);
    await expect(open({ service: '' })).rejects.toThrow(/service/);
    await expect(open({ path: join(dir, 'x.000001.jsonl') })).rejects.toThrow(/looks like a rotated file/);
    await expect(open({ signingKey: { kind: 'hmac', secret: 'short' } })).rejects.toThrow(/at least 16 bytes/);
    const writer = await open();
    await expect(open()).rejects.toMatchObject({ code: 'locked' });
    await writer.close();
    await writer.close();
    expect(() => writer.enqueue({ type: 'x' })).toThrow(LedgerClosedError);
    const again = await open();
    expect(again.stats.lastSeq).toBe(0);
  });

  it('creates a missing directory', async () => {
    path = join(dir, 'a', 'b', 'ledger.jsonl');
    const writer = await open();
    await writer.append({ type: 'x' });
    await writer.close();
    expect(await verifyLedger(path)).toMatchObject({ ok: true, entries: 1 });
  });

  it('appends 100k entries with enqueue + flush and verifies them', async () => {
    const writer = await open({ rotateBytes: 0 });
    const started = performance.now();
    for (let i = 0; i < 100_000; i++) {
      writer.enqueue({ type: 'route.allow', corrId: `c-${i}`, data: { i, route: '/api/items', backend: 'b1' } });
    }
    await writer.flush();
    const written = performance.now() - started;
    expect(writer.stats).toMatchObject({ lastSeq: 100_000, syncedSeq: 100_000, pendingEntries: 0 });
    expect(writer.stats.batchesWritten).toBe(Math.ceil(100_000 / 256));
    await writer.close();
    const result = await verifyLedger(path);
    const total = performance.now() - started;
    expect(result).toMatchObject({ ok: true, entries: 100_000, firstSeq: 1, lastSeq: 100_000 });
    expect(total).toBeLessThan(10_000);
    expect(written).toBeLessThan(10_000);
  }, 30_000);
});
