import { Counter, Gauge, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { OrchestratorConfig } from '../config/config';
import type { SecurityEvents } from '../events/security-events';
import { AdaptiveProtection, MAX_SHARED_KEYS, sharedFactor, type SharedAdaptiveKey } from './adaptive-protection';

const T0 = 1_800_000_000_000;

function protection(mode: 'shadow' | 'enforce' = 'enforce'): AdaptiveProtection {
  const registry = new Registry();
  const config = {
    adaptive: { mode, sensitivity: 1, minLearningMs: 120_000, tightenFactor: 0.1, recoveryMs: 60_000 },
    cluster: { instanceId: 'here' },
  } as unknown as OrchestratorConfig;
  const events = { emit: () => undefined } as unknown as SecurityEvents;
  const changes = new Counter({ name: 'c', help: 'c', labelNames: ['change', 'scope', 'mode'], registers: [registry] });
  const tightened = new Gauge({ name: 'g', help: 'g', labelNames: ['scope'], registers: [registry] });
  return new AdaptiveProtection(config, events, changes, tightened);
}

function shared(overrides: Partial<SharedAdaptiveKey> = {}): SharedAdaptiveKey {
  return {
    key: 'tenant:acme',
    origin: 'there',
    phase: 'tightened',
    since: T0,
    recoveringSince: 0,
    tightenFactor: 0.1,
    recoveryMs: 60_000,
    enforced: true,
    baselineRate: 5,
    currentRate: 300,
    thresholdRate: 20,
    expiresAt: T0 + 15_000,
    ...overrides,
  };
}

describe(AdaptiveProtection.name, () => {
  it('applies the lowest factor another instance gives a key, on that key only', () => {
    const adaptive = protection();
    expect(adaptive.factor('tenant:acme', T0)).toBe(1);
    adaptive.applyShared(shared());
    adaptive.applyShared(shared({ origin: 'third', tightenFactor: 0.25 }));
    expect(adaptive.factor('tenant:acme', T0 + 1)).toBe(0.1);
    expect(adaptive.factor('tenant:other', T0 + 1)).toBe(1);
    adaptive.dropShared('there', 'tenant:acme');
    expect(adaptive.factor('tenant:acme', T0 + 2)).toBe(0.25);
    adaptive.dropShared('third', 'tenant:acme');
    expect(adaptive.factor('tenant:acme', T0 + 3)).toBe(1);
  });

  it('climbs with the recovery and ignores an entry whose lease ended', () => {
    const adaptive = protection();
    adaptive.applyShared(shared({ phase: 'recovering', recoveringSince: T0, expiresAt: T0 + 100_000 }));
    expect(adaptive.factor('tenant:acme', T0 + 30_000)).toBeCloseTo(0.55, 10);
    expect(adaptive.factor('tenant:acme', T0 + 60_000)).toBe(1);
    adaptive.applyShared(shared({ expiresAt: T0 + 10 }));
    expect(adaptive.factor('tenant:acme', T0 + 5)).toBe(0.1);
    expect(adaptive.factor('tenant:acme', T0 + 10)).toBe(1);
    expect(adaptive.tightenedEverywhere(T0 + 10)).toEqual([]);
  });

  it("lists another instance's keys beside its own, but applies neither from a shadow instance nor in shadow", () => {
    const enforcing = protection();
    enforcing.applyShared(shared({ enforced: false }));
    expect(enforcing.factor('tenant:acme', T0)).toBe(1);
    expect(enforcing.tightenedEverywhere(T0)).toEqual([
      expect.objectContaining({ key: 'tenant:acme', instance: 'there', phase: 'tightened', factor: 0.1 }),
    ]);
    const watching = protection('shadow');
    watching.applyShared(shared());
    expect(watching.factor('tenant:acme', T0)).toBe(1);
  });

  it('releases a key held only by another instance and announces it; a release from another instance is not', () => {
    const adaptive = protection();
    const announced: string[] = [];
    adaptive.onRelease((key) => announced.push(key));
    expect(adaptive.release('tenant:acme', T0)).toBe(false);
    adaptive.applyShared(shared());
    expect(adaptive.release('tenant:acme', T0)).toBe(true);
    expect(adaptive.factor('tenant:acme', T0)).toBe(1);
    adaptive.applyShared(shared());
    expect(adaptive.releaseHere('tenant:acme', T0)).toBe(true);
    expect(announced).toEqual(['tenant:acme']);
  });

  it('holds at most MAX_SHARED_KEYS shared keys, and a full read replaces them', () => {
    const adaptive = protection();
    for (let i = 0; i < MAX_SHARED_KEYS; i++) expect(adaptive.applyShared(shared({ key: `ip:10.0.${i}` }))).toBe(true);
    expect(adaptive.applyShared(shared({ key: 'ip:one-too-many' }))).toBe(false);
    // Renewing a held entry is always possible.
    expect(adaptive.applyShared(shared({ key: 'ip:10.0.1', expiresAt: T0 + 20_000 }))).toBe(true);
    adaptive.replaceShared([shared({ key: 'ip:kept' }), shared({ key: 'ip:expired', expiresAt: T0 })], T0);
    expect(adaptive.tightenedEverywhere(T0).map((entry) => entry.key)).toEqual(['ip:kept']);
    expect(adaptive.applyShared(shared({ key: 'ip:one-too-many' }))).toBe(true);
  });
});

describe(sharedFactor.name, () => {
  it('is the tighten factor, climbs linearly over the recovery, and is 1 past the lease', () => {
    expect(sharedFactor(shared(), T0)).toBe(0.1);
    const recovering = shared({ phase: 'recovering', recoveringSince: T0, recoveryMs: 0 });
    expect(sharedFactor(recovering, T0)).toBe(1);
    expect(sharedFactor(shared({ phase: 'recovering', recoveringSince: T0 + 1000 }), T0)).toBe(0.1);
    expect(sharedFactor(shared(), T0 + 15_000)).toBe(1);
  });
});
