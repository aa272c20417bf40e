import { describe, expect, it } from 'vitest';
import { checkedList, durationAtMost, integerIn, oneOf, parseByteSize, parseShare, textMatching } from './parse';

describe(oneOf.name, () => {
  it('says "must be a or b" for two choices and "is not one of" for more, lower-casing unless told not to', () => {
    const mode = oneOf(['open', 'closed']);
    expect(mode(' Closed ')).toBe('closed');
    expect(() => mode('maybe')).toThrow("'maybe' must be open or closed");
    const level = oneOf(['debug', 'info', 'warn']);
    expect(() => level('loud')).toThrow("'loud' is not one of debug, info, warn");
    const exact = oneOf(['p2c', 'ewma'], { caseSensitive: true });
    expect(exact(' p2c')).toBe('p2c');
    expect(() => exact('P2C')).toThrow("'P2C' must be p2c or ewma");
  });
});

describe(durationAtMost.name, () => {
  it('takes zero up to the bound, naming the bound as written', () => {
    const upTo = durationAtMost('10s');
    expect(upTo('0ms')).toBe(0);
    expect(upTo('10s')).toBe(10_000);
    expect(() => upTo('11s')).toThrow("'11s' must be at most 10s");
    expect(() => upTo('50')).toThrow(/unit/);
  });
});

describe(textMatching.name, () => {
  it('trims before matching unless asked not to', () => {
    expect(textMatching(/^a+$/, 'is not a run of a')(' aa ')).toBe('aa');
    expect(() => textMatching(/^a+$/, 'is not a run of a', { trim: false })(' aa')).toThrow("' aa' is not a run of a");
  });
});

describe(parseByteSize.name, () => {
  it('reads bytes with binary units and refuses more than 1024g', () => {
    expect(parseByteSize('0')).toBe(0);
    expect(parseByteSize('64m')).toBe(64 * 1024 ** 2);
    expect(parseByteSize('2KiB')).toBe(2048);
    expect(() => parseByteSize('1025g')).toThrow(/too large/);
    expect(() => parseByteSize('lots')).toThrow(/not a size/);
  });
});

describe('small parsers', () => {
  it('checks shares, integer ranges and whole lists', () => {
    expect(parseShare('1')).toBe(1);
    expect(() => parseShare('0')).toThrow("'0' must be a share in (0, 1]");
    expect(integerIn(1, 3)('3')).toBe(3);
    expect(() => integerIn(1, 3)('4')).toThrow("'4' is not an integer between 1 and 3");
    const distinct = checkedList((list) => {
      if (new Set(list).size !== list.length) throw new Error('must differ');
    });
    expect(distinct('a, b,,')).toEqual(['a', 'b']);
    expect(() => distinct('a,a')).toThrow('must differ');
  });
});
