import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GENESIS_HASH, type LedgerEntry } from './entry';
import { encodeHead, type LedgerHead, makeHead, readLedgerHead } from './head';
import { createSigner, type SigningKey, verificationKeyFor } from './signing';
import { editLine, readLines, steppingClock, tempDir, writeLines } from './testing/helpers';
import { formatVerifyResult, type VerifyFailure, type VerifyOptions, verifyLedger } from './verify';
import { LedgerWriter } from './writer';

const hmac: SigningKey = { kind: 'hmac', secret: 'the tamper test secret, 32 bytes' };
const key = verificationKeyFor(hmac);

/** Re-chains `lines` from the first one on (each prevHash the hash before, each hash recomputed): what a forger does. */
function rechain(lines: readonly string[]): string[] {
  const out: string[] = [];
  for (const line of lines) {
    const prevHash = out.length === 0 ? GENESIS_HASH : (JSON.parse(out.at(-1)!) as LedgerEntry).hash;
    out.push(
      editLine(
        line,
        (e) => {
          e.seq = out.length + 1;
          e.prevHash = prevHash;
        },
        true,
      ),
    );
  }
  return out;
}

describe(`${verifyLedger.name} against tampering`, () => {
  let dir: string;
  let remove: () => Promise<void>;
  let path: string;
  let headPath: string;

  beforeEach(async () => {
    ({ dir, remove } = await tempDir());
    path = join(dir, 'ledger.jsonl');
    headPath = `${path}.head`;
  });

  afterEach(() => remove());

  async function build(count: number, options: { signed?: boolean; checkpointEvery?: number } = {}): Promise<void> {
    const writer = await LedgerWriter.open({
      path,
      service: 'svc',
      clock: steppingClock(),
      checkpointEvery: options.checkpointEvery ?? 10,
      ...(options.signed === true ? { signingKey: hmac } : {}),
    });
    for (let i = 0; i < count; i++) writer.enqueue({ type: 'e', corrId: `c${i}`, data: { i, n: 1.5, s: 'x' } });
    await writer.close();
  }

  async function failure(options: VerifyOptions = {}): Promise<VerifyFailure> {
    const result = await verifyLedger(path, options);
    if (result.ok) throw new Error(`expected a failure, got ${formatVerifyResult(result)}`);
    return result;
  }

  async function head(): Promise<LedgerHead> {
    const found = await readLedgerHead(headPath);
    if (found.kind !== 'ok') throw new Error('no head');
    return found.head;
  }

  describe('lines that are not byte for byte canonical', () => {
    beforeEach(() => build(8));

    it('a duplicate member placed before the real one → non_canonical at its seq, even with a matching hash', async () => {
      const lines = await readLines(path);
      // JSON.parse keeps the last "data", so the hash still matches; a reader keeping the first sees "evil".
      lines[4] = lines[4].replace('"data":', '"data":{"evil":true},"data":');
      await writeLines(path, lines);
      const result = await failure();
      expect(result).toMatchObject({ reason: 'non_canonical', seq: 5, line: 5 });
      expect(result.message).toMatch(/duplicate member/);
    });

    it('a carriage return anywhere (CRLF line ends, or a lone \\r) fails the line where it stands', async () => {
      for (const change of [(l: string) => `${l}\r`, (l: string) => l.replace('"type":', '\r"type":')]) {
        const lines = await readLines(path);
        lines[1] = change(lines[1]);
        await writeLines(path, lines);
        const result = await failure();
        expect(result).toMatchObject({ seq: 2, line: 2 });
        expect(['unparsable', 'non_canonical']).toContain(result.reason);
        await build(8);
      }
    });

    it('a number beyond 2^53 → malformed (unsafe number), even re-hashed', async () => {
      const lines = await readLines(path);
      lines[2] = lines[2].replace('"i":2', '"i":9007199254740993');
      await writeLines(path, lines);
      expect(await failure()).toMatchObject({
        reason: 'malformed',
        seq: 3,
        message: expect.stringMatching(/unsafe number/) as unknown,
      });
      // A forger recomputing the hash over what JavaScript reads (9007199254740992) gets no further.
      lines[2] = editLine(lines[2], () => undefined, true);
      await writeLines(path, lines);
      expect(await failure()).toMatchObject({ reason: 'malformed', seq: 3 });
    });

    it.each([
      ['whitespace', (l: string) => l.replace('"type":"e"', '"type": "e"')],
      ['another spelling of a number', (l: string) => l.replace('"n":1.5', '"n":1.50')],
      ['an escaped character', (l: string) => l.replace('"s":"x"', '"s":"\\u0078"')],
      ['members in another order', (l: string) => l.replace(/^\{"seq":(\d+),"ts":("[^"]+")/, '{"ts":$2,"seq":$1')],
    ])('%s → non_canonical', async (_what, change) => {
      const lines = await readLines(path);
      lines[5] = change(lines[5]);
      await writeLines(path, lines);
      expect(await failure()).toMatchObject({ reason: 'non_canonical', seq: 6, line: 6 });
    });
  });

  describe('the newest entries removed', () => {
    it('after a clean close → truncated at the first missing seq (the head witnesses the last one)', async () => {
      await build(12);
      await writeLines(path, (await readLines(path)).slice(0, 9));
      const result = await failure();
      expect(result).toMatchObject({ reason: 'truncated', seq: 10, entriesVerified: 9 });
      expect(result.message).toMatch(/ends at seq 9, but the head .* is seq 12: seq 10\.\.12 removed/);
      expect(formatVerifyResult(result)).toMatch(/^ledger BROKEN at seq 10: truncated\n/);
      // Without the head (a copy without it) nothing shows: what the head is for.
      expect(await verifyLedger(path, { headPath: false })).toMatchObject({ ok: true, lastSeq: 9 });
    });

    it("against the running writer's own durable position (expectHead)", async () => {
      await build(6);
      const lines = await readLines(path);
      const last = JSON.parse(lines[5]) as LedgerEntry;
      await writeLines(path, lines.slice(0, 5));
      expect(await failure({ expectHead: { seq: 6, hash: last.hash } })).toMatchObject({ reason: 'truncated', seq: 6 });
    });

    it('with a key, the head file removed too → no_head; without a key a note', async () => {
      await build(12, { signed: true });
      await writeLines(path, (await readLines(path)).slice(0, 5));
      await rm(headPath);
      expect(await failure({ key })).toMatchObject({ reason: 'no_head', seq: null });
      const ok = await verifyLedger(path);
      expect(ok).toMatchObject({ ok: true, headMissing: headPath, head: null });
      expect(formatVerifyResult(ok)).toMatch(
        /note: no head file at .*: removing the newest entries cannot be detected/,
      );
    });

    it('with a key, an unsigned or forged head → bad_head', async () => {
      await build(12, { signed: true });
      const written = await head();
      await writeLines(path, (await readLines(path)).slice(0, 5));
      const five = JSON.parse((await readLines(path))[4]) as LedgerEntry;
      const forged = { service: 'svc', seq: 5, hash: five.hash, ts: written.ts, closed: true };
      await writeFile(headPath, encodeHead(makeHead(forged, null)));
      expect(await failure({ key })).toMatchObject({
        reason: 'bad_head',
        message: expect.stringMatching(/not signed/) as unknown,
      });
      await writeFile(headPath, encodeHead({ ...makeHead(forged, createSigner(hmac)), sig: '00'.repeat(32) }));
      expect(await failure({ key })).toMatchObject({ reason: 'bad_head' });
      await writeFile(headPath, 'not a head\n');
      expect(await failure()).toMatchObject({ reason: 'bad_head' });
    });
  });

  describe('checkpoints removed and the chain re-hashed (with a key)', () => {
    it('every checkpoint stripped → missing_checkpoint, and the head no longer matches', async () => {
      await build(25, { signed: true });
      const stripped = rechain((await readLines(path)).filter((line) => !line.includes('"type":"ledger.checkpoint"')));
      await writeLines(path, stripped);
      // The head alone shows it (the closing checkpoint it names is gone)...
      expect(await failure({ key, checkpointEvery: 0 })).toMatchObject({ reason: 'truncated' });
      // ...and without the head, the missing checkpoints do.
      const result = await failure({ key, checkpointEvery: 10, headPath: false });
      expect(result).toMatchObject({ reason: 'missing_checkpoint', seq: 11 });
      expect(result.message).toMatch(/25 entries and no signed checkpoint/);
      // Without a key nothing can tell a stripped ledger from one written without a key.
      expect(await verifyLedger(path, { headPath: false })).toMatchObject({ ok: true, checkpoints: 0 });
    });

    it('the checkpoints after the first stripped → missing_checkpoint where the gap exceeds the interval', async () => {
      await build(35, { signed: true });
      const lines = await readLines(path);
      const firstCheckpoint = lines.findIndex((line) => line.includes('"type":"ledger.checkpoint"'));
      const rest = lines.slice(firstCheckpoint + 1).filter((line) => !line.includes('"type":"ledger.checkpoint"'));
      await writeLines(path, rechain([...lines.slice(0, firstCheckpoint + 1), ...rest]));
      expect(await failure({ key, checkpointEvery: 10, headPath: false })).toMatchObject({
        reason: 'missing_checkpoint',
        seq: 22,
        message: expect.stringMatching(/11 entries follow the checkpoint at seq 11/) as unknown,
      });
    });

    it('a ledger closed cleanly (closed head) whose last entry is not a checkpoint → missing_checkpoint', async () => {
      await build(5, { signed: true });
      const lines = (await readLines(path)).slice(0, 5);
      await writeLines(path, lines);
      const last = JSON.parse(lines[4]) as LedgerEntry;
      const position = { service: 'svc', seq: 5, hash: last.hash, ts: (await head()).ts, closed: true };
      await writeFile(headPath, encodeHead(makeHead(position, createSigner(hmac))));
      expect(await failure({ key })).toMatchObject({ reason: 'missing_checkpoint', seq: 5 });
      // Not closed: a running (or crashed) writer has not written it yet.
      await writeFile(headPath, encodeHead(makeHead({ ...position, closed: false }, createSigner(hmac))));
      expect(await verifyLedger(path, { key })).toMatchObject({ ok: true, checkpoints: 0 });
    });
  });

  describe('honest ledgers', () => {
    it('a key configured after entries were written: the first checkpoint signs them, noted as unsignedStart', async () => {
      await build(30);
      // Its head is unsigned, which with a key is what a forger would write: refused until the operator moves it aside.
      const open = () => LedgerWriter.open({ path, service: 'svc', signingKey: hmac, checkpointEvery: 10 });
      await expect(open()).rejects.toThrow(/the head is not signed/);
      await rm(`${path}.head`);
      const writer = await open();
      expect(writer.headCheck.status).toBe('missing');
      writer.enqueue({ type: 'e' });
      await writer.close();
      const result = await verifyLedger(path, { key, checkpointEvery: 10 });
      expect(result).toMatchObject({ ok: true, unsignedStart: 30, checkpoints: 2, head: { signed: true } });
      expect(formatVerifyResult(result)).toMatch(/the first 30 entries precede the first checkpoint/);
    });

    it('prints the head it checked', async () => {
      await build(3, { signed: true });
      const result = await verifyLedger(path, { key });
      expect(formatVerifyResult(result)).toMatch(
        /\n {2}head: reaches seq 4 of .*ledger\.jsonl\.head \(signature verified, written .*, closed\)$/,
      );
    });
  });
});
