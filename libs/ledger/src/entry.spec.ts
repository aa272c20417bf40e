import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from './canonical-json';
import { encodeEntry, GENESIS_HASH, hashEntry, parseEntryLine, seqOfCanonicalLine } from './entry';

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

describe(`${parseEntryLine.name}: canonical form`, () => {
  const { line } = encodeEntry(7, '2025-01-01T00:00:00.000Z', 's', 't', 'c', '{"a":1,"b":[2,"x"]}', GENESIS_HASH);
  const text = line.slice(0, -1);

  it('accepts exactly the line the writer writes', () => {
    expect(parseEntryLine(text).kind).toBe('ok');
  });

  it.each([
    ['a duplicate member before the real one', text.replace('"data":', '"data":{"a":2},"data":')],
    ['a duplicate member inside data', text.replace('"data":{"a":1', '"data":{"a":9,"a":1')],
    ['data members out of order', text.replace('{"a":1,"b":[2,"x"]}', '{"b":[2,"x"],"a":1}')],
    ['a number spelled otherwise', text.replace('"a":1', '"a":1.0')],
    ['an integer beyond 2^53 that rounds to a safe-looking one', text.replace('[2,', '[2.0000000000000001,')],
    ['whitespace', `${text} `],
    ['an escape', text.replace('"x"', '"\\u0078"')],
  ])('refuses %s as non_canonical, with where it differs', (_what, changed) => {
    const parsed = parseEntryLine(changed);
    expect(parsed).toMatchObject({ kind: 'non_canonical', seq: 7 });
    expect(parsed.kind === 'non_canonical' && parsed.message).toMatch(/from character \d+/);
  });
});

describe(seqOfCanonicalLine.name, () => {
  it("reads the seq from the writer's prefix only", () => {
    expect(seqOfCanonicalLine('{"seq":123,"ts":"x"}')).toBe(123);
    expect(seqOfCanonicalLine('{"seq":123}')).toBeNull();
    expect(seqOfCanonicalLine('{"ts":"x","seq":1}')).toBeNull();
    expect(seqOfCanonicalLine('{"seq":,')).toBeNull();
    expect(seqOfCanonicalLine('{"seq":99999999999999999,')).toBeNull();
  });
});
