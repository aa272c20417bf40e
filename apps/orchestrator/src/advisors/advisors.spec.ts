import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../config/config';
import { readQuotaAnswer } from './quota.service';
import { readThreatAnswer } from './threat-scores';

describe(readThreatAnswer.name, () => {
  it('keeps a score in [0, 100] and bounded text reasons', () => {
    expect(readThreatAnswer({ score: 42.4, reasons: ['tor', 7, 'x'.repeat(500)] })).toEqual({
      score: 42,
      reasons: ['tor', 'x'.repeat(128)],
    });
    expect(readThreatAnswer({ score: 0 })).toEqual({ score: 0, reasons: [] });
    expect(readThreatAnswer({ score: 1, reasons: Array.from({ length: 40 }, () => 'r') }).reasons).toHaveLength(16);
  });

  it('refuses what is not a score', () => {
    for (const bad of [null, [], 'high', { score: -1 }, { score: 101 }, { score: '5' }, { score: 5, reasons: 'x' }]) {
      expect(() => readThreatAnswer(bad)).toThrow();
    }
  });
});

describe(readQuotaAnswer.name, () => {
  it('reads allowed and remaining, refuses anything else', () => {
    expect(readQuotaAnswer({ allowed: true, remaining: 9.7 })).toEqual({ allowed: true, remaining: 9 });
    for (const bad of [{}, { allowed: 'yes', remaining: 1 }, { allowed: true, remaining: -1 }, { allowed: false }]) {
      expect(() => readQuotaAnswer(bad)).toThrow();
    }
  });
});

describe('advisor settings', () => {
  const base = { ORCH_ALLOW_INSECURE: '1', ORCH_POOL_API: 'http://127.0.0.1:9' };

  it('reads the threat and quota settings with their defaults', () => {
    const { config } = loadConfig({
      ...base,
      ORCH_THREAT_URL: 'http://127.0.0.1:7000/score',
      ORCH_THREAT_ON_ERROR: 'score:70',
      ORCH_QUOTA_URL: 'http://127.0.0.1:7001/quota?x=1',
      ORCH_QUOTA_SCOPES: 'write, export',
    });
    expect(config.threat).toMatchObject({
      url: 'http://127.0.0.1:7000/score',
      timeoutMs: 50,
      onError: { kind: 'score', score: 70 },
      cacheTtlMs: 60_000,
    });
    expect(config.quota).toMatchObject({ scopes: ['write', 'export'], onError: 'allow', timeoutMs: 50 });
    expect(loadConfig(base).config.threat.url).toBeUndefined();
    expect(loadConfig(base).config.quota.scopes).toEqual([]);
  });

  it('refuses a bad URL, a query on the threat URL and a bad fail mode', () => {
    const bad = (env: Record<string, string>) => () => loadConfig({ ...base, ...env });
    expect(bad({ ORCH_THREAT_URL: 'ftp://127.0.0.1/x' })).toThrow(ConfigError);
    expect(bad({ ORCH_THREAT_URL: 'http://127.0.0.1:7000/score?k=1' })).toThrow(/must not have a query/);
    expect(bad({ ORCH_THREAT_ON_ERROR: 'score:101' })).toThrow(/allow, deny or score/);
    expect(bad({ ORCH_QUOTA_ON_ERROR: 'score:1' })).toThrow(ConfigError);
    expect(bad({ ORCH_QUOTA_URL: 'http://user:pw@127.0.0.1/q' })).toThrow(/credentials/);
  });
});
