import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type Env } from './config';
import { parseDuration, parseWeights } from './parse';

const DEV: Env = { ORCH_ALLOW_INSECURE: '1' };

function problems(env: Env, files: Record<string, string> = {}): readonly string[] {
  try {
    loadConfig(env, (path) => {
      const text = files[path];
      if (text === undefined) throw new Error(`ENOENT: ${path}`);
      return text;
    });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe(loadConfig.name, () => {
  it('follows a short probe interval with the default probe timeout, and refuses an explicit longer one', () => {
    expect(loadConfig({ ...DEV, ORCH_HEALTH_EVERY: '1s' }).config.health).toMatchObject({
      everyMs: 1000,
      timeoutMs: 1000,
    });
    expect(loadConfig({ ...DEV, ORCH_HEALTH_EVERY: '10s' }).config.health.timeoutMs).toBe(1500);
    expect(() => loadConfig({ ...DEV, ORCH_HEALTH_EVERY: '1s', ORCH_HEALTH_TIMEOUT: '2s' })).toThrow(
      /ORCH_HEALTH_TIMEOUT: must not exceed ORCH_HEALTH_EVERY/,
    );
  });

  it('gives the documented defaults in insecure dev mode', () => {
    const { config } = loadConfig(DEV);
    expect(config.listen).toEqual({ host: '127.0.0.1', port: 8080, insecure: true });
    expect(config.lb.algo).toBe('ewma');
    expect(config.lb.connPenalty).toBe(0.2);
    expect(config.health).toMatchObject({ everyMs: 5000, timeoutMs: 1500, degradedRatio: 0.5 });
    expect(config.breaker).toEqual({ fails: 3, openForMs: 15_000 });
    expect(config.route.maxBytes).toBe(16_384);
    expect(config.rateLimit).toMatchObject({ ipPerMinute: 200, ipPerMinuteDegraded: 50, tenantPerMinute: 1000 });
    expect(config.policy).toMatchObject({
      opaEntrypoint: 'shieldx/routing/decision',
      opaEnforce: false,
      cacheTtlMs: 2000,
      cacheMax: 10_000,
    });
    expect(config.admission.header).toBe('X-ShieldX-Admission');
    expect(config.ledger.path).toBe('data/ledger-orchestrator.jsonl');
    expect(config.log.level).toBe('info');
    expect(config.pools.size).toBe(0);
  });

  it('refuses to start without TLS files unless insecure mode is asked for, saying what to set', () => {
    const found = problems({});
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/ORCH_TLS_CERT_FILE.*ORCH_ALLOW_INSECURE=1/);
  });

  it('serves TLS on 0.0.0.0 when the three TLS files are set, with the SAN allowlist', () => {
    const files = { ORCH_TLS_CERT_FILE: 's.pem', ORCH_TLS_KEY_FILE: 's.key', ORCH_TLS_CLIENT_CA_FILE: 'ca.pem' };
    const { config, warnings } = loadConfig({
      ...files,
      ORCH_ALLOWED_CLIENT_SAN_PREFIXES: 'spiffe://shieldx.local/ns/default/sa/ingress, spiffe://shieldx.local/ns/ops/',
    });
    expect(config.listen).toEqual({ host: '0.0.0.0', port: 8080, insecure: false });
    expect(config.tls).toEqual({
      certFile: 's.pem',
      keyFile: 's.key',
      clientCaFile: 'ca.pem',
      allowedSanPrefixes: ['spiffe://shieldx.local/ns/default/sa/ingress', 'spiffe://shieldx.local/ns/ops/'],
    });
    expect(warnings).toEqual([]);
    // TLS wins over ORCH_ALLOW_INSECURE=1, which is then reported as ignored.
    const both = loadConfig({ ...files, ...DEV });
    expect(both.config.listen.insecure).toBe(false);
    expect(both.warnings).toEqual([expect.stringMatching(/ORCH_ALLOW_INSECURE=1 is ignored/)]);
  });

  it('refuses partial TLS settings and bad SAN allowlist entries', () => {
    expect(problems({ ORCH_TLS_CERT_FILE: 's.pem' })).toEqual([expect.stringMatching(/set all three or none/)]);
    expect(problems({ ...DEV, ORCH_ALLOWED_CLIENT_SAN_PREFIXES: 'spiffe://x/ns/*' })).toEqual([
      expect.stringMatching(/^ORCH_ALLOWED_CLIENT_SAN_PREFIXES: .*wildcards/),
    ]);
    expect(loadConfig({ ...DEV, ORCH_ALLOWED_CLIENT_SAN_PREFIXES: 'spiffe://x/' }).warnings).toEqual([
      expect.stringMatching(/no effect without TLS/),
    ]);
  });

  it('reads ORCH_ADMIN_SANS like the client SAN allowlist, and warns that it needs TLS', () => {
    const files = { ORCH_TLS_CERT_FILE: 's.pem', ORCH_TLS_KEY_FILE: 's.key', ORCH_TLS_CLIENT_CA_FILE: 'ca.pem' };
    const { config, warnings } = loadConfig({
      ...files,
      ORCH_ADMIN_SANS: 'spiffe://shieldx.local/ns/ops/sa/admin, spiffe://shieldx.local/ns/sec/',
    });
    expect(config.admin.sans).toEqual(['spiffe://shieldx.local/ns/ops/sa/admin', 'spiffe://shieldx.local/ns/sec/']);
    expect(warnings).toEqual([]);
    expect(loadConfig(DEV).config.admin.sans).toEqual([]);
    expect(problems({ ...DEV, ORCH_ADMIN_SANS: 'spiffe://x/*' })).toEqual([
      expect.stringMatching(/^ORCH_ADMIN_SANS: .*wildcards/),
    ]);
    expect(loadConfig({ ...DEV, ORCH_ADMIN_SANS: 'spiffe://x/sa/admin' }).warnings).toEqual([
      expect.stringMatching(/^ORCH_ADMIN_SANS has no effect without TLS/),
    ]);
  });

  it('names every bad key in one error', () => {
    const found = problems({
      ...DEV,
      ORCH_PORT: 'eighty',
      ORCH_LB_ALGO: 'random',
      ORCH_HEALTH_EVERY: '5',
      ORCH_CB_FAILS: '0',
      ORCH_TRUSTED_PROXIES: '10.0.0.0/8,not-an-ip',
      ORCH_LOG_LEVEL: 'loud',
    });
    const keys = found.map((line) => line.split(':')[0]);
    expect(keys).toEqual(
      expect.arrayContaining([
        'ORCH_PORT',
        'ORCH_LB_ALGO',
        'ORCH_HEALTH_EVERY',
        'ORCH_CB_FAILS',
        'ORCH_TRUSTED_PROXIES',
        'ORCH_LOG_LEVEL',
      ]),
    );
    expect(found).toHaveLength(6);
    expect(() => loadConfig({ ...DEV, ORCH_PORT: 'x' })).toThrow(/invalid configuration \(1 problem\)/);
  });

  it('builds pools from ORCH_POOL_<NAME>, with host:port shorthand, weights and algorithm', () => {
    const { config } = loadConfig({
      ...DEV,
      ORCH_POOL_API: '127.0.0.1:9001, http://127.0.0.1:9002/',
      ORCH_POOL_ALGO_API: 'p2c',
      ORCH_POOL_WEIGHTS_API: '127.0.0.1:9001=3,http://127.0.0.1:9002=1',
      ORCH_BACKENDS_JSON: '{"search":["https://search.internal:8443"]}',
    });
    expect([...config.pools.keys()].sort()).toEqual(['api', 'search']);
    const api = config.pools.get('api');
    expect(api?.urls).toEqual(['http://127.0.0.1:9001', 'http://127.0.0.1:9002']);
    expect(api?.algo).toBe('p2c');
    expect(api?.weights.get('http://127.0.0.1:9001')).toBe(3);
    expect(config.pools.get('search')?.urls).toEqual(['https://search.internal:8443']);
  });

  it('reads backend objects with zone, region, cost and weight from ORCH_BACKENDS_JSON, mixed with plain URLs', () => {
    const { config } = loadConfig({
      ...DEV,
      ORCH_BACKENDS_JSON: JSON.stringify({
        api: [
          { url: 'http://127.0.0.1:9001', zone: 'eu-1a', region: 'eu-1', cost: 0.4 },
          '127.0.0.1:9002',
          { url: '127.0.0.1:9003', region: 'us-1', weight: 2, cost: 0 },
        ],
      }),
      ORCH_ZONE: 'eu-1a',
      ORCH_REGION: 'eu-1',
      ORCH_CLIENT_REGION_HEADER: 'X-Client-Region',
      ORCH_CLIENT_REGION_TABLE: '/etc/regions.txt',
    });
    const api = config.pools.get('api');
    expect(api?.urls).toEqual(['http://127.0.0.1:9001', 'http://127.0.0.1:9002', 'http://127.0.0.1:9003']);
    expect(api?.places).toEqual(
      new Map([
        ['http://127.0.0.1:9001', { zone: 'eu-1a', region: 'eu-1', cost: 0.4 }],
        ['http://127.0.0.1:9003', { region: 'us-1', cost: 0 }],
      ]),
    );
    expect(api?.weights).toEqual(new Map([['http://127.0.0.1:9003', 2]]));
    expect(config.locality).toEqual({
      zone: 'eu-1a',
      region: 'eu-1',
      clientRegionHeader: 'x-client-region',
      clientRegionTable: '/etc/regions.txt',
    });
    expect(loadConfig(DEV).config.locality).toEqual({
      zone: undefined,
      region: undefined,
      clientRegionHeader: undefined,
      clientRegionTable: undefined,
    });
  });

  it('reads the same backend objects from an ORCH_CONFIG file', () => {
    const yaml =
      'ORCH_ALLOW_INSECURE: 1\nORCH_ZONE: eu-1b\nORCH_BACKENDS_JSON:\n  api:\n    - h:1\n' +
      '    - {url: "h:2", zone: eu-1b, cost: 1.5}\n';
    const { config } = loadConfig({ ORCH_CONFIG: '/etc/shieldx.yaml' }, () => yaml);
    expect(config.locality.zone).toBe('eu-1b');
    expect(config.pools.get('api')?.places.get('http://h:2')).toEqual({ zone: 'eu-1b', cost: 1.5 });
  });

  it('refuses bad zones, regions, costs, weights, unknown fields and twice-given weights, naming each', () => {
    const found = problems({
      ...DEV,
      ORCH_BACKENDS_JSON: JSON.stringify({
        api: [
          { url: 'h:1', zone: 'EU-1A' },
          { url: 'h:2', region: 'eu_1' },
          { url: 'h:3', cost: -1 },
          { url: 'h:4', cost: '1' },
          { url: 'h:5', weight: 0 },
          { url: 'h:6', zome: 'eu-1a' },
          { zone: 'eu-1a' },
          { url: 'h:7', weight: 2 },
          null,
        ],
      }),
      ORCH_POOL_WEIGHTS_API: 'h:7=3',
      ORCH_ZONE: 'Eu 1',
      ORCH_REGION: '-eu',
      ORCH_CLIENT_REGION_HEADER: 'x client',
    });
    const text = found.join('\n');
    expect(text).toMatch(/ORCH_BACKENDS_JSON: pool 'api' must be a list of backend URLs or backend objects/);
    const valid = problems({
      ...DEV,
      ORCH_BACKENDS_JSON: JSON.stringify({
        api: [
          { url: 'h:1', zone: 'EU-1A' },
          { url: 'h:2', region: 'eu_1' },
          { url: 'h:3', cost: -1 },
          { url: 'h:4', cost: '1' },
          { url: 'h:5', weight: 0 },
          { url: 'h:6', zome: 'eu-1a' },
          { zone: 'eu-1a' },
          { url: 'h:7', weight: 2 },
        ],
      }),
      ORCH_POOL_WEIGHTS_API: 'h:7=3',
    }).join('\n');
    expect(valid).toMatch(/zone of 'h:1' must be a lowercase label/);
    expect(valid).toMatch(/region of 'h:2' must be a lowercase label/);
    expect(valid).toMatch(/cost of 'h:3' must be a finite number >= 0, got -1/);
    expect(valid).toMatch(/cost of 'h:4' must be a finite number >= 0, got "1"/);
    expect(valid).toMatch(/weight of 'h:5' must be a number > 0/);
    expect(valid).toMatch(/backend 'h:6': unknown field "zome"/);
    expect(valid).toMatch(/a backend object needs a "url" string/);
    expect(valid).toMatch(/ORCH_POOL_WEIGHTS_API: the weight of 'http:\/\/h:7' is also given in ORCH_BACKENDS_JSON/);
    expect(text).toMatch(/ORCH_ZONE: 'Eu 1' must be a lowercase label/);
    expect(text).toMatch(/ORCH_REGION: '-eu' must be a lowercase label/);
    expect(text).toMatch(/ORCH_CLIENT_REGION_HEADER: 'x client' is not an HTTP header name/);
  });

  it('never creates a pool from ALGO_ or WEIGHTS_ keys, and says which pool is missing', () => {
    const found = problems({ ...DEV, ORCH_POOL_ALGO_GHOST: 'p2c', ORCH_POOL_WEIGHTS_PHANTOM: '{"http://a:1":2}' });
    expect(found).toEqual([
      expect.stringMatching(/^ORCH_POOL_ALGO_GHOST: no pool 'ghost'/),
      expect.stringMatching(/^ORCH_POOL_WEIGHTS_PHANTOM: no pool 'phantom'/),
    ]);
  });

  it('refuses bad backend URLs (port 0 too), duplicate pools, zero weights and weights for strangers', () => {
    const found = problems({
      ...DEV,
      ORCH_POOL_A: 'ftp://x:21,http://user:pw@h:1,http://h:2?q=1,h:0',
      ORCH_POOL_B: 'h:1',
      ORCH_POOL_WEIGHTS_B: 'h:1=0',
      ORCH_POOL_C: 'h:3',
      ORCH_POOL_WEIGHTS_C: 'h:4=2',
      ORCH_BACKENDS_JSON: '{"c":["h:5"]}',
    });
    expect(found.join('\n')).toMatch(/ftp:\/\/x:21' must use http or https/);
    expect(found.join('\n')).toMatch(/must not carry credentials/);
    expect(found.join('\n')).toMatch(/must not have a query/);
    expect(found.join('\n')).toMatch(/'h:0' has port 0; a backend port is 1 to 65535/);
    expect(found.join('\n')).toMatch(/ORCH_POOL_WEIGHTS_B: weight of 'h:1' must be a number > 0/);
    expect(found.join('\n')).toMatch(/ORCH_POOL_C: pool 'c' is already defined by ORCH_BACKENDS_JSON/);
  });

  it('reads the same keys from an ORCH_CONFIG file, the environment winning', () => {
    const yaml =
      'ORCH_ALLOW_INSECURE: 1\nORCH_PORT: 9000\nORCH_LB_ALGO: p2c\nORCH_BACKENDS_JSON:\n  api: ["h:1", "h:2"]\n';
    const { config } = loadConfig({ ORCH_CONFIG: '/etc/shieldx.yaml', ORCH_PORT: '9100' }, () => yaml);
    expect(config.listen.port).toBe(9100);
    expect(config.lb.algo).toBe('p2c');
    expect(config.pools.get('api')?.urls).toEqual(['http://h:1', 'http://h:2']);
    expect(problems({ ORCH_CONFIG: '/missing.yaml' })[0]).toMatch(/^ORCH_CONFIG: cannot read '\/missing.yaml'/);
  });

  it('warns about unknown ORCH_ settings instead of ignoring them silently', () => {
    const { warnings } = loadConfig({ ...DEV, ORCH_LB_ALG: 'p2c' });
    expect(warnings).toEqual(['ORCH_LB_ALG is not a ShieldX setting and is ignored']);
  });

  it('accepts ORCH_EWMA_DECAY as a weight or a duration', () => {
    expect(loadConfig({ ...DEV, ORCH_EWMA_DECAY: '10s' }).config.lb.ewmaDecayMs).toBe(10_000);
    expect(loadConfig({ ...DEV, ORCH_EWMA_DECAY: '0.3' }).config.lb.ewmaDecayMs).toBeCloseTo(1000 / -Math.log(0.7), 6);
    expect(loadConfig(DEV).config.lb.ewmaDecayMs).toBeCloseTo(1000 / -Math.log(0.7), 6);
    expect(problems({ ...DEV, ORCH_EWMA_DECAY: '0' })[0]).toMatch(/^ORCH_EWMA_DECAY/);
  });
});

describe(parseDuration.name, () => {
  it('takes ms, s, m, h and refuses a bare number', () => {
    expect(parseDuration('1500ms')).toBe(1500);
    expect(parseDuration('5s')).toBe(5000);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(() => parseDuration('5')).toThrow(/needs|unit/);
  });
});

describe(parseWeights.name, () => {
  it('reads JSON and url=w lists alike', () => {
    expect([...parseWeights('{"h:1": 2}')]).toEqual([['http://h:1', 2]]);
    expect([...parseWeights('h:1=2, http://h:2=0.5')]).toEqual([
      ['http://h:1', 2],
      ['http://h:2', 0.5],
    ]);
    expect(() => parseWeights('h:1=-1')).toThrow(/> 0/);
  });
});

describe('rate-limit and Redis settings', () => {
  it('defaults to in-process limits, fail-open and a 250 ms Redis bound', () => {
    const { config } = loadConfig(DEV);
    expect(config.redis).toEqual({ url: undefined, timeoutMs: 250 });
    expect(config.rateLimit.redisFailure).toBe('open');
    expect(config.rateLimit.tenantOverrides.size).toBe(0);
  });

  it('accepts host:port or redis(s):// URLs in REDIS_ADDR or REDIS_URL, REDIS_ADDR first', () => {
    const url = (env: Env) => loadConfig({ ...DEV, ...env }).config.redis.url;
    expect(url({ REDIS_ADDR: '127.0.0.1:6380' })).toBe('redis://127.0.0.1:6380');
    expect(url({ REDIS_ADDR: 'cache.internal' })).toBe('redis://cache.internal:6379');
    expect(url({ REDIS_URL: 'rediss://user:pw@cache.internal:6390/2' })).toBe('rediss://user:pw@cache.internal:6390/2');
    expect(url({ REDIS_URL: 'redis://[::1]:6379/' })).toBe('redis://[::1]:6379');
    expect(url({ REDIS_ADDR: 'a:1', REDIS_URL: 'redis://b:2' })).toBe('redis://a:1');
  });

  it('refuses bad Redis addresses without repeating the password', () => {
    const found = problems({
      ...DEV,
      REDIS_ADDR: 'http://:hunter2@cache:6379',
      ORCH_REDIS_TIMEOUT: '0ms',
      ORCH_RATELIMIT_REDIS_FAILURE: 'maybe',
    });
    expect(found).toEqual([
      "ORCH_RATELIMIT_REDIS_FAILURE: 'maybe' must be open or closed",
      "REDIS_ADDR: 'http://:***@cache:6379' must use redis or rediss",
      "ORCH_REDIS_TIMEOUT: '0ms' must be longer than zero",
    ]);
    expect(problems({ ...DEV, REDIS_URL: 'redis://cache:6379/db?x=1' }).join('\n')).toMatch(/REDIS_URL: .*query/);
    expect(problems({ ...DEV, REDIS_URL: 'redis://cache:6379/db' }).join('\n')).toMatch(/database number/);
    expect(problems({ ...DEV, REDIS_ADDR: 'cache:99999' })[0]).toMatch(/^REDIS_ADDR: /);
  });

  it('batches up to 32 Redis bucket takes per script call unless ORCH_RATELIMIT_REDIS_BATCH says otherwise', () => {
    expect(loadConfig(DEV).config.rateLimit.redisBatch).toBe(32);
    expect(loadConfig({ ...DEV, ORCH_RATELIMIT_REDIS_BATCH: '1' }).config.rateLimit.redisBatch).toBe(1);
    for (const raw of ['0', '1025', '2.5', 'many']) {
      expect(problems({ ...DEV, ORCH_RATELIMIT_REDIS_BATCH: raw })[0]).toMatch(/^ORCH_RATELIMIT_REDIS_BATCH: /);
    }
  });

  it('reads per-tenant overrides as JSON or tenant=rate lists, and checks them', () => {
    const overrides = (raw: string) => [
      ...loadConfig({ ...DEV, ORCH_TENANT_LIMITS: raw }).config.rateLimit.tenantOverrides,
    ];
    expect(overrides('{"acme": 5000, "tiny.co": 10}')).toEqual([
      ['acme', 5000],
      ['tiny.co', 10],
    ]);
    expect(overrides('acme=5000, tiny.co=10')).toEqual([
      ['acme', 5000],
      ['tiny.co', 10],
    ]);
    expect(loadConfig({ ...DEV, ORCH_RATELIMIT_REDIS_FAILURE: 'Closed' }).config.rateLimit.redisFailure).toBe('closed');
    expect(loadConfig(DEV).config.replay.redisFailure).toBe('closed');
    expect(loadConfig({ ...DEV, ORCH_REPLAY_REDIS_FAILURE: 'Open' }).config.replay.redisFailure).toBe('open');
    expect(problems({ ...DEV, ORCH_REPLAY_REDIS_FAILURE: 'later' })).toEqual([
      "ORCH_REPLAY_REDIS_FAILURE: 'later' must be open or closed",
    ]);
    const bad = (raw: string) => problems({ ...DEV, ORCH_TENANT_LIMITS: raw })[0];
    expect(bad('acme=0')).toMatch(/^ORCH_TENANT_LIMITS: limit of 'acme' must be an integer/);
    expect(bad('acme=1.5')).toMatch(/got "1.5"/);
    expect(bad('{"a/b": 5}')).toMatch(/'a\/b' is not a tenant name/);
    expect(bad('acme=5,acme=6')).toMatch(/listed twice/);
    expect(bad('acme')).toMatch(/is not tenant=perMinute/);
    expect(bad('{"acme": -5}')).toMatch(/got -5/);
    expect(bad('[1]')).toMatch(/is not tenant=perMinute|JSON/);
  });
});

describe('hardening settings', () => {
  it('defaults to claimed tenants, a 5 s proxy queue, half a backend per client and a bounded replay store', () => {
    const { config } = loadConfig(DEV);
    expect(config.tenant).toEqual({ from: 'claimed', bindings: new Map(), known: undefined });
    expect(config.proxy).toMatchObject({ queueTimeoutMs: 5000, clientShare: 0.5 });
    expect(config.replay).toMatchObject({ maxKeys: 1_000_000, clientShare: 0.1 });
    expect(config.admission.keyIds).toEqual([]);
  });

  it('reads tenant bindings and known tenants, and checks they agree', () => {
    const { config } = loadConfig({
      ...DEV,
      ORCH_TENANT_FROM: 'DPoP',
      ORCH_TENANT_BINDINGS: '{"spiffe://td/sa/a=b":"acme","jkt-1":"globex"}',
      ORCH_TENANTS: 'acme, globex',
    });
    expect(config.tenant.from).toBe('dpop');
    expect(config.tenant.bindings.get('spiffe://td/sa/a=b')).toBe('acme');
    expect([...(config.tenant.known ?? [])]).toEqual(['acme', 'globex']);
    expect(problems({ ...DEV, ORCH_TENANT_FROM: 'header' })).toEqual([
      expect.stringMatching(/^ORCH_TENANT_FROM: 'header' is not one of claimed, san, admission, dpop/),
    ]);
    expect(problems({ ...DEV, ORCH_TENANT_FROM: 'san' })).toEqual([expect.stringMatching(/needs TLS/)]);
    expect(problems({ ...DEV, ORCH_TENANT_FROM: 'admission' })).toEqual([expect.stringMatching(/ADMISSION_SECRET/)]);
    expect(problems({ ...DEV, ORCH_TENANT_BINDINGS: 'x=acme', ORCH_TENANTS: 'globex' })).toEqual([
      expect.stringMatching(/'x' is bound to 'acme', which ORCH_TENANTS does not list/),
    ]);
    expect(problems({ ...DEV, ORCH_TENANTS: 'a,a' })[0]).toMatch(/listed twice/);
    expect(problems({ ...DEV, ORCH_TENANT_BINDINGS: 'x=a b' })[0]).toMatch(/ORCH_TENANT_BINDINGS/);
  });

  it('writes SAN bindings as the guards compare SANs, and refuses what is no SAN', () => {
    const tls = { ORCH_TLS_CERT_FILE: 'c.pem', ORCH_TLS_KEY_FILE: 'k.pem', ORCH_TLS_CLIENT_CA_FILE: 'ca.pem' };
    const { config } = loadConfig({
      ...tls,
      ORCH_TENANT_FROM: 'san',
      ORCH_TENANT_BINDINGS: 'SPIFFE://TD/sa/Billing=acme,Svc.Example.com=globex',
    });
    expect([...config.tenant.bindings]).toEqual([
      ['spiffe://td/sa/Billing', 'acme'],
      ['svc.example.com', 'globex'],
    ]);
    expect(problems({ ...tls, ORCH_TENANT_FROM: 'san', ORCH_TENANT_BINDINGS: 'a..b=acme' })).toEqual([
      expect.stringMatching(/'a\.\.b' is neither a URI nor a DNS name SAN/),
    ]);
  });

  it('names admission key ids by position unless given, one per secret', () => {
    const secrets = { ...DEV, ADMISSION_SECRET: 'first-secret-0123456789,second-secret-0123456789' };
    expect(loadConfig(secrets).config.admission.keyIds).toEqual(['1', '2']);
    expect(loadConfig({ ...secrets, ORCH_ADMISSION_KEY_IDS: 'acme,partner' }).config.admission.keyIds).toEqual([
      'acme',
      'partner',
    ]);
    expect(problems({ ...secrets, ORCH_ADMISSION_KEY_IDS: 'acme' })[0]).toMatch(/one key id per ADMISSION_SECRET/);
  });

  it('refuses DPoP required without ORCH_PUBLIC_URL, saying why', () => {
    expect(problems({ ...DEV, ORCH_DPOP_REQUIRED: '1' })).toEqual([
      expect.stringMatching(/^ORCH_PUBLIC_URL: required with ORCH_DPOP_REQUIRED=1/),
    ]);
    expect(problems({ ...DEV, ORCH_DPOP_REQUIRED: '1', ORCH_PUBLIC_URL: 'https://gw.example.com' })).toEqual([]);
  });

  it('refuses shares outside (0, 1]', () => {
    for (const key of ['ORCH_PROXY_CLIENT_SHARE', 'ORCH_REPLAY_CLIENT_SHARE']) {
      expect(problems({ ...DEV, [key]: '0' })[0], key).toMatch(new RegExp(`^${key}`));
      expect(problems({ ...DEV, [key]: '1.5' })[0], key).toMatch(new RegExp(`^${key}`));
    }
  });
});

describe('audit ledger and tracing settings', () => {
  it('defaults to a 64 MiB rotation, group commit of 256 / 50 ms, 10 s aggregation, 1000 entries per type per s', () => {
    const { config } = loadConfig(DEV);
    expect(config.ledger).toEqual({
      path: 'data/ledger-orchestrator.jsonl',
      signingKey: undefined,
      rotateBytes: 64 * 1024 * 1024,
      batchMaxEntries: 256,
      flushIntervalMs: 50,
      aggregateWindowMs: 10_000,
      maxPerTypePerSecond: 1000,
      checkpointEvery: 1000,
      headPath: 'data/ledger-orchestrator.jsonl.head',
      acceptHeadless: false,
    });
    expect(config.tracing).toEqual({
      otlpEndpoint: undefined,
      serviceName: 'shieldx-orchestrator',
      sampler: 'parentbased_always_on',
      samplerRatio: 1,
    });
  });

  it('reads the ledger settings, sizes with units, and a signing key it never prints', () => {
    const secret = 'hmac:correct-horse-battery-staple';
    const { config } = loadConfig({
      ...DEV,
      ORCH_LEDGER_SIGNING_KEY: secret,
      ORCH_LEDGER_ROTATE_BYTES: '8m',
      ORCH_LEDGER_BATCH: '1024',
      ORCH_LEDGER_FLUSH_INTERVAL: '5ms',
      ORCH_LEDGER_AGGREGATE_WINDOW: '0s',
      ORCH_LEDGER_MAX_PER_SECOND: '50',
    });
    expect(config.ledger).toMatchObject({
      rotateBytes: 8 * 1024 * 1024,
      batchMaxEntries: 1024,
      flushIntervalMs: 5,
      aggregateWindowMs: 0,
      maxPerTypePerSecond: 50,
    });
    expect(config.ledger.signingKey).toMatchObject({ kind: 'hmac', secret: 'correct-horse-battery-staple' });
    expect(JSON.stringify(config)).not.toContain('correct-horse');
    expect(loadConfig({ ...DEV, ORCH_LEDGER_ROTATE_BYTES: '0' }).config.ledger.rotateBytes).toBe(0);
  });

  it('accepts an Ed25519 PEM written on one line with \\n escapes', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const { config } = loadConfig({ ...DEV, ORCH_LEDGER_SIGNING_KEY: `ed25519:${pem.replace(/\n/g, '\\n')}` });
    expect(config.ledger.signingKey?.kind).toBe('ed25519');
  });

  it('names bad ledger and tracing settings without repeating a secret', () => {
    const found = problems({
      ...DEV,
      ORCH_LEDGER_SIGNING_KEY: 'hmac:short-secret',
      ORCH_LEDGER_ROTATE_BYTES: 'lots',
      ORCH_LEDGER_BATCH: '0',
      ORCH_LEDGER_FLUSH_INTERVAL: '50',
      ORCH_LEDGER_MAX_PER_SECOND: '-1',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://collector:4318',
    });
    expect(found.map((line) => line.split(':')[0])).toEqual([
      'ORCH_LEDGER_SIGNING_KEY',
      'ORCH_LEDGER_ROTATE_BYTES',
      'ORCH_LEDGER_BATCH',
      'ORCH_LEDGER_FLUSH_INTERVAL',
      'ORCH_LEDGER_MAX_PER_SECOND',
      'OTEL_EXPORTER_OTLP_ENDPOINT',
    ]);
    expect(found[0]).toMatch(/at least 16 bytes/);
    expect(found.join('\n')).not.toContain('short-secret');
    expect(problems({ ...DEV, ORCH_LEDGER_SIGNING_KEY: 'plain-secret-without-a-kind' })[0]).toMatch(
      /^ORCH_LEDGER_SIGNING_KEY: expected "hmac:<secret>"/,
    );
  });

  it('turns tracing on with an OTLP endpoint, without a trailing slash', () => {
    const { config } = loadConfig({
      ...DEV,
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318/',
      OTEL_SERVICE_NAME: 'edge-gw',
    });
    expect(config.tracing).toMatchObject({ otlpEndpoint: 'http://127.0.0.1:4318', serviceName: 'edge-gw' });
  });

  it('reads the trace sampler by its OpenTelemetry name and the ratio as a share', () => {
    const { config } = loadConfig({
      ...DEV,
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
      OTEL_TRACES_SAMPLER: ' ParentBased_TraceIdRatio ',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
    });
    expect(config.tracing).toMatchObject({ sampler: 'parentbased_traceidratio', samplerRatio: 0.25 });
  });

  it('refuses an unknown trace sampler and a ratio outside 0-1, naming the key', () => {
    expect(problems({ ...DEV, OTEL_TRACES_SAMPLER: 'jaeger_remote' })[0]).toMatch(
      /^OTEL_TRACES_SAMPLER: 'jaeger_remote' is not one of always_on, always_off, traceidratio/,
    );
    for (const ratio of ['1.5', '-0.1', 'half', 'NaN']) {
      expect(problems({ ...DEV, OTEL_TRACES_SAMPLER_ARG: ratio })[0]).toMatch(/^OTEL_TRACES_SAMPLER_ARG: /);
    }
  });
});

describe('scale-out settings', () => {
  it('defaults to one process, an instance id of host and pid, and a 100 000-entry audit stream', () => {
    const { config } = loadConfig(DEV);
    expect(config.cluster).toMatchObject({
      workers: 1,
      workerIndex: undefined,
      auditStream: 'shieldx:audit',
      auditStreamMaxLen: 100_000,
      resyncEveryMs: 5000,
    });
    expect(config.cluster.instanceId).toMatch(new RegExp(`:${process.pid}$`));
    expect(config.redis.cluster).toBeUndefined();
  });

  it('reads ORCH_WORKERS as a count or auto, and gives a worker its slot, instance suffix and ledger file', () => {
    expect(loadConfig({ ...DEV, ORCH_WORKERS: '4' }).config.cluster.workers).toBe(4);
    expect(loadConfig({ ...DEV, ORCH_WORKERS: 'auto' }).config.cluster.workers).toBeGreaterThanOrEqual(1);
    const { config } = loadConfig({
      ...DEV,
      ORCH_WORKERS: '2',
      ORCH_WORKER_INDEX: '2',
      ORCH_INSTANCE_ID: 'gw-0',
      ORCH_LEDGER_PATH: '/var/lib/shieldx/ledger.jsonl',
    });
    expect(config.cluster).toMatchObject({ workers: 2, workerIndex: 2, instanceId: 'gw-0/w2' });
    expect(config.ledger.path).toBe('/var/lib/shieldx/ledger.w2.jsonl');
    expect(loadConfig({ ...DEV, ORCH_WORKER_INDEX: '1' }).config.ledger.path).toBe('data/ledger-orchestrator.w1.jsonl');
  });

  it('reads REDIS_CLUSTER seed nodes and refuses it beside REDIS_ADDR', () => {
    const { config } = loadConfig({ ...DEV, REDIS_CLUSTER: '127.0.0.1:7000, redis://:s3cret@127.0.0.1:7001' });
    expect(config.redis.cluster).toEqual(['redis://127.0.0.1:7000', 'redis://:s3cret@127.0.0.1:7001']);
    expect(config.redis.url).toBe('redis://127.0.0.1:7000');
    const found = problems({ ...DEV, REDIS_CLUSTER: '127.0.0.1:7000', REDIS_ADDR: '127.0.0.1:6379' });
    expect(found).toEqual([expect.stringMatching(/^REDIS_CLUSTER: set either REDIS_CLUSTER/)]);
    expect(problems({ ...DEV, REDIS_CLUSTER: 'redis://127.0.0.1:7000/2' })[0]).toMatch(/no database numbers/);
  });

  it('names bad scale-out settings', () => {
    const found = problems({
      ...DEV,
      ORCH_WORKERS: '0',
      ORCH_WORKER_INDEX: 'x',
      ORCH_INSTANCE_ID: 'has space',
      ORCH_AUDIT_STREAM: '',
      ORCH_AUDIT_STREAM_MAXLEN: '-1',
      ORCH_CLUSTER_RESYNC_EVERY: '0s',
    });
    expect(found.map((line) => line.split(':')[0]).sort()).toEqual([
      'ORCH_AUDIT_STREAM_MAXLEN',
      'ORCH_CLUSTER_RESYNC_EVERY',
      'ORCH_INSTANCE_ID',
      'ORCH_WORKERS',
      'ORCH_WORKER_INDEX',
    ]);
  });
});
