import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { post, startOrchestrator, type RunningOrchestrator } from '../harness';

const VALID = { service: 'api', tenant: 'acme', scope: 'read', path: '/v1/items' };

/**
 * An IPv6 client holds a whole /64 (or more) and may send from any address in it: counted per address, it would get a
 * fresh per-IP bucket for every request. The gateway counts IPv6 clients by network (ORCH_IPV6_CLIENT_PREFIX).
 */
describe('IPv6 address rotation against the per-IP limit', () => {
  let orch: RunningOrchestrator;
  let narrow: RunningOrchestrator;

  beforeAll(async () => {
    const env = {
      ORCH_POOL_API: 'http://127.0.0.1:9',
      ORCH_IP_BURST: '3',
      ORCH_IP_BURST_DEGRADED: '3',
      ORCH_TRUSTED_PROXIES: '127.0.0.1/32',
    };
    orch = await startOrchestrator(env);
    narrow = await startOrchestrator({ ...env, ORCH_IPV6_CLIENT_PREFIX: '48' });
  });

  afterAll(async () => {
    await orch?.close();
    await narrow?.close();
  });

  const from = (gateway: RunningOrchestrator, ip: string) =>
    post(`${gateway.url}/route`, VALID, { 'x-forwarded-for': ip });

  it('shares one bucket across the addresses of a /64, whatever their spelling', async () => {
    const addresses = [
      '2001:db8:aa:1::1',
      '2001:db8:aa:1:ffff:ffff:ffff:fffe',
      '2001:0db8:00aa:0001:0:0:0:7',
      '2001:db8:aa:1::1234',
      '2001:db8:aa:1:1::9',
    ];
    const statuses = [];
    for (const ip of addresses) statuses.push((await from(orch, ip)).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    // Another /64 is another client.
    expect((await from(orch, '2001:db8:aa:2::1')).status).toBe(200);
    // IPv4 clients are counted per address, as before.
    expect((await from(orch, '198.51.100.1')).status).toBe(200);
  });

  it('counts every spelling of an IPv4-mapped address as its IPv4 client', async () => {
    const spellings = ['198.51.100.9', '::ffff:c633:6409', '::FFFF:198.51.100.9', '0:0:0:0:0:ffff:c633:6409'];
    const statuses = [];
    for (const ip of spellings) statuses.push((await from(orch, ip)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    // Another IPv4 client, mapped, is not caught in a shared bucket.
    expect((await from(orch, '::ffff:c633:640a')).status).toBe(200);
  });

  it('counts by the configured prefix (ORCH_IPV6_CLIENT_PREFIX=48)', async () => {
    const statuses = [];
    for (const subnet of ['1', '2', '3', 'ff']) statuses.push((await from(narrow, `2001:db8:bb:${subnet}::1`)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect((await from(narrow, '2001:db8:bc::1')).status).toBe(200);
  });
});
