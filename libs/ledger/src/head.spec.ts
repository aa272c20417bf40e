import { appendFile, copyFile, mkdir, readdir, readFile, rename, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GENESIS_HASH, type LedgerEntry } from './entry';
import { LedgerHeadError } from './errors';
import { type LedgerFileSystem, nodeFileSystem } from './file-system';
import { encodeHead, type LedgerHead, makeHead, parseHead, readLedgerHead } from './head';
import { createSigner, type SigningKey, verificationKeyFor } from './signing';
import { editLine, ManualTimers, readLines, steppingClock, tempDir, writeLines } from './testing/helpers';
import { verifyLedger } from './verify';
import { LedgerWriter } from './writer';
import type { LedgerWriterOptions } from './writer-options';

const hmac: SigningKey = { kind: 'hmac', secret: 'a head secret of at least 16 bytes' };

describe(parseHead.name, () => {
  const position = { service: 'svc', seq: 12, hash: 'a'.repeat(64), ts: '2025-01-01T00:00:00.000Z', closed: true };

  it('reads back what makeHead and encodeHead write, signed or not', () => {
    for (const signer of [null, createSigner(hmac)]) {
      const head = makeHead(position, signer);
      expect(parseHead(encodeHead(head))).toEqual({ ok: true, head });
      expect(head.sig === null).toBe(signer === null);
    }
  });

  it.each([
    ['not JSON', '{"kind":'],
    ['another kind', encodeHead({ ...makeHead(position, null), kind: 'other' as 'ledger.head' })],
    ['a member missing', JSON.stringify({ kind: 'ledger.head', seq: 1 })],
    ['a negative seq', encodeHead({ ...makeHead(position, null), seq: -1 })],
    ['a signature without alg', encodeHead({ ...makeHead(position, null), sig: 'ab' })],
    ['members out of canonical order', JSON.stringify({ ...makeHead(position, null) })],
    ['a duplicate member', encodeHead(makeHead(position, null)).replace('{"alg"', '{"seq":99,"alg"')],
  ])('refuses %s', (_what, text) => {
    expect(parseHead(text)).toMatchObject({ ok: false });
  });

  it('reports a missing, an oversized and an invalid head file', async () => {
    const { dir, remove } = await tempDir();
    try {
      expect(await readLedgerHead(join(dir, 'none.head'))).toEqual({ kind: 'missing' });
      await writeFile(join(dir, 'big.head'), 'x'.repeat(5000));
      expect(await readLedgerHead(join(dir, 'big.head'))).toMatchObject({ kind: 'invalid' });
      await writeFile(join(dir, 'bad.head'), '[]\n');
      expect(await readLedgerHead(join(dir, 'bad.head'))).toMatchObject({ kind: 'invalid' });
    } finally {
      await remove();
    }
  });
});

describe(`${LedgerWriter.name} head and checkpoints`, () => {
  let dir: string;
  let remove: () => Promise<void>;
  let path: string;
  let headPath: string;
  const writers: LedgerWriter[] = [];

  beforeEach(async () => {
    ({ dir, remove } = await tempDir());
    path = join(dir, 'ledger.jsonl');
    headPath = `${path}.head`;
  });

  afterEach(async () => {
    await Promise.allSettled(writers.splice(0).map((w) => w.close()));
    await remove();
  });

  async function open(options: Partial<LedgerWriterOptions> = {}): Promise<LedgerWriter> {
    const writer = await LedgerWriter.open({ path, service: 'svc', clock: steppingClock(), ...options });
    writers.push(writer);
    return writer;
  }

  async function close(writer: LedgerWriter): Promise<void> {
    writers.splice(writers.indexOf(writer), 1);
    await writer.close();
  }

  async function head(file = headPath): Promise<LedgerHead> {
    const found = await readLedgerHead(file);
    if (found.kind !== 'ok') throw new Error(`no head at ${file}: ${JSON.stringify(found)}`);
    return found.head;
  }

  const entries = async (file = path) => (await readLines(file)).map((line) => JSON.parse(line) as LedgerEntry);

  /** What a crash leaves: the files as they are on disk now, in a directory of their own. */
  async function crashCopy(): Promise<string> {
    const copy = join(dir, 'crashed');
    await mkdir(copy);
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.isFile()) await copyFile(join(dir, entry.name), join(copy, entry.name));
    }
    return join(copy, 'ledger.jsonl');
  }

  it('writes the head at open and closed at close, never once per checkpoint interval', async () => {
    const writer = await open({ checkpointEvery: 5, headIntervalMs: 0, batchMaxEntries: 3 });
    expect(writer.headCheck).toEqual({ path: headPath, status: 'missing', head: null });
    expect(await head()).toMatchObject({ seq: 0, closed: false, alg: null, sig: null, service: 'svc' });
    for (let i = 0; i < 7; i++) writer.enqueue({ type: 'e', data: { i } });
    await writer.flush();
    // Three durable batches, seq 5 among them: no head write (each costs two fsyncs), the interval being off.
    expect(await head()).toMatchObject({ seq: 0 });
    await close(writer);
    expect(await head()).toMatchObject({ seq: 7, hash: (await entries())[6].hash, closed: true });
  });

  it('writes a lagging head from a timer when traffic stops, never naming an entry not yet durable', async () => {
    const timers = new ManualTimers();
    const writer = await open({ timers, headIntervalMs: 60_000 });
    writer.enqueue({ type: 'a' });
    writer.enqueue({ type: 'b' });
    expect((await head()).seq).toBe(0);
    await writer.flush();
    expect((await head()).seq).toBe(0);
    expect(writer.stats.headSeq).toBe(0);
    expect(timers.delays).toHaveLength(1);
    timers.fireAll();
    await vi.waitFor(() => expect(writer.stats.headSeq).toBe(2));
    expect(await head()).toMatchObject({ seq: 2, hash: writer.stats.syncedHash });
  });

  it('refuses to open a ledger shorter than its head, and changes nothing on disk', async () => {
    const writer = await open();
    for (let i = 0; i < 10; i++) writer.enqueue({ type: 'e', data: { i } });
    await close(writer);
    const lines = await readLines(path);
    await writeLines(path, lines.slice(0, 7));
    const before = await readFile(path);
    await expect(open()).rejects.toThrow(LedgerHeadError);
    await expect(open()).rejects.toThrow(/ends at seq 7, but its head .* witnesses seq 10: seq 8\.\.10 removed/);
    expect(await readFile(path)).toEqual(before);
    expect(await head()).toMatchObject({ seq: 10, closed: true });
    expect(await verifyLedger(path)).toMatchObject({ ok: false, reason: 'truncated', seq: 8 });
    // The operator's way out: move the head aside; the open says so.
    await rename(headPath, `${headPath}.aside`);
    const accepted = await open();
    expect(accepted.headCheck.status).toBe('missing');
  });

  it('refuses, without cutting it, a changed last line the head witnessed', async () => {
    const writer = await open();
    for (let i = 0; i < 3; i++) writer.enqueue({ type: 'e', data: { i } });
    await close(writer);
    const lines = await readLines(path);
    lines[2] = lines[2].replace('"i":2', '"i":9');
    await writeLines(path, lines);
    await expect(open()).rejects.toThrow(/ends at seq 2 once its invalid last line is cut, but its head/);
    expect(await readLines(path)).toEqual(lines);
  });

  it('refuses a re-hashed chain (the entry at the head seq has another hash)', async () => {
    const writer = await open();
    for (let i = 0; i < 6; i++) writer.enqueue({ type: 'e', data: { i } });
    await close(writer);
    // A careful forger: one entry changed, every hash after it recomputed (no key, so no checkpoint to stop it).
    const forged: string[] = [];
    for (const [i, line] of (await readLines(path)).entries()) {
      const prevHash = i === 0 ? GENESIS_HASH : (JSON.parse(forged[i - 1]) as LedgerEntry).hash;
      forged.push(
        editLine(
          line,
          (e) => {
            if (i === 2) e.data = { i: 'forged' };
            e.prevHash = prevHash;
          },
          true,
        ),
      );
    }
    await writeLines(path, forged);
    expect(await verifyLedger(path, { headPath: false })).toMatchObject({ ok: true });
    await expect(open()).rejects.toThrow(/witnesses seq 6 with hash .* but the entry there has hash/);
    expect(await verifyLedger(path)).toMatchObject({ ok: false, reason: 'head_mismatch', seq: 6 });
  });

  it('refuses entries appended after a clean close; finds the head entry in a rotated file', async () => {
    const writer = await open({ rotateBytes: 600 });
    for (let i = 0; i < 5; i++) writer.enqueue({ type: 'e', data: { i } });
    await close(writer);
    // Something else appends (here: a writer told not to keep the head).
    const other = await open({ headPath: false, rotateBytes: 600 });
    other.enqueue({ type: 'forged' });
    await close(other);
    await expect(open({ rotateBytes: 600 })).rejects.toThrow(/seq 6\.\.6 were appended after the writer closed it/);
    // A head that is not closed, several entries back and across a rotation, matches.
    const written = await head();
    await writeFile(headPath, encodeHead({ ...written, closed: false }));
    const reopened = await open({ rotateBytes: 600 });
    expect(reopened.headCheck).toMatchObject({ status: 'matched', head: { seq: 5 } });
    expect(await verifyLedger(path)).toMatchObject({ ok: true, head: { seq: 6 } });
  });

  it('refuses a head signed with another key, and an invalid head file', async () => {
    const writer = await open({ signingKey: hmac });
    writer.enqueue({ type: 'e' });
    await close(writer);
    const other: SigningKey = { kind: 'hmac', secret: 'another secret of 16+ bytes' };
    await expect(open({ signingKey: other })).rejects.toThrow(/signature does not verify/);
    await writeFile(headPath, 'garbage\n');
    await expect(open({ signingKey: hmac })).rejects.toThrow(/is not a head/);
  });

  it('with a key: a checkpoint at close, and first thing after a crash (before ledger.recovered)', async () => {
    const writer = await open({ signingKey: hmac, checkpointEvery: 4 });
    for (let i = 0; i < 6; i++) writer.enqueue({ type: 'e', data: { i } });
    await writer.flush();
    const crashed = await crashCopy();
    await appendFile(crashed, '{"seq":8,"ts":');
    await close(writer);
    // Entries 1..4, checkpoint 5, entries 6..7, the checkpoint close appends.
    expect((await entries()).map((e) => e.type)).toEqual([
      'e',
      'e',
      'e',
      'e',
      'ledger.checkpoint',
      'e',
      'e',
      'ledger.checkpoint',
    ]);
    const key = verificationKeyFor(hmac);
    expect(await verifyLedger(path, { key, checkpointEvery: 4 })).toMatchObject({
      ok: true,
      checkpoints: 2,
      head: { seq: 8, closed: true, signed: true },
    });

    const resumed = await LedgerWriter.open({ path: crashed, service: 'svc', signingKey: hmac, checkpointEvery: 4 });
    expect(resumed.headCheck.status).toBe('matched');
    resumed.enqueue({ type: 'after' });
    await resumed.close();
    const after = await entries(crashed);
    expect(after.slice(7).map((e) => [e.seq, e.type])).toEqual([
      [8, 'ledger.checkpoint'],
      [9, 'ledger.recovered'],
      [10, 'after'],
      [11, 'ledger.checkpoint'],
    ]);
    expect(after[7].data).toMatchObject({ uptoSeq: 7 });
    expect(await verifyLedger(crashed, { key, checkpointEvery: 4 })).toMatchObject({ ok: true, recoveries: 1 });
  });

  it('with a key: a ledger shorter than the interval verifies running, crashed and closed', async () => {
    const key = verificationKeyFor(hmac);
    const writer = await open({ signingKey: hmac });
    for (let i = 0; i < 5; i++) writer.enqueue({ type: 'e', data: { i } });
    await writer.flush();
    expect(await verifyLedger(path, { key, expectHead: { seq: 5, hash: writer.stats.syncedHash } })).toMatchObject({
      ok: true,
      entries: 5,
      checkpoints: 0,
    });
    const crashed = await crashCopy();
    // Its head names seq 0 (written at open) or 5 (the 1 s head timer): either way reached and signed.
    expect(await verifyLedger(crashed, { key })).toMatchObject({ ok: true, head: { signed: true } });
    await close(writer);
    expect(await verifyLedger(path, { key })).toMatchObject({ ok: true, entries: 6, checkpoints: 1 });
  });

  it('with a key: rotated files and a reopen verify with the key and the head', async () => {
    const key = verificationKeyFor(hmac);
    for (let round = 0; round < 3; round++) {
      const writer = await open({ signingKey: hmac, checkpointEvery: 7, rotateBytes: 2048 });
      for (let i = 0; i < 20; i++) writer.enqueue({ type: 'e', data: { round, i } });
      await close(writer);
    }
    const result = await verifyLedger(path, { key, checkpointEvery: 7 });
    expect(result).toMatchObject({ ok: true, signaturesChecked: true, head: { closed: true, signed: true } });
    if (result.ok) expect(result.files.length).toBeGreaterThan(3);
  });

  it('a head file elsewhere (headPath), or none (false)', async () => {
    const elsewhere = join(dir, 'witness', 'ledger.head');
    const writer = await open({ headPath: elsewhere });
    writer.enqueue({ type: 'e' });
    await close(writer);
    expect(await head(elsewhere)).toMatchObject({ seq: 1, closed: true });
    expect(await readLedgerHead(headPath)).toEqual({ kind: 'missing' });
    expect(await verifyLedger(path, { headPath: elsewhere })).toMatchObject({ ok: true, head: { seq: 1 } });
    expect(await verifyLedger(path)).toMatchObject({ ok: true, head: null, headMissing: headPath });
    const none = await open({ headPath: false });
    expect(none.headCheck).toEqual({ path: null, status: 'disabled', head: null });
  });

  it('a head write that fails stops the writer like any write failure', async () => {
    const failing: LedgerFileSystem = {
      ...nodeFileSystem,
      replaceFile: () => Promise.reject(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' })),
    };
    await expect(open({ fileSystem: failing })).rejects.toThrow(/EIO/);
    const errors: Error[] = [];
    let fail = false;
    const later: LedgerFileSystem = {
      ...nodeFileSystem,
      replaceFile: (file, data) => (fail ? failing.replaceFile(file, data) : nodeFileSystem.replaceFile(file, data)),
    };
    const timers = new ManualTimers();
    const writer = await open({ fileSystem: later, timers, onError: (e) => errors.push(e) });
    fail = true;
    writer.enqueue({ type: 'a' });
    writer.enqueue({ type: 'b' });
    await writer.flush();
    // The head lags the disk: the interval's timer writes it, and that write fails.
    timers.fireAll();
    await vi.waitFor(() => expect(errors).toHaveLength(1));
    expect(() => writer.enqueue({ type: 'c' })).toThrow(/EIO/);
  });

  it('an empty ledger with a head from a ledger since removed is refused (remove both, or neither)', async () => {
    const writer = await open();
    writer.enqueue({ type: 'e' });
    await close(writer);
    await truncate(path, 0);
    await expect(open()).rejects.toThrow(/ends at seq 0, but its head/);
  });
});
