import { describe, expect, it } from 'vitest';
import { adaptiveField, parseAdaptiveMessage, parseSharedKey } from './adaptive-sync.codec';

const ENTRY = {
  key: 'tenant:acme',
  origin: 'a',
  phase: 'tightened',
  since: 1,
  recoveringSince: 0,
  tightenFactor: 0.1,
  recoveryMs: 60_000,
  enforced: true,
  baselineRate: 5,
  currentRate: 300,
  thresholdRate: 20,
  expiresAt: 2,
};

describe(parseSharedKey.name, () => {
  it('keeps a well-formed entry as it is', () => {
    expect(parseSharedKey(ENTRY)).toEqual(ENTRY);
  });

  it.each([
    ['a phase of its own', { phase: 'normal' }],
    ['no enforced flag', { enforced: 'yes' }],
    ['a factor of 0 (would refuse everything)', { tightenFactor: 0 }],
    ['a factor above 1', { tightenFactor: 2 }],
    ['a negative time', { since: -1 }],
    ['a rate that is not a number', { currentRate: 'NaN' }],
    ['an infinite lease', { expiresAt: Number.POSITIVE_INFINITY }],
    ['an empty key', { key: '' }],
    ['a key longer than 256', { key: `tenant:${'x'.repeat(256)}` }],
  ])('refuses %s', (_what, change) => {
    expect(() => parseSharedKey({ ...ENTRY, ...change })).toThrow();
  });

  it('refuses what is not an object', () => {
    for (const value of [null, 'x', 3, []]) expect(() => parseSharedKey(value)).toThrow();
  });
});

describe(parseAdaptiveMessage.name, () => {
  it('reads sets, deletions and releases of one origin', () => {
    const text = JSON.stringify({ origin: 'a', set: [ENTRY], del: ['ip:10.0.0.1'], release: ['tenant:b'] });
    expect(parseAdaptiveMessage(text)).toEqual({
      origin: 'a',
      set: [ENTRY],
      del: ['ip:10.0.0.1'],
      release: ['tenant:b'],
    });
    expect(parseAdaptiveMessage('{"origin":"a"}')).toEqual({ origin: 'a', set: [], del: [], release: [] });
  });

  it('refuses an entry claiming another origin, and malformed lists', () => {
    expect(() => parseAdaptiveMessage(JSON.stringify({ origin: 'b', set: [ENTRY] }))).toThrow('another origin');
    expect(() => parseAdaptiveMessage(JSON.stringify({ origin: 'a', del: 'x' }))).toThrow();
    expect(() => parseAdaptiveMessage(JSON.stringify({ origin: 'a', release: [1] }))).toThrow();
    expect(() => parseAdaptiveMessage('null')).toThrow();
    expect(() => parseAdaptiveMessage('{')).toThrow();
  });

  it('names a hash field by origin and key', () => {
    expect(adaptiveField('a', 'tenant:acme')).toBe('a tenant:acme');
  });
});
