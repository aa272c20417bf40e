import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from './canonical-json';
import { encodeEntry, GENESIS_HASH, hashEntry, parseEntryLine } from './entry';

describe(hashEntry.name, () => {
  const entry = {
    seq: 1,
    ts: '2025-01-01T00:00:00.000Z',
    service: 'orchestrator',
    type: 'policy.deny',
    corrId: 'c-1',
    data: { route: '/x', reason: 'deny', n: [1, 2] },
    prevHash: GENESIS_HASH,
  };

  it('is the SHA-256 hex of the canonical JSON of the entry without hash', () => {
    const expected = createHash('sha256').update(canonicalJson(entry)).digest('hex');
    expect(hashEntry(entry)).toBe(expected);
    expect(hashEntry({ ...entry, hash: 'ignored' })).toBe(expected);
  });

  it('GENESIS_HASH is 64 zeros', () => {
    expect(GENESIS_HASH).toBe('0'.repeat(64));
  });

  it('the writer’s fast encoding gives the same hash and a line that parses back to the entry', () => {
    for (const corrId of ['c-1', null, 'ünï"\n']) {
      const e = { ...entry, corrId, service: 'svc "q"', type: 't\u2028' };
      const { hash, line } = encodeEntry(e.seq, e.ts, e.service, e.type, e.corrId, canonicalJson(e.data), e.prevHash);
      expect(hash).toBe(hashEntry(e));
      expect(line.endsWith('\n')).toBe(true);
      expect(JSON.parse(line)).toEqual({ ...e, hash });
      expect(parseEntryLine(line.slice(0, -1))).toEqual({ kind: 'ok', entry: { ...e, hash } });
    }
  });
});

describe(parseEntryLine.name, () => {
  const { line } = encodeEntry(3, '2025-01-01T00:00:00.000Z', 's', 't', null, '{}', GENESIS_HASH);
  const text = line.slice(0, -1);

  it('reports unparsable, malformed and changed lines', () => {
    expect(parseEntryLine('{"seq":').kind).toBe('unparsable');
    expect(parseEntryLine('[1]').kind).toBe('malformed');
    expect(parseEntryLine(text.replace('"type":"t"', '"type":"t","extra":1'))).toMatchObject({
      kind: 'malformed',
      seq: 3,
    });
    expect(parseEntryLine(text.replace('"type":"t"', '"type":"u"'))).toMatchObject({ kind: 'hash_mismatch' });
    expect(parseEntryLine(text.replace('"data":{}', '"data":1e400'))).toMatchObject({ kind: 'malformed', seq: 3 });
  });
});
