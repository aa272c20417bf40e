import { describe, expect, it } from 'vitest';
import { requestTarget } from './caller-proof.service';

describe(requestTarget.name, () => {
  it('reads the origin form, also from an absolute-form target', () => {
    expect(requestTarget('/route?x=1')).toBe('/route?x=1');
    expect(requestTarget('http://evil.example/route?x=1')).toBe('/route?x=1');
    expect(requestTarget(undefined)).toBe('/');
  });
});
