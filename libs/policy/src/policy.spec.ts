import { mkdtempSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BaseRulesPolicy, parseBaseRules } from './base-rules';
import { DecisionCache, decisionCacheKey } from './decision-cache';
import type { PolicyInput } from './decision';
import { OpaPolicy, toDecision } from './opa';
import { PolicyManager, type PolicyManagerOptions } from './policy-manager';
import { readTarGz } from './tar';
import { buildBundle, regoDecision } from './testing/opa-build';

const ROOT = join(__dirname, '../../..');
const DEFAULT_RULES = join(ROOT, 'policies/shieldx/rules/data.json');
const DEFAULT_BUNDLE = join(ROOT, 'policies/build/policy.tar.gz');

const INPUT: PolicyInput = {
  service: 'api',
  tenant: 'acme',
  scope: 'read',
  path: '/v1/items',
  method: 'POST',
  ip: '10.0.0.1',
  identity: { uris: [], dns: [] },
  dpop: { jkt: null },
  poolHealth: 1,
  headers: {},
};

const input = (over: Partial<PolicyInput>): PolicyInput => ({ ...INPUT, ...over });

describe(parseBaseRules.name, () => {
  it('reads the bundled default', () => {
    const rules = parseBaseRules(readFileSync(DEFAULT_RULES, 'utf8'));
    expect(rules.allowAll).toBe(true);
    expect(rules.advanced.map((r) => r.action)).toEqual(['deny', 'tarpit', 'divert']);
    expect(rules.advanced[1]?.tarpitMs).toBe(1500);
  });

  it('names the bad field', () => {
    expect(() => parseBaseRules('{')).toThrow(/not valid JSON/);
    expect(() => parseBaseRules('{"allow_all":"yes"}')).toThrow(/allow_all must be true or false/);
    expect(() => parseBaseRules('{"alow_all":true}')).toThrow(/unknown field 'alow_all'/);
    expect(() => parseBaseRules('{"advanced":[{"tenant":"*","scopes":["*"],"action":"permit"}]}')).toThrow(
      /advanced\[0\]\.action/,
    );
    expect(() => parseBaseRules('{"advanced":[{"tenant":"*","scopes":["*"],"action":"divert"}]}')).toThrow(/divert_to/);
    expect(() => parseBaseRules('{"allowed":[{"tenant":"a","scopes":[]}]}')).toThrow(
      /allowed\[0\]\.scopes must not be empty/,
    );
    expect(() => parseBaseRules('{"tarpit_ms":-1}')).toThrow(/tarpit_ms/);
  });

  it('lets a path_prefix ending in / cover the directory itself, and nothing beside it', () => {
    const policy = new BaseRulesPolicy(
      parseBaseRules(
        JSON.stringify({
          allow_all: true,
          advanced: [{ tenant: '*', scopes: ['*'], path_prefix: '/internal/', action: 'deny' }],
        }),
      ),
    );
    const at = (path: string) => policy.decide({ ...INPUT, path }).action;
    expect([at('/internal'), at('/internal/'), at('/internal/x')]).toEqual(['deny', 'deny', 'deny']);
    expect([at('/internals'), at('/intern'), at('/'), at('/x/internal')]).toEqual(['allow', 'allow', 'allow', 'allow']);
  });

  it('refuses a path_prefix that requests could never match: not canonical, or refused as a path', () => {
    const rule = (prefix: string) =>
      JSON.stringify({ advanced: [{ tenant: '*', scopes: ['*'], path_prefix: prefix, action: 'deny' }] });
    expect(() => parseBaseRules(rule('/%69nternal/'))).toThrow(/canonical form: '\/internal\/'/);
    expect(() => parseBaseRules(rule('/./internal//'))).toThrow(/canonical form: '\/internal\/'/);
    expect(() => parseBaseRules(rule('/a;b'))).toThrow(/path_prefix is refused/);
    expect(parseBaseRules(rule('/internal/')).advanced[0]?.pathPrefix).toBe('/internal/');
  });
});

describe(BaseRulesPolicy.name, () => {
  const policy = new BaseRulesPolicy(parseBaseRules(readFileSync(DEFAULT_RULES, 'utf8')));

  it('applies the first matching advanced rule, then allow_all', () => {
    expect(policy.decide(INPUT).action).toBe('allow');
    expect(policy.decide(input({ path: '/internal/x' })).action).toBe('deny');
    expect(policy.decide(input({ path: '/internalize' })).action).toBe('allow');
    expect(policy.decide(input({ scope: 'scanner' }))).toMatchObject({ action: 'tarpit', tarpitMs: 1500 });
    expect(policy.decide(input({ tenant: 'quarantine' }))).toMatchObject({ action: 'divert', divertTo: 'static' });
    expect(policy.decide(input({ tenant: 'quarantine', path: '/internal/x' })).action).toBe('deny');
  });

  it('uses the allowed list when allow_all is off and denies the rest', () => {
    const strict = new BaseRulesPolicy(
      parseBaseRules('{"allow_all":false,"allowed":[{"tenant":"acme","scopes":["read"]}]}'),
    );
    expect(strict.decide(INPUT).action).toBe('allow');
    expect(strict.decide(input({ scope: 'write' })).action).toBe('deny');
    expect(strict.decide(input({ tenant: 'other' })).action).toBe('deny');
  });
});

describe(DecisionCache.name, () => {
  it('keys on every field, without concatenation collisions', () => {
    const keys = new Set([
      decisionCacheKey(INPUT),
      decisionCacheKey(input({ tenant: 'acm', scope: 'eread' })),
      decisionCacheKey(input({ identity: { uris: ['spiffe://x'], dns: [] } })),
      decisionCacheKey(input({ identity: { uris: [], dns: ['spiffe://x'] } })),
      decisionCacheKey(input({ dpop: { jkt: 'abc' } })),
      decisionCacheKey(input({ poolHealth: 0.5 })),
      decisionCacheKey(input({ headers: { 'user-agent': 'curl' } })),
      decisionCacheKey(input({ ip: '10.0.0.2' })),
      decisionCacheKey(input({ method: 'GET' })),
    ]);
    expect(keys.size).toBe(9);
    expect(decisionCacheKey({ ...INPUT })).toBe(decisionCacheKey(INPUT));
  });

  it('hashes long inputs, so a key stays small whatever the caller sends', () => {
    const long = input({ path: `/${'a'.repeat(2000)}`, headers: { 'user-agent': 'x'.repeat(4000) } });
    const key = decisionCacheKey(long);
    expect(key).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(decisionCacheKey(input({ path: `/${'a'.repeat(2000)}b`, headers: long.headers }))).not.toBe(key);
    expect(decisionCacheKey(INPUT)).toContain(':');
  });

  it('serves within the TTL, evicts least recently used, and forgets on clear', () => {
    const cache = new DecisionCache(2, 1000);
    const allow = { action: 'allow' as const };
    cache.set('a', allow, 0, cache.currentGeneration);
    cache.set('b', allow, 0, cache.currentGeneration);
    expect(cache.get('a', 500)).toEqual({ action: 'allow', cached: true });
    cache.set('c', allow, 0, cache.currentGeneration);
    expect(cache.get('b', 500)).toBeUndefined();
    expect(cache.get('a', 1000)).toBeUndefined();
    const stale = cache.currentGeneration;
    cache.clear();
    cache.set('d', allow, 0, stale);
    expect(cache.get('d', 1)).toBeUndefined();
    expect(cache.stats()).toEqual({ hits: 1, misses: 3, size: 0 });
  });
});

describe(toDecision.name, () => {
  it('accepts a string action or a decision object and refuses anything else', () => {
    expect(toDecision('deny')).toEqual({ action: 'deny' });
    expect(toDecision({ action: 'divert', divert_to: 'x', reason: 'r' })).toEqual({
      action: 'divert',
      divertTo: 'x',
      reason: 'r',
    });
    expect(toDecision({ action: 'tarpit', tarpit_ms: 250.4 })).toEqual({ action: 'tarpit', tarpitMs: 250 });
    expect(() => toDecision(true)).toThrow(/not a decision/);
    expect(() => toDecision({ action: 'maybe' })).toThrow(/action/);
    expect(() => toDecision({ action: 'tarpit', tarpit_ms: -5 })).toThrow(/tarpit_ms/);
  });
});

describe(OpaPolicy.name, () => {
  it('loads the committed default bundle and agrees with the base rules on every action', async () => {
    const opa = await OpaPolicy.load(readFileSync(DEFAULT_BUNDLE), 'shieldx/routing/decision', 'default');
    const base = new BaseRulesPolicy(parseBaseRules(readFileSync(DEFAULT_RULES, 'utf8')));
    for (const over of [
      {},
      { path: '/internal/x' },
      { scope: 'scanner' },
      { tenant: 'quarantine' },
      { tenant: 'quarantine', path: '/internal/a' },
    ]) {
      const i = input(over);
      expect(opa.decide(i)).toEqual(base.decide(i));
    }
  });

  it('loads a bare policy.wasm too', async () => {
    const wasm = readTarGz(readFileSync(DEFAULT_BUNDLE)).get('policy.wasm');
    const opa = await OpaPolicy.load(wasm!, 'shieldx/routing/decision', 'policy.wasm');
    // Without data.json the rules are undefined, so the policy's default (deny) answers.
    expect(opa.decide(INPUT).action).toBe('deny');
  });

  it('refuses what is not a policy with a message naming the file', async () => {
    await expect(OpaPolicy.load(new Uint8Array(), 'e', 'empty.wasm')).rejects.toThrow(/empty.wasm is empty/);
    await expect(OpaPolicy.load(Buffer.from('hello'), 'e', 'text.wasm')).rejects.toThrow(/text.wasm is neither/);
    const notOpa = Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
    await expect(OpaPolicy.load(notOpa, 'e', 'plain.wasm')).rejects.toThrow(/plain.wasm is not an OPA policy/);
    const bundle = readFileSync(DEFAULT_BUNDLE);
    await expect(OpaPolicy.load(bundle.subarray(0, 2000), 'e', 'cut.tar.gz')).rejects.toThrow(
      /cut.tar.gz is not a readable bundle/,
    );
    await expect(OpaPolicy.load(bundle, 'shieldx/other', 'default')).rejects.toThrow(/no entrypoint 'shieldx\/other'/);
  });
});

describe(PolicyManager.name, () => {
  let dir: string;
  let bundles: Record<'deny' | 'tarpit' | 'divert' | 'bad' | 'allow', string>;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'shieldx-policy-'));
    bundles = {
      allow: buildBundle(dir, 'allow', { 'p/policy.rego': regoDecision('"allow"') }),
      deny: buildBundle(dir, 'deny', { 'p/policy.rego': regoDecision('{"action": "deny", "reason": "closed"}') }),
      tarpit: buildBundle(dir, 'tarpit', { 'p/policy.rego': regoDecision('{"action": "tarpit", "tarpit_ms": 20}') }),
      divert: buildBundle(dir, 'divert', {
        'p/policy.rego': regoDecision('{"action": "divert", "divert_to": data.shieldx.honeypot}'),
        'shieldx/data.json': '{"honeypot": "static"}',
      }),
      bad: buildBundle(dir, 'bad', { 'p/policy.rego': regoDecision('42') }),
    };
  }, 60_000);

  function options(over: Partial<PolicyManagerOptions>, opaFile = join(dir, 'active.tar.gz')): PolicyManagerOptions {
    return {
      rulesPath: DEFAULT_RULES,
      opaPath: opaFile,
      entrypoint: 'shieldx/routing/decision',
      enforce: true,
      cache: { maxEntries: 100, ttlMs: 60_000 },
      readFile: (path) => readFile(path),
      clock: { now: () => 0 },
      ...over,
    };
  }

  it('enforces each action from real compiled Rego', async () => {
    for (const [name, expected] of [
      ['allow', { action: 'allow' }],
      ['deny', { action: 'deny', reason: 'closed' }],
      ['tarpit', { action: 'tarpit', tarpitMs: 20 }],
      ['divert', { action: 'divert', divertTo: 'static' }],
    ] as const) {
      const manager = await PolicyManager.create(options({}, bundles[name]));
      expect(manager.decide(INPUT)).toEqual(expected);
      expect(manager.source).toBe('opa');
    }
  });

  it('counts an evaluation over its budget as failed: the error mode decides, and the hook says why', async () => {
    // Real work in the wasm: a comprehension over a million numbers takes over 60 ms here, the allow bundle µs.
    const slow = buildBundle(dir, 'slow', {
      'p/policy.rego': `package shieldx.routing\n\nimport rego.v1\n\nwork := count([x | some x in numbers.range(1, 1000000)])\n\ndecision := "allow" if work > 0\n`,
    });
    const errors: string[] = [];
    const over = await PolicyManager.create(
      options({ evalBudgetMs: 5, onError: 'deny', hooks: { evalError: (kind) => errors.push(kind) } }, slow),
    );
    expect(over.decide(INPUT)).toEqual({ action: 'deny', reason: 'policy evaluation failed' });
    expect(errors).toEqual(['slow']);
    const within = await PolicyManager.create(options({ evalBudgetMs: 5, onError: 'deny' }, bundles.allow));
    expect(within.decide(INPUT)).toEqual({ action: 'allow' });
  });

  it('in shadow mode lets the base rules decide and reports disagreements', async () => {
    const disagreements: string[] = [];
    const manager = await PolicyManager.create(
      options(
        { enforce: false, hooks: { disagreement: (base, opa) => disagreements.push(`${base.action}/${opa.action}`) } },
        bundles.deny,
      ),
    );
    expect(manager.decide(INPUT).action).toBe('allow');
    expect(disagreements).toEqual(['allow/deny']);
    expect(manager.status()).toMatchObject({ source: 'base-rules (opa shadow)', opaLoaded: true, enforce: false });
  });

  it("promotes another manager's policy: its engines and mode decide, version +1, cache flushed", async () => {
    const active = await PolicyManager.create(options({ enforce: false }, bundles.deny));
    expect(active.decide(INPUT).action).toBe('allow');
    const candidate = await PolicyManager.create(
      options({ enforce: true, cache: { maxEntries: 0, ttlMs: 0 } }, bundles.deny),
    );
    expect(active.promote(candidate)).toBe(2);
    expect(active.decide(INPUT)).toEqual({ action: 'deny', reason: 'closed' });
    expect(active.status()).toMatchObject({ version: 2, source: 'opa', enforce: true, cache: { size: 1 } });
    // A reload reads the manager's own files again, in its own mode.
    await active.reload();
    expect(active.decide(INPUT).action).toBe('allow');
    expect(active.source).toBe('base-rules (opa shadow)');
  });

  it('takes other settings live: loaded and self-checked first, swapped as one step, refused whole', async () => {
    const manager = await PolicyManager.create(options({ enforce: false, opaPath: undefined }));
    expect(manager.decide(INPUT).action).toBe('allow');
    const settings = {
      rulesPath: DEFAULT_RULES,
      opaPath: bundles.deny,
      entrypoint: 'shieldx/routing/decision',
      enforce: true,
      onError: 'deny' as const,
      evalBudgetMs: 1000,
      cache: { maxEntries: 0, ttlMs: 0 },
    };
    // A policy that cannot load changes nothing: same version, same engine, no error recorded on the running one.
    expect(await manager.reconfigure({ ...settings, opaPath: join(dir, 'missing.tar.gz') })).toMatchObject({
      ok: false,
      version: 1,
      error: expect.stringMatching(/missing\.tar\.gz/),
    });
    expect(manager.status()).toMatchObject({ version: 1, source: 'base-rules', lastError: null });
    expect(await manager.reconfigure(settings)).toEqual({ ok: true, version: 2 });
    expect(manager.decide(INPUT)).toEqual({ action: 'deny', reason: 'closed' });
    expect(manager.status()).toMatchObject({ version: 2, source: 'opa', enforce: true, cache: { size: 0 } });
    // A reload asked while a reconfiguration runs shares it, and later reloads keep the new settings.
    const [again, shared] = [manager.reconfigure({ ...settings, opaPath: bundles.tarpit }), manager.reload()];
    expect(await shared).toEqual(await again);
    expect((await manager.reload()).ok).toBe(true);
    expect(manager.decide(INPUT)).toEqual({ action: 'tarpit', tarpitMs: 20 });
  });

  it('evaluates what-if inputs beside the cache and the hooks; decide reports every decision it answers', async () => {
    const decided: string[] = [];
    const disagreements: string[] = [];
    const manager = await PolicyManager.create(
      options(
        {
          enforce: false,
          hooks: {
            decided: (input, decision) => decided.push(`${input.tenant}:${decision.action}`),
            disagreement: (base, opa) => disagreements.push(`${base.action}/${opa.action}`),
          },
        },
        bundles.deny,
      ),
    );
    expect(manager.evaluate(input({ tenant: 'what-if' })).action).toBe('allow');
    expect(decided).toEqual([]);
    expect(disagreements).toEqual([]);
    expect(manager.status().cache).toEqual({ hits: 0, misses: 0, size: 0 });
    manager.decide(INPUT);
    manager.decide(INPUT);
    expect(decided).toEqual(['acme:allow', 'acme:allow']);
    const rulesOnly = await PolicyManager.create(
      options({ opaPath: undefined, hooks: { decided: () => decided.push('rules') } }),
    );
    rulesOnly.decide(INPUT);
    expect(decided.at(-1)).toBe('rules');
  });

  it('shows its rules: base rules as parsed, and the Rego a bundle carries', async () => {
    const rules = (await PolicyManager.create(options({}, DEFAULT_BUNDLE))).rules();
    expect(rules.source).toBe('opa');
    expect(rules.entrypoint).toBe('shieldx/routing/decision');
    expect(rules.baseRules.advanced[0]).toMatchObject({ pathPrefix: '/internal/', action: 'deny' });
    expect(rules.rego.map((module) => module.path)).toEqual(['policies/shieldx/routing/decision.rego']);
    expect(rules.rego[0]?.text).toContain('package shieldx.routing');
    const bare = await PolicyManager.create(options({ opaPath: undefined }));
    expect(bare.rules()).toMatchObject({ source: 'base-rules', entrypoint: null, rego: [] });
  });

  it('serves the second identical call from the cache and misses after a reload', async () => {
    const active = join(dir, 'active.tar.gz');
    copyFileSync(bundles.allow, active);
    let hits = 0;
    let misses = 0;
    const manager = await PolicyManager.create(
      options({ hooks: { cacheHit: () => hits++, cacheMiss: () => misses++ } }),
    );
    expect(manager.decide(INPUT)).toEqual({ action: 'allow' });
    expect(manager.decide(INPUT)).toEqual({ action: 'allow', cached: true });
    expect([hits, misses]).toEqual([1, 1]);
    copyFileSync(bundles.deny, active);
    expect(await manager.reload()).toEqual({ ok: true, version: 2 });
    expect(manager.decide(INPUT)).toEqual({ action: 'deny', reason: 'closed' });
    expect([hits, misses]).toEqual([1, 2]);
    expect(manager.status().lastError).toBeNull();
  });

  it('keeps the last good policy when the new file is corrupted, truncated, not a policy, or answers nonsense', async () => {
    const active = join(dir, 'active.tar.gz');
    copyFileSync(bundles.deny, active);
    const manager = await PolicyManager.create(options({}));
    const good = readFileSync(bundles.allow);
    const breakages: [string, Uint8Array][] = [
      ['truncated', good.subarray(0, good.length / 2)],
      ['garbage', Buffer.from('not a policy at all')],
      ['plain wasm', Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00])],
      ['nonsense output', readFileSync(bundles.bad)],
    ];
    for (const [name, bytes] of breakages) {
      writeFileSync(active, bytes);
      const outcome = await manager.reload();
      expect(outcome.ok, name).toBe(false);
      expect(manager.version, name).toBe(1);
      expect(manager.decide(INPUT), name).toMatchObject({ action: 'deny', reason: 'closed' });
      expect(manager.status().lastError, name).toContain('active.tar.gz');
    }
  });

  it('answers every concurrent request from one policy or the other during a swap', async () => {
    // A deny with a reason of its own: a failed evaluation (fail closed) answers deny too, and must not pass for it.
    const swapped = buildBundle(dir, 'swap-deny', {
      'p/policy.rego': regoDecision('{"action": "deny", "reason": "swapped in"}'),
    });
    const active = join(dir, 'active.tar.gz');
    copyFileSync(bundles.allow, active);
    const manager = await PolicyManager.create(options({ cache: { maxEntries: 0, ttlMs: 0 } }));
    const before = manager.decide(INPUT);
    expect(before.action).toBe('allow');
    copyFileSync(swapped, active);
    const answers = new Set<string>();
    const reload = manager.reload();
    const ticks = Array.from(
      { length: 200 },
      (_, i) =>
        new Promise<void>((resolve) =>
          setImmediate(() => {
            const decision = manager.decide(input({ path: `/p/${i}` }));
            answers.add(`${decision.action}:${decision.reason ?? ''}`);
            resolve();
          }),
        ),
    );
    await Promise.all([reload, ...ticks]);
    const old = `allow:${before.reason ?? ''}`;
    expect([...answers].filter((a) => a !== old && a !== 'deny:swapped in')).toEqual([]);
    expect(manager.decide(INPUT)).toMatchObject({ action: 'deny', reason: 'swapped in' });
  });

  it('fails closed when evaluation fails in enforce mode, or open when configured', async () => {
    const errors: string[] = [];
    const traps = buildBundle(dir, 'trap', {
      'p/policy.rego': regoDecision('{"action": "allow", "n": 1 / count(input.identity.uris)}'),
    });
    // The self-check input has no URIs, so this policy cannot even load:
    await expect(PolicyManager.create(options({}, traps))).rejects.toThrow(/self-check evaluation failed|no decision/);
    const conditional = buildBundle(dir, 'conditional', {
      'p/policy.rego': 'package shieldx.routing\n\nimport rego.v1\n\ndecision := "allow" if input.tenant != "ghost"\n',
    });
    const closed = await PolicyManager.create(
      options({ hooks: { evalError: (kind) => errors.push(kind) } }, conditional),
    );
    expect(closed.decide(input({ tenant: 'ghost' }))).toEqual({ action: 'deny', reason: 'policy evaluation failed' });
    const open = await PolicyManager.create(options({ onError: 'allow' }, conditional));
    expect(open.decide(input({ tenant: 'ghost' })).action).toBe('allow');
    expect(errors).toEqual(['error']);
  });

  it('refuses to start on a broken base-rules file, naming it', async () => {
    const rules = join(dir, 'rules.json');
    writeFileSync(rules, '{"allow_all": "maybe"}');
    await expect(PolicyManager.create(options({ rulesPath: rules, opaPath: undefined }))).rejects.toThrow(
      /rules.json: allow_all/,
    );
    await expect(
      PolicyManager.create(options({ rulesPath: join(dir, 'missing.json'), opaPath: undefined })),
    ).rejects.toThrow(/cannot read .*missing.json: ENOENT/);
  });
});

describe('threat scores and costs in the policy', () => {
  const threat = (score: number) => ({ threat: { score, reasons: ['test'] }, ip_reputation: 100 - score });

  it('base rules: thresholds on the threat score come before every other rule', () => {
    const rules = parseBaseRules(
      JSON.stringify({
        allow_all: true,
        tarpit_ms: 250,
        threat: { deny_above: 80, tarpit_above: 50 },
        advanced: [{ tenant: '*', scopes: ['*'], path_prefix: '/export/', action: 'allow', cost: 5 }],
      }),
    );
    const policy = new BaseRulesPolicy(rules);
    expect(policy.decide(input(threat(81)))).toEqual({ action: 'deny', reason: 'threat score 81 above 80' });
    expect(policy.decide(input(threat(80)))).toMatchObject({ action: 'tarpit', tarpitMs: 250 });
    expect(policy.decide(input(threat(50))).action).toBe('allow');
    // No score (no threat service): no threshold applies.
    expect(policy.decide(INPUT).action).toBe('allow');
    expect(policy.decide(input({ path: '/export/all' }))).toMatchObject({ action: 'allow', cost: 5 });
    const divert = new BaseRulesPolicy(
      parseBaseRules(JSON.stringify({ allow_all: true, threat: { divert_above: 60, divert_to: 'honeypot' } })),
    );
    expect(divert.decide(input(threat(61)))).toMatchObject({ action: 'divert', divertTo: 'honeypot' });
  });

  it('base rules: refuses malformed thresholds and costs, naming the field', () => {
    const parse = (doc: unknown) => () => parseBaseRules(JSON.stringify(doc));
    expect(parse({ threat: { deny_above: 101 } })).toThrow(/threat.deny_above must be an integer score/);
    expect(parse({ threat: { deny_above: 50, tarpit_above: 60 } })).toThrow(/must be below deny_above/);
    expect(parse({ threat: { tarpit_above: 10, divert_above: 20, divert_to: 'x' } })).toThrow(/not both/);
    expect(parse({ threat: { divert_above: 20 } })).toThrow(/threat.divert_to must name a pool/);
    expect(parse({ threat: { deny_above: 20, typo: 1 } })).toThrow(/unknown field 'typo'/);
    expect(parse({ advanced: [{ tenant: '*', scopes: ['*'], path_prefix: '/', action: 'allow', cost: -1 }] })).toThrow(
      /advanced\[0\].cost must be an integer/,
    );
    expect(parse({ advanced: [{ tenant: '*', scopes: ['*'], path_prefix: '/', action: 'deny', cost: 2 }] })).toThrow(
      /cost is for rules that let the request through/,
    );
  });

  it('the decision cache tells inputs with different scores apart', () => {
    expect(decisionCacheKey(input(threat(10)))).not.toBe(decisionCacheKey(input(threat(90))));
    expect(decisionCacheKey(input(threat(10)))).not.toBe(decisionCacheKey(INPUT));
  });

  it('an OPA policy reads input.ip_reputation and may name a cost', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shieldx-policy-threat-'));
    const bundle = buildBundle(dir, 'reputation', {
      'policy.rego': regoDecision(
        '{"action": "deny", "reason": "low reputation"} if { input.ip_reputation < 20 } ' +
          'else := {"action": "allow", "cost": 3}',
      ),
    });
    const opa = await OpaPolicy.load(readFileSync(bundle), 'shieldx/routing/decision', 'reputation');
    expect(opa.decide(input(threat(90)))).toEqual({ action: 'deny', reason: 'low reputation' });
    expect(opa.decide(input(threat(10)))).toEqual({ action: 'allow', cost: 3 });
    expect(() => toDecision({ action: 'allow', cost: 1.5 })).toThrow(/cost must be an integer/);
  });
});
