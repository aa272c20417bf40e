import { createHash, createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseSigningKey, parseVerificationKey } from './signing';
import { steppingClock, tempDir } from './testing/helpers';
import { verifyLedger } from './verify';
import { LedgerWriter } from './writer';

/**
 * A committed ledger (testing/golden-ledger.jsonl) and an independent reading of the format, so a change to the line
 * encoding, the hash input or the checkpoint signature cannot stay green: the writer must still produce these bytes,
 * and a reader written from the format's description alone must agree with every hash and signature in it.
 */
const GOLDEN = fileURLToPath(new URL('./testing/golden-ledger.jsonl', import.meta.url));
const SECRET = 'golden-ledger-secret-0123456789';
/** The last entry's hash: pinned, so regenerating the file by mistake shows. */
const LAST_HASH = '9798b9660a272ed03db0f6f079d009253ccbd0e40b35f023ed6f8f31c2696677';

/** Canonical JSON as the format describes it: members sorted by key, no whitespace, JSON.stringify for the rest. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    return `{${Object.keys(record)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical(record[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

async function goldenLines(): Promise<string[]> {
  return (await readFile(GOLDEN, 'utf8')).split('\n').filter((line) => line !== '');
}

describe('golden ledger', () => {
  it('is what the writer writes, byte for byte, for the same events, clock and key', async () => {
    const { dir, remove } = await tempDir();
    try {
      const path = join(dir, 'ledger.jsonl');
      const writer = await LedgerWriter.open({
        path,
        service: 'orchestrator',
        clock: steppingClock(),
        signingKey: parseSigningKey(`hmac:${SECRET}`, 'key'),
        checkpointEvery: 4,
        headPath: false,
      });
      writer.enqueue({ type: 'audit.started', data: { pid: 1, head: 'missing' } });
      writer.enqueue({
        type: 'policy.deny',
        corrId: 'c-1',
        data: {
          path: '/internal/x',
          tenant: 'acme',
          reason: 'internal',
          n: 3,
          ok: false,
          list: [1, 'é', null],
          nested: { b: 1, a: '"q"\\\n' },
        },
      });
      writer.enqueue({ type: 'ratelimit.denied', corrId: 'c-2', data: { key: 'ip:203.0.113.0', count: 12 } });
      writer.enqueue({ type: 'pool.changed', corrId: null, data: { pool: 'api', urls: ['http://127.0.0.1:9001'] } });
      writer.enqueue({
        type: 'admin.action',
        corrId: 'c-3',
        data: { action: 'pool.put', unicode: '\u2028 ✓ 😀', max: 9007199254740991, neg: -0.5 },
      });
      writer.enqueue({ type: 'audit.stopped', data: { pid: 1 } });
      await writer.close();
      expect(await readFile(path, 'utf8')).toBe(await readFile(GOLDEN, 'utf8'));
    } finally {
      await remove();
    }
  });

  it('agrees with an independent reading of the format: hashes, links, order of members, signatures', async () => {
    const lines = await goldenLines();
    let prevHash = '0'.repeat(64);
    for (const [i, line] of lines.entries()) {
      const entry = JSON.parse(line) as Record<string, unknown>;
      expect(Object.keys(entry)).toEqual(['seq', 'ts', 'service', 'type', 'corrId', 'data', 'prevHash', 'hash']);
      expect(entry['seq']).toBe(i + 1);
      expect(entry['prevHash']).toBe(prevHash);
      const { hash, ...rest } = entry;
      expect(hash).toBe(createHash('sha256').update(canonical(rest)).digest('hex'));
      if (entry['type'] === 'ledger.checkpoint') {
        const data = entry['data'] as { alg: string; sig: string; uptoHash: string; uptoSeq: number };
        expect(data.uptoSeq).toBe(i);
        expect(data.uptoHash).toBe(prevHash);
        const payload = canonical({
          alg: data.alg,
          service: entry['service'],
          uptoHash: data.uptoHash,
          uptoSeq: data.uptoSeq,
        });
        expect(data.sig).toBe(createHmac('sha256', SECRET).update(payload).digest('hex'));
      }
      prevHash = hash as string;
    }
    expect(lines).toHaveLength(8);
    expect(prevHash).toBe(LAST_HASH);
  });

  it('verifies with the key', async () => {
    const key = parseVerificationKey(`hmac:${SECRET}`);
    expect(await verifyLedger(GOLDEN, { key, checkpointEvery: 4, headPath: false })).toMatchObject({
      ok: true,
      entries: 8,
      checkpoints: 2,
      lastHash: LAST_HASH,
    });
  });
});
