import { describe, expect, it } from 'vitest';
import { replayClient, requestTarget } from './caller-proof.service';

describe(replayClient.name, () => {
  it('keeps an IPv4 address and folds an IPv6 address to its /64', () => {
    expect(replayClient('203.0.113.9')).toBe('203.0.113.9');
    expect(replayClient('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(replayClient('2001:0DB8:0001:0002::9')).toBe('2001:db8:1:2::/64');
    expect(replayClient('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(replayClient('::1')).toBe('0:0:0:0::/64');
    expect(replayClient('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
  });
});

describe(requestTarget.name, () => {
  it('reads the origin form, also from an absolute-form target', () => {
    expect(requestTarget('/route?x=1')).toBe('/route?x=1');
    expect(requestTarget('http://evil.example/route?x=1')).toBe('/route?x=1');
    expect(requestTarget(undefined)).toBe('/');
  });
});
