import { describe, expect, it } from 'vitest';
import type { RouteAnswer } from '../routing/route.service';
import { serializeAnswer } from './route.controller';

const ANSWER: RouteAnswer = {
  target: 'http://127.0.0.1:8080',
  algo: 'p2c',
  policy: 'allow',
  healthy: true,
  pool: 'api',
  cached: false,
};

describe(serializeAnswer.name, () => {
  it('writes the six fields of the answer as JSON, in the schema order', () => {
    const text = serializeAnswer(ANSWER);
    expect(JSON.parse(text)).toEqual(ANSWER);
    expect(Object.keys(JSON.parse(text) as object)).toEqual(['target', 'algo', 'policy', 'healthy', 'pool', 'cached']);
  });

  it('escapes strings as JSON does and leaves out fields the schema does not name', () => {
    const odd = { ...ANSWER, target: 'http://h/"quoted"\\\n\u2028', pool: 'ü', extra: 'secret' } as RouteAnswer;
    const text = serializeAnswer(odd);
    expect(JSON.parse(text)).toEqual({ ...ANSWER, target: odd.target, pool: 'ü' });
    expect(text).not.toContain('secret');
  });

  it('writes the locality tier last, only when the pick had one', () => {
    const text = serializeAnswer({ ...ANSWER, locality: 'region' });
    expect(JSON.parse(text)).toEqual({ ...ANSWER, locality: 'region' });
    expect(text.endsWith(',"locality":"region"}')).toBe(true);
    expect(serializeAnswer({ ...ANSWER, locality: undefined })).toBe(serializeAnswer(ANSWER));
    expect(() => serializeAnswer({ ...ANSWER, locality: 'moon' } as unknown as RouteAnswer)).toThrow(TypeError);
  });

  it('refuses an answer whose field has the wrong type, as a compiled schema does', () => {
    expect(() => serializeAnswer({ ...ANSWER, healthy: 'yes' } as unknown as RouteAnswer)).toThrow(TypeError);
    expect(() => serializeAnswer({ ...ANSWER, target: undefined } as unknown as RouteAnswer)).toThrow(TypeError);
  });
});
