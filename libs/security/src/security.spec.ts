import { describe, expect, it } from 'vitest';
import { MemoryBucketStore } from './bucket-store';
import { TrustedProxies, anonymizeIp, clientKey, normalizeIp, resolveClientIp } from './client-ip';

describe(MemoryBucketStore.name, () => {
  it('admits a full burst, then refuses until a token refills', () => {
    const store = new MemoryBucketStore();
    const t0 = 1_000_000;
    for (let i = 0; i < 5; i++) expect(store.take('k', 60, 5, t0).ok).toBe(true);
    const refused = store.take('k', 60, 5, t0);
    expect(refused).toEqual({ ok: false, remaining: 0, resetMs: 5000, retryAfterMs: 1000 });
    expect(store.take('k', 60, 5, t0 + 999).ok).toBe(false);
    const again = store.take('k', 60, 5, t0 + 1000);
    expect(again.ok).toBe(true);
    expect(again.remaining).toBe(0);
  });

  it('refills to the burst and no further', () => {
    const store = new MemoryBucketStore();
    store.take('k', 600, 3, 0);
    const later = store.take('k', 600, 3, 3_600_000);
    expect(later.remaining).toBe(2);
  });

  it('keys are independent and memory is bounded, least recently used first', () => {
    const store = new MemoryBucketStore({ maxKeys: 2 });
    store.take('a', 60, 1, 0);
    store.take('b', 60, 1, 0);
    store.take('a', 60, 1, 0);
    store.take('c', 60, 1, 0);
    expect(store.size).toBe(2);
    expect(store.take('a', 60, 1, 0).ok).toBe(false);
    expect(store.take('b', 60, 1, 0).ok).toBe(true);
  });

  it('rejects a nonsensical bound', () => {
    expect(() => new MemoryBucketStore({ maxKeys: 0 })).toThrow(/maxKeys/);
  });
});

describe(TrustedProxies.name, () => {
  it('matches CIDRs and single addresses of both families and rejects junk', () => {
    const trusted = new TrustedProxies(['10.0.0.0/8', '2001:db8::/32', '192.0.2.1']);
    expect(trusted.has('10.1.2.3')).toBe(true);
    expect(trusted.has('11.1.2.3')).toBe(false);
    expect(trusted.has('2001:db8:ff::1')).toBe(true);
    expect(trusted.has('192.0.2.1')).toBe(true);
    expect(trusted.has('192.0.2.2')).toBe(false);
    expect(() => new TrustedProxies(['10.0.0.0/33'])).toThrow(/10.0.0.0\/33/);
    expect(() => new TrustedProxies(['example.com'])).toThrow(/example.com/);
  });
});

describe(normalizeIp.name, () => {
  it('writes every spelling of an IPv4-mapped address as the IPv4 address', () => {
    for (const spelling of [
      '::ffff:8.8.8.8',
      '::FFFF:8.8.8.8',
      '::ffff:808:808',
      '::FFFF:0808:0808',
      '0:0:0:0:0:ffff:8.8.8.8',
      '0000:0000:0000:0000:0000:FFFF:0808:0808',
    ]) {
      expect(normalizeIp(spelling), spelling).toBe('8.8.8.8');
    }
  });

  it('keeps the other forms that carry an IPv4 address as IPv6 addresses, and counts each as one host', () => {
    // Translated, compatible and NAT64 forms are not the IPv4 host for identity: a trusted-proxy entry or loopback must
    // not match them by their IPv4 part (`::127.0.0.1` is not 127.0.0.1).
    expect(normalizeIp('::FFFF:0:808:808')).toBe('::ffff:0:808:808');
    expect(normalizeIp('::127.0.0.1')).toBe('::7f00:1');
    expect(normalizeIp('64:FF9B:0:0:0:0:C633:6407')).toBe('64:ff9b::c633:6407');
    // Clients a translator writes so are one client each, not one /64 bucket for all of them; `::1` is no such form.
    expect(clientKey(normalizeIp('64:ff9b::8.8.8.8'), 64)).toBe('64:ff9b::808:808');
    expect(clientKey(normalizeIp('64:ff9b::8.8.8.8'), 64)).not.toBe(clientKey(normalizeIp('64:ff9b::8.8.4.4'), 64));
    expect(clientKey(normalizeIp('::ffff:0:8.8.8.8'), 64)).toBe('::ffff:0:808:808');
    expect(clientKey('::1', 64)).toBe('::/64');
  });

  it('writes any other IPv6 address in its RFC 5952 form', () => {
    expect(normalizeIp('2001:DB8:0:0:0:0:0:1')).toBe('2001:db8::1');
    expect(normalizeIp('2001:0db8:0000:0001:0000:0000:0000:0009')).toBe('2001:db8:0:1::9');
    // The longest run of zero groups is the one written as `::`; of two as long, the first; a single zero stays.
    expect(normalizeIp('2001:0:0:1:0:0:0:1')).toBe('2001:0:0:1::1');
    expect(normalizeIp('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    expect(normalizeIp('2001:db8:0:1:1:1:1:1')).toBe('2001:db8:0:1:1:1:1:1');
    expect(normalizeIp('0:0:0:0:0:0:0:1')).toBe('::1');
    expect(normalizeIp('::')).toBe('::');
    expect(normalizeIp('FE80::1%eth0')).toBe('fe80::1%eth0');
    // 6to4 and Teredo addresses are IPv6 hosts (tunnelling over IPv4), not IPv4 ones.
    expect(normalizeIp('2002:0808:0808::1')).toBe('2002:808:808::1');
    expect(normalizeIp('2001:0:4136:e378:8000:63bf:f7f7:f7f7')).toBe('2001:0:4136:e378:8000:63bf:f7f7:f7f7');
  });

  it('returns IPv4 addresses and what is not an address as they are', () => {
    expect(normalizeIp('198.51.100.7')).toBe('198.51.100.7');
    expect(normalizeIp('garbage')).toBe('garbage');
    expect(normalizeIp('1:2:3')).toBe('1:2:3');
  });
});

describe(resolveClientIp.name, () => {
  const trusted = new TrustedProxies(['10.0.0.0/8']);

  it('ignores X-Forwarded-For from an untrusted peer', () => {
    expect(resolveClientIp('203.0.113.9', '1.2.3.4', trusted)).toBe('203.0.113.9');
  });

  it('takes the right-most untrusted hop behind trusted proxies', () => {
    expect(resolveClientIp('10.0.0.1', '1.2.3.4, 198.51.100.7, 10.0.0.2', trusted)).toBe('198.51.100.7');
    expect(resolveClientIp('::ffff:10.0.0.1', ['1.2.3.4', '10.9.9.9'], trusted)).toBe('1.2.3.4');
  });

  it('stops at a malformed hop instead of believing what is left of it', () => {
    expect(resolveClientIp('10.0.0.1', '1.2.3.4, garbage', trusted)).toBe('10.0.0.1');
  });
});

describe(anonymizeIp.name, () => {
  it('zeroes the last IPv4 octet and keeps an IPv6 /48', () => {
    expect(anonymizeIp('203.0.113.77')).toBe('203.0.113.0');
    expect(anonymizeIp('::ffff:203.0.113.77')).toBe('203.0.113.0');
    expect(anonymizeIp('2001:db8:abcd:12::5')).toBe('2001:db8:abcd::');
    expect(anonymizeIp('::1')).toBe('0:0:0::');
    expect(anonymizeIp('nonsense')).toBe('unknown');
  });
});

describe(clientKey.name, () => {
  it('keeps IPv4 addresses and counts IPv6 ones by their network', () => {
    expect(clientKey('203.0.113.7', 64)).toBe('203.0.113.7');
    expect(clientKey('2001:db8:1:2::5', 64)).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd', 64)).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:0db8:0001:0002:0:0:0:5', 64)).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8:1:2ff::1', 56)).toBe('2001:db8:1:200::/56');
    expect(clientKey('2001:db8::1', 48)).toBe('2001:db8::/48');
    expect(clientKey('::1', 64)).toBe('::/64');
    expect(clientKey('2001:db8::1', 128)).toBe('2001:db8::1');
    // A translator's IPv4 client (NAT64) is a host of its own at any prefix.
    expect(clientKey('64:ff9b::c000:201', 96)).toBe('64:ff9b::c000:201');
    expect(clientKey('fe80::1%eth0', 64)).toBe('fe80::/64');
    expect(clientKey('unknown', 64)).toBe('unknown');
  });
});

describe('anonymizeIp of a network key', () => {
  it('anonymises the address of an IPv6 network as clientKey writes it', () => {
    expect(anonymizeIp('2001:db8:1234:5678::/64')).toBe('2001:db8:1234::');
  });
});
