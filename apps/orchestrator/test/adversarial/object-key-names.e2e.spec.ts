import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config';
import { post, startOrchestrator, type RunningOrchestrator } from '../harness';

const RESERVED = ['__proto__', 'constructor', 'prototype'];
const TOKEN = 'admin-token-0123456789abcdef';

describe('names that are object keys (adversarial)', () => {
  let orch: RunningOrchestrator;

  beforeAll(async () => {
    orch = await startOrchestrator({
      ORCH_POOL_API: 'http://127.0.0.1:9',
      ORCH_POOL_PROTO: 'http://127.0.0.1:9',
      ORCH_ADMIN_TOKEN: TOKEN,
    });
  });

  afterAll(async () => {
    await orch.close();
  });

  it('refuses them as pool names in every form of configuration', () => {
    for (const name of RESERVED) {
      const fromEnv = { ORCH_ALLOW_INSECURE: '1', [`ORCH_POOL_${name.toUpperCase()}`]: 'http://127.0.0.1:9' };
      expect(() => loadConfig(fromEnv), name).toThrow(ConfigError);
      // JSON.parse makes "__proto__" an own member, which is how it reaches the pool table.
      const fromJson = { ORCH_ALLOW_INSECURE: '1', ORCH_BACKENDS_JSON: `{"${name}":["http://127.0.0.1:9"]}` };
      expect(() => loadConfig(fromJson), name).toThrow(/pool name/);
      const limits = { ORCH_ALLOW_INSECURE: '1', ORCH_TENANT_LIMITS: `{"${name}":5}` };
      expect(() => loadConfig(limits), name).toThrow(/ORCH_TENANT_LIMITS/);
    }
  });

  it('refuses them through the admin API, /route and /proxy with 4xx JSON', async () => {
    for (const name of RESERVED) {
      const put = await fetch(`${orch.url}/admin/pools/${name}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ urls: ['http://127.0.0.1:9'] }),
      });
      expect(put.status, name).toBe(400);
      expect(((await put.json()) as { error: string }).error).toBe('invalid_pool_name');
      for (const body of [
        { service: name, tenant: 'acme', scope: 'read', path: '/x' },
        { service: 'api', tenant: name, scope: 'read', path: '/x' },
        { service: 'api', tenant: 'acme', scope: name, path: '/x' },
        { service: name, tenant: 'acme', scope: 'read', path: '/x', candidates: ['http://127.0.0.1:9'] },
      ]) {
        const res = await post(`${orch.url}/route`, body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body).toHaveProperty('correlationId');
      }
      const proxied = await fetch(`${orch.url}/proxy/${name}/x`, {
        headers: { 'x-tenant': 'acme', 'x-scope': 'read' },
      });
      expect(proxied.status, name).toBe(400);
      const tenant = await fetch(`${orch.url}/proxy/api/x`, { headers: { 'x-tenant': name, 'x-scope': 'read' } });
      expect(tenant.status, name).toBe(400);
    }
  });

  it('lists every pool that serves traffic on /health and /admin/pools', async () => {
    const health = (await (await fetch(`${orch.url}/health`)).json()) as { pools: Record<string, unknown> };
    expect(Object.keys(health.pools).sort()).toEqual(['api', 'proto']);
    const admin = (await (
      await fetch(`${orch.url}/admin/pools`, { headers: { authorization: `Bearer ${TOKEN}` } })
    ).json()) as {
      pools: { name: string }[];
    };
    expect(admin.pools.map((p) => p.name).sort()).toEqual(['api', 'proto']);
  });
});
