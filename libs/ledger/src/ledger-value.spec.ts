import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ledgerJson } from './canonical-json';
import { CanonicalJsonError } from './errors';
import { MAX_LEDGER_VALUE_DEPTH, toLedgerValue } from './ledger-value';
import { tempDir } from './testing/helpers';
import { verifyLedger } from './verify';
import { LedgerWriter } from './writer';

describe(toLedgerValue.name, () => {
  it('keeps JSON-safe data as it is, replacing nothing', () => {
    const data = { a: [1, -2.5, 'x', null, true], b: { c: Number.MAX_SAFE_INTEGER }, at: new Date(0) };
    expect(toLedgerValue(data)).toEqual({
      value: { a: [1, -2.5, 'x', null, true], b: { c: Number.MAX_SAFE_INTEGER }, at: '1970-01-01T00:00:00.000Z' },
      replaced: 0,
    });
  });

  it('replaces what has no exact JSON form by text, and counts it', () => {
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const { value, replaced } = toLedgerValue({
      big: 2 ** 60,
      negative: -(2 ** 53),
      huge: 1e300,
      nan: Number.NaN,
      inf: Number.NEGATIVE_INFINITY,
      bigint: 12345678901234567890n,
      fn: () => 1,
      sym: Symbol('s'),
      gone: undefined,
      list: [undefined, 1],
      cyclic,
    });
    expect(value).toEqual({
      big: '1152921504606846976',
      negative: '-9007199254740992',
      huge: '1e+300',
      nan: 'NaN',
      inf: '-Infinity',
      bigint: '12345678901234567890',
      fn: '[function]',
      sym: '[symbol]',
      list: [null, 1],
      cyclic: { name: 'loop', self: '[cycle]' },
    });
    expect(replaced).toBe(9);
    expect(() => ledgerJson(value)).not.toThrow();
  });

  it('converts Map and Set, keeps a "__proto__" member a member, and bounds depth and throwing getters', () => {
    const parsed = JSON.parse('{"__proto__":{"x":1}}') as Record<string, unknown>;
    expect(toLedgerValue({ m: new Map([[1, 'one']]), s: new Set([2]), p: parsed }).value).toEqual({
      m: { 1: 'one' },
      s: [2],
      p: JSON.parse('{"__proto__":{"x":1}}') as unknown,
    });
    expect(Object.keys((toLedgerValue(parsed).value as object) ?? {})).toEqual(['__proto__']);
    let deep: unknown = 'bottom';
    for (let i = 0; i < MAX_LEDGER_VALUE_DEPTH + 10; i++) deep = { d: deep };
    const bounded = toLedgerValue(deep);
    expect(bounded.replaced).toBe(1);
    expect(ledgerJson(bounded.value)).toContain('"[too deep]"');
    const hostile = {
      get boom(): never {
        throw new Error('no');
      },
    };
    expect(toLedgerValue({ hostile }).value).toEqual({ hostile: '[unreadable]' });
  });
});

describe(`${LedgerWriter.name} and unsafe numbers`, () => {
  it('refuses data with a number beyond 2^53 (nothing is appended), and writes it once made safe', async () => {
    const { dir, remove } = await tempDir();
    try {
      const path = join(dir, 'ledger.jsonl');
      const writer = await LedgerWriter.open({ path, service: 'svc' });
      const data = { id: 2 ** 53 + 2 };
      expect(() => writer.enqueue({ type: 'x', data })).toThrow(CanonicalJsonError);
      expect(() => writer.enqueue({ type: 'x', data })).toThrow(/unsafe number 9007199254740994 .* at \$\.id/);
      expect(writer.stats.lastSeq).toBe(0);
      const entry = await writer.append({ type: 'x', data: toLedgerValue(data).value });
      expect(entry.data).toEqual({ id: '9007199254740994' });
      await writer.close();
      expect(await verifyLedger(path)).toMatchObject({ ok: true, entries: 1 });
    } finally {
      await remove();
    }
  });
});
