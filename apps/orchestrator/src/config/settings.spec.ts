import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ConfigPath } from './setting';
import { FAMILY_PREFIXES, KNOWN_KEYS, SECTIONS, SETTINGS } from './settings/table';
import { loadConfig } from './load';

/**
 * Every field of OrchestratorConfig. The type makes this list complete (a new field fails to compile until it is
 * named here); the test below then needs a row that fills it.
 */
const FIELDS: Record<ConfigPath, true> = {
  'listen.host': true,
  'listen.port': true,
  'listen.insecure': true,
  'ops.port': true,
  'ops.host': true,
  'tls.certFile': true,
  'tls.keyFile': true,
  'tls.clientCaFile': true,
  'tls.allowedSanPrefixes': true,
  pools: true,
  'lb.algo': true,
  'lb.connPenalty': true,
  'lb.costLatencySloMs': true,
  'lb.ewmaDecayMs': true,
  'lb.panicThreshold': true,
  'locality.zone': true,
  'locality.region': true,
  'locality.clientRegionHeader': true,
  'locality.clientRegionTable': true,
  'health.everyMs': true,
  'health.timeoutMs': true,
  'health.path': true,
  'health.degradedRatio': true,
  'breaker.fails': true,
  'breaker.openForMs': true,
  'proxy.connectTimeoutMs': true,
  'proxy.headersTimeoutMs': true,
  'proxy.bodyTimeoutMs': true,
  'proxy.maxConnections': true,
  'proxy.retries': true,
  'proxy.retryBudget': true,
  'proxy.maxEjection': true,
  'proxy.shutdownGraceMs': true,
  'proxy.queueTimeoutMs': true,
  'proxy.clientShare': true,
  'proxy.maxTunnels': true,
  'proxy.tunnelIdleTimeoutMs': true,
  'route.maxBytes': true,
  'rateLimit.ipPerMinute': true,
  'rateLimit.ipPerMinuteDegraded': true,
  'rateLimit.tenantPerMinute': true,
  'rateLimit.tenantOverrides': true,
  'rateLimit.trustedProxies': true,
  'rateLimit.redisFailure': true,
  'rateLimit.redisBatch': true,
  'redis.url': true,
  'redis.cluster': true,
  'redis.timeoutMs': true,
  'policy.path': true,
  'policy.opaPath': true,
  'policy.opaEntrypoint': true,
  'policy.opaEnforce': true,
  'policy.cacheTtlMs': true,
  'policy.cacheMax': true,
  'policy.divertPool': true,
  'policy.tarpitMax': true,
  'policy.onError': true,
  'policy.evalBudgetMs': true,
  'policy.shadowPath': true,
  'policy.shadowQueue': true,
  'admission.secrets': true,
  'admission.keyIds': true,
  'admission.header': true,
  'admission.skewMs': true,
  'dpop.required': true,
  'dpop.nonce': true,
  'dpop.publicUrl': true,
  'replay.redisFailure': true,
  'replay.maxKeys': true,
  'replay.clientShare': true,
  'tenant.from': true,
  'tenant.bindings': true,
  'tenant.known': true,
  'admin.token': true,
  'admin.allowPrivate': true,
  'admin.sans': true,
  'admin.userKeys': true,
  'admin.userIssuer': true,
  'admin.userAudience': true,
  'admin.requireUser': true,
  'ledger.path': true,
  'ledger.signingKey': true,
  'ledger.checkpointEvery': true,
  'ledger.headPath': true,
  'ledger.acceptHeadless': true,
  'ledger.rotateBytes': true,
  'ledger.batchMaxEntries': true,
  'ledger.flushIntervalMs': true,
  'ledger.aggregateWindowMs': true,
  'ledger.maxPerTypePerSecond': true,
  'tracing.otlpEndpoint': true,
  'tracing.serviceName': true,
  'tracing.sampler': true,
  'tracing.samplerRatio': true,
  'log.level': true,
  'log.fullIp': true,
  'log.dataPlaneContext': true,
  'rateLimit.ipv6ClientPrefix': true,
  'adaptive.mode': true,
  'adaptive.sensitivity': true,
  'adaptive.minLearningMs': true,
  'adaptive.tightenFactor': true,
  'adaptive.recoveryMs': true,
  'threat.url': true,
  'threat.timeoutMs': true,
  'threat.onError': true,
  'threat.cacheTtlMs': true,
  'threat.cacheSize': true,
  'quota.url': true,
  'quota.scopes': true,
  'quota.timeoutMs': true,
  'quota.onError': true,
  'advisors.breakerFails': true,
  'advisors.breakerOpenForMs': true,
  'cluster.workers': true,
  'cluster.workerIndex': true,
  'cluster.instanceId': true,
  'cluster.auditStream': true,
  'cluster.auditStreamMaxLen': true,
  'cluster.resyncEveryMs': true,
  'cluster.rolloutDecider': true,
  'mirror.routes': true,
  'mirror.maxBodyBytes': true,
  'mirror.maxInFlight': true,
  'mirror.timeoutMs': true,
  rollouts: true,
  demo: true,
};

describe('settings table', () => {
  it('fills every field of the configuration from exactly one row', () => {
    const filled = SETTINGS.flatMap((row) => (row.at === undefined ? [] : [row.at]));
    expect(new Set(filled).size, 'a field filled by two rows').toBe(filled.length);
    expect([...filled].sort()).toEqual(Object.keys(FIELDS).sort());
  });

  it('names each variable the orchestrator reads once, and only the admin UI rows repeat one', () => {
    const keys = SETTINGS.map((row) => row.key);
    expect(new Set(keys).size).toBe(keys.length);
    const uiRows = SECTIONS.flatMap((section) => section.settings).filter((row) => row.reader === 'admin-ui');
    expect(uiRows.length).toBeGreaterThan(0);
    expect(SETTINGS).not.toContain(uiRows[0]);
  });

  it('gives every row that fills a field a parser, and every written default parses', () => {
    for (const row of SETTINGS) {
      if (row.at !== undefined) expect(row.parse, row.key).toBeTypeOf('function');
      if (row.default !== undefined && row.parse !== undefined)
        expect(() => row.parse?.(row.default ?? ''), row.key).not.toThrow();
      expect(row.doc.includes('\n'), `${row.key}: one line`).toBe(false);
    }
  });

  it('derives the known names and the families from the rows', () => {
    expect(KNOWN_KEYS.has('ORCH_CONFIG')).toBe(true);
    expect(KNOWN_KEYS.has('ORCH_PROXY_QUEUE_TIMEOUT')).toBe(true);
    expect(KNOWN_KEYS.has('ORCH_ADMIN_URL')).toBe(false);
    expect([...KNOWN_KEYS].some((key) => key.includes('<'))).toBe(false);
    expect([...FAMILY_PREFIXES].sort()).toEqual([
      'ORCH_MIRROR_',
      'ORCH_POOL_',
      'ORCH_POOL_ALGO_',
      'ORCH_POOL_WEIGHTS_',
    ]);
    const { warnings } = loadConfig({ ORCH_ALLOW_INSECURE: '1', ORCH_POOL_API: 'h:1', ORCH_ADMIN_URL: 'http://x' });
    expect(warnings).toEqual(['ORCH_ADMIN_URL is not a ShieldX setting and is ignored']);
  });

  it('is the only place that reads a variable by name: the rest of config/ goes through rows', () => {
    const dir = new URL('./', import.meta.url);
    const sources = [
      ...readdirSync(dir).filter((file) => file.endsWith('.ts') && !file.endsWith('.spec.ts')),
      ...readdirSync(new URL('settings/', dir)).map((file) => `settings/${file}`),
    ];
    for (const file of sources) {
      const source = readFileSync(new URL(file, dir), 'utf8');
      expect(source, file).not.toMatch(/[Ee]nv\??\.?\[\s*['"`]|[Ee]nv\??\.[A-Z][A-Z0-9_]{2,}\b/);
    }
  });
});
