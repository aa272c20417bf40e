import { describe, expect, it } from 'vitest';
import { loadConfig, type Env } from '../config/config';
import { ClientRegions } from './client-regions';
import { ipv4ToInt, RegionTable } from './region-table';

const TABLE = `# edge networks
10.0.0.0/8 eu-1
10.20.0.0/16 us-1   # a longer prefix wins
192.0.2.7 ap-1
2001:db8::/32 eu-1
2001:db8:1::/48 us-1
`;

function regions(env: Env, table = TABLE): ClientRegions {
  const { config } = loadConfig({ ORCH_ALLOW_INSECURE: '1', ...env });
  return new ClientRegions(config, () => table);
}

describe(RegionTable.name, () => {
  it('finds the longest matching prefix, IPv4 and IPv6', () => {
    const table = new RegionTable(TABLE);
    expect(table.size).toBe(5);
    expect(table.lookup('10.1.2.3')).toBe('eu-1');
    expect(table.lookup('10.20.9.9')).toBe('us-1');
    expect(table.lookup('192.0.2.7')).toBe('ap-1');
    expect(table.lookup('192.0.2.8')).toBeUndefined();
    expect(table.lookup('2001:db8:2::1')).toBe('eu-1');
    expect(table.lookup('2001:db8:1::1')).toBe('us-1');
    expect(table.lookup('2001:db9::1')).toBeUndefined();
    expect(table.lookup('not-an-ip')).toBeUndefined();
    expect(new RegionTable('0.0.0.0/0 eu-1').lookup('203.0.113.1')).toBe('eu-1');
  });

  it('names the first bad line', () => {
    expect(() => new RegionTable('10.0.0.0/8')).toThrow('line 1: write "CIDR region"');
    expect(() => new RegionTable('\n10.0.0.0/8 EU')).toThrow(/line 2: region 'EU' must be a lowercase label/);
    expect(() => new RegionTable('10.0.0.0/33 eu-1')).toThrow(/line 1: '10.0.0.0\/33' is not an IP address or CIDR/);
    expect(() => new RegionTable('10.0.0/8 eu-1')).toThrow(/is not an IP address or CIDR/);
    expect(() => new RegionTable('10.0.0.0/x eu-1')).toThrow(/is not an IP address or CIDR/);
    expect(() => new RegionTable('10.0.0.0/8 eu-1\n10.1.0.0/8 us-1')).toThrow(/line 2: '10.1.0.0\/8' is listed twice/);
    expect(() => new RegionTable('10.0.0.0/8 eu-1 extra')).toThrow(/line 1: write "CIDR region"/);
  });

  it('parses dotted quads into integers without accepting anything else', () => {
    expect(ipv4ToInt('0.0.0.0')).toBe(0);
    expect(ipv4ToInt('255.255.255.255')).toBe(4294967295);
    expect(ipv4ToInt('10.0.0.1')).toBe(167772161);
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '1..2.3', '1.2.3.', 'a.b.c.d', '::1', '1.2.3.1000']) {
      expect(ipv4ToInt(bad), bad).toBe(-1);
    }
  });
});

describe(ClientRegions.name, () => {
  it('is off without a header or table', () => {
    const off = regions({});
    expect(off.enabled).toBe(false);
    expect(off.of('127.0.0.1', '10.1.2.3', {})).toBeUndefined();
  });

  it('believes the header only from a trusted proxy, and only a valid region name', () => {
    const env = { ORCH_CLIENT_REGION_HEADER: 'X-Client-Region', ORCH_TRUSTED_PROXIES: '127.0.0.1' };
    const withHeader = regions(env);
    expect(withHeader.enabled).toBe(true);
    expect(withHeader.of('127.0.0.1', '203.0.113.5', { 'x-client-region': 'us-1' })).toBe('us-1');
    expect(withHeader.of('::ffff:127.0.0.1', '203.0.113.5', { 'x-client-region': 'us-1' })).toBe('us-1');
    expect(withHeader.of('198.51.100.1', '198.51.100.1', { 'x-client-region': 'us-1' })).toBeUndefined();
    expect(withHeader.of('127.0.0.1', '203.0.113.5', { 'x-client-region': 'US 1' })).toBeUndefined();
    expect(withHeader.of('127.0.0.1', '203.0.113.5', { 'x-client-region': 'x'.repeat(64) })).toBeUndefined();
    expect(
      regions({ ORCH_CLIENT_REGION_HEADER: 'X-Client-Region' }).of('127.0.0.1', '203.0.113.5', {
        'x-client-region': 'us-1',
      }),
    ).toBeUndefined();
  });

  it('falls back to the table by client IP, the believed header winning', () => {
    const both = regions({
      ORCH_CLIENT_REGION_HEADER: 'x-region',
      ORCH_TRUSTED_PROXIES: '127.0.0.1',
      ORCH_CLIENT_REGION_TABLE: '/etc/regions.txt',
    });
    expect(both.of('127.0.0.1', '10.20.1.1', {})).toBe('us-1');
    expect(both.of('127.0.0.1', '10.20.1.1', { 'x-region': 'ap-1' })).toBe('ap-1');
    expect(both.of('10.1.1.1', '10.1.1.1', { 'x-region': 'ap-1' })).toBe('eu-1');
  });

  it('refuses to start on a bad table, naming the file and the line', () => {
    expect(() => regions({ ORCH_CLIENT_REGION_TABLE: '/etc/regions.txt' }, '10.0.0.0/8 eu-1\nnonsense')).toThrow(
      `ORCH_CLIENT_REGION_TABLE: '/etc/regions.txt': line 2: write "CIDR region"`,
    );
  });
});
