import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LedgerEntry } from './entry';
import { editLine, readLines, steppingClock, tempDir, writeLines } from './testing/helpers';
import { parseSigningKey, parseVerificationKey, type SigningKey, verificationKeyFor } from './signing';
import { verifyLedger } from './verify';
import { LedgerWriter } from './writer';

function ed25519Pems(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

describe(`${LedgerWriter.name} signed checkpoints`, () => {
  let dir: string;
  let remove: () => Promise<void>;
  let path: string;

  beforeEach(async () => {
    ({ dir, remove } = await tempDir());
    path = join(dir, 'ledger.jsonl');
  });

  afterEach(() => remove());

  async function build(signingKey: SigningKey, count: number, checkpointEvery = 10): Promise<LedgerEntry[]> {
    const writer = await LedgerWriter.open({
      path,
      service: 'svc',
      clock: steppingClock(),
      signingKey,
      checkpointEvery,
    });
    for (let i = 0; i < count; i++) writer.enqueue({ type: 'e', data: { i } });
    await writer.close();
    return (await readLines(path)).map((line) => JSON.parse(line) as LedgerEntry);
  }

  const hmac: SigningKey = { kind: 'hmac', secret: 'a shared secret of 32 bytes......' };
  const ed = ed25519Pems();
  const cases: [string, SigningKey, string][] = [
    ['HMAC', hmac, 'hmac-sha256'],
    ['Ed25519', { kind: 'ed25519', privateKeyPem: ed.privateKeyPem }, 'ed25519'],
  ];

  it.each(cases)('%s: a checkpoint after every N entries verifies with the right key', async (_name, key, alg) => {
    const entries = await build(key, 25);
    const checkpoints = entries.filter((e) => e.type === 'ledger.checkpoint');
    // After seq 10 and 20, and the one close appends (over seq 27).
    expect(checkpoints.map((e) => e.seq)).toEqual([11, 21, 28]);
    expect(checkpoints[0].data).toEqual({ uptoSeq: 10, uptoHash: entries[9].hash, alg, sig: expect.any(String) });
    expect(entries).toHaveLength(28);
    const result = await verifyLedger(path, { key: verificationKeyFor(key) });
    expect(result).toMatchObject({ ok: true, entries: 28, checkpoints: 3, signaturesChecked: true });
    expect(await verifyLedger(path)).toMatchObject({ ok: true, checkpoints: 3, signaturesChecked: false });
  });

  it('HMAC: a wrong secret → bad_signature at the first checkpoint', async () => {
    await build(hmac, 25);
    const result = await verifyLedger(path, { key: { kind: 'hmac', secret: 'another secret of enough bytes' } });
    expect(result).toMatchObject({ ok: false, reason: 'bad_signature', seq: 11, line: 11 });
  });

  it('Ed25519: another key pair, or an HMAC key → bad_signature at the first checkpoint', async () => {
    await build({ kind: 'ed25519', privateKeyPem: ed.privateKeyPem }, 25);
    const other = ed25519Pems();
    expect(await verifyLedger(path, { key: { kind: 'ed25519', publicKeyPem: other.publicKeyPem } })).toMatchObject({
      ok: false,
      reason: 'bad_signature',
      seq: 11,
    });
    expect(await verifyLedger(path, { key: hmac })).toMatchObject({ ok: false, reason: 'bad_signature', seq: 11 });
  });

  it('a re-hashed checkpoint with a forged signature → bad_signature; pointing elsewhere → bad_checkpoint', async () => {
    await build(hmac, 25);
    const lines = await readLines(path);
    lines[20] = editLine(lines[20], (e) => ((e.data as { sig: string }).sig = '00'.repeat(32)), true);
    // The next entry must link to the re-hashed checkpoint, or the chain breaks first.
    lines[21] = editLine(lines[21], (e) => (e.prevHash = (JSON.parse(lines[20]) as LedgerEntry).hash), true);
    await writeLines(path, lines.slice(0, 22));
    expect(await verifyLedger(path, { key: hmac })).toMatchObject({ ok: false, reason: 'bad_signature', seq: 21 });
    // Without a key (and without the head, which shows the cut), the chain itself is intact.
    expect(await verifyLedger(path, { headPath: false })).toMatchObject({ ok: true });
    lines[20] = editLine(lines[20], (e) => ((e.data as { uptoSeq: number }).uptoSeq = 5), true);
    await writeLines(path, lines.slice(0, 21));
    expect(await verifyLedger(path)).toMatchObject({ ok: false, reason: 'bad_checkpoint', seq: 21 });
  });

  it('checkpointEvery 0 writes none', async () => {
    const entries = await build(hmac, 25, 0);
    expect(entries.filter((e) => e.type === 'ledger.checkpoint')).toEqual([]);
  });
});

describe(parseSigningKey.name, () => {
  it('parses hmac:<secret>, ed25519:<PEM> and a bare PEM', () => {
    expect(parseSigningKey('hmac:0123456789abcdef')).toEqual({ kind: 'hmac', secret: '0123456789abcdef' });
    const { privateKeyPem, publicKeyPem } = ed25519Pems();
    expect(parseSigningKey(`ed25519:${privateKeyPem}`)).toEqual({
      kind: 'ed25519',
      privateKeyPem: privateKeyPem.trim(),
    });
    expect(parseSigningKey(privateKeyPem)).toEqual({ kind: 'ed25519', privateKeyPem: privateKeyPem.trim() });
    expect(parseVerificationKey(publicKeyPem)).toEqual({ kind: 'ed25519', publicKeyPem: publicKeyPem.trim() });
  });

  it('fails naming the variable, never echoing the secret', () => {
    expect(() => parseSigningKey('hmac:short')).toThrow(
      /ORCH_LEDGER_SIGNING_KEY: HMAC secret must be at least 16 bytes/,
    );
    expect(() => parseSigningKey('rsa:xyz')).toThrow(/ORCH_LEDGER_SIGNING_KEY: expected/);
    expect(() => parseSigningKey('ed25519:not a pem')).toThrow(/not a valid private key PEM/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' });
    expect(() => parseSigningKey(rsa.toString())).toThrow(/expected an Ed25519 key, got rsa/);
    try {
      parseSigningKey('hmac:tooshort');
    } catch (error) {
      expect(String(error)).not.toMatch(/tooshort/);
    }
  });
});
