import { canonicalPath } from './canonical-path';
import {
  isCost,
  isPolicyAction,
  MAX_COST,
  type Decision,
  type PolicyAction,
  type PolicyEngine,
  type PolicyInput,
} from './decision';

/** An advanced rule: the first one whose tenant, scopes and path prefix match decides. `*` matches anything. */
export interface AdvancedRule {
  readonly tenant: string;
  readonly scopes: readonly string[];
  readonly pathPrefix: string;
  readonly action: PolicyAction;
  readonly divertTo?: string;
  readonly tarpitMs?: number;
  readonly reason?: string;
  /** Quota units a request this rule allows costs (checked with the quota service). */
  readonly cost?: number;
}

/**
 * Thresholds on the client IP's threat score (`input.threat.score`, 0-100), applied before any other rule when a
 * threat service is configured: above `denyAbove` the request is denied; above `tarpitAbove` (or `divertAbove`) it is
 * held (or diverted to `divertTo`). Absent: no threshold.
 */
export interface ThreatThresholds {
  readonly denyAbove?: number;
  readonly tarpitAbove?: number;
  readonly divertAbove?: number;
  readonly divertTo?: string;
}

/**
 * Base rules (the `ORCH_POLICY_PATH` JSON): `{allow_all, allowed: [{tenant, scopes}], advanced: [{tenant, scopes,
 * path_prefix, action, divert_to?, tarpit_ms?, reason?}], tarpit_ms}`. Order of evaluation: the first matching advanced
 * rule; then `allow_all`; then the `allowed` list; otherwise deny.
 */
export interface BaseRules {
  readonly allowAll: boolean;
  readonly allowed: readonly { readonly tenant: string; readonly scopes: readonly string[] }[];
  readonly advanced: readonly AdvancedRule[];
  /** Hold time of a tarpit rule that names none, in ms. Default 1000. */
  readonly tarpitMs: number;
  readonly threat?: ThreatThresholds;
}

/** Thrown when a base-rules document is malformed; the message names the field. */
export class BaseRulesError extends Error {
  override readonly name = 'BaseRulesError';
}

const MAX_TARPIT_MS = 60_000;

/** Parses and validates a base-rules JSON text. Unknown fields are refused so typos do not silently open access. */
export function parseBaseRules(text: string): BaseRules {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new BaseRulesError(`not valid JSON: ${(error as Error).message}`);
  }
  const doc = object(raw, 'the document');
  only(doc, ['allow_all', 'allowed', 'advanced', 'tarpit_ms', 'threat'], 'the document');
  const allowAll = doc['allow_all'] ?? false;
  if (typeof allowAll !== 'boolean') throw new BaseRulesError('allow_all must be true or false');
  const tarpitMs = doc['tarpit_ms'] ?? 1000;
  if (!isHold(tarpitMs)) throw new BaseRulesError(`tarpit_ms must be an integer of ms in [0, ${MAX_TARPIT_MS}]`);
  const allowed = list(doc['allowed'] ?? [], 'allowed').map((item, i) => {
    const where = `allowed[${i}]`;
    const entry = object(item, where);
    only(entry, ['tenant', 'scopes'], where);
    return { tenant: text_(entry['tenant'], `${where}.tenant`), scopes: strings(entry['scopes'], `${where}.scopes`) };
  });
  const advanced = list(doc['advanced'] ?? [], 'advanced').map((item, i): AdvancedRule => {
    const where = `advanced[${i}]`;
    const rule = object(item, where);
    only(rule, ['tenant', 'scopes', 'path_prefix', 'action', 'divert_to', 'tarpit_ms', 'reason', 'cost'], where);
    const action = rule['action'];
    if (!isPolicyAction(action)) throw new BaseRulesError(`${where}.action must be allow, deny, divert or tarpit`);
    const pathPrefix = rule['path_prefix'] ?? '/';
    if (typeof pathPrefix !== 'string' || !pathPrefix.startsWith('/')) {
      throw new BaseRulesError(`${where}.path_prefix must be a path starting with /`);
    }
    // Requests are matched in their canonical form, so a prefix in any other spelling would never match.
    const canonical = canonicalPath(pathPrefix);
    if (!canonical.ok) throw new BaseRulesError(`${where}.path_prefix is refused: ${canonical.reason}`);
    if (canonical.path !== pathPrefix) {
      throw new BaseRulesError(`${where}.path_prefix must be written in canonical form: '${canonical.path}'`);
    }
    const divertTo = rule['divert_to'];
    if (action === 'divert' && (typeof divertTo !== 'string' || divertTo === '')) {
      throw new BaseRulesError(`${where}.divert_to must name a pool for a divert rule`);
    }
    const hold = rule['tarpit_ms'];
    if (hold !== undefined && !isHold(hold))
      throw new BaseRulesError(`${where}.tarpit_ms must be an integer of ms in [0, ${MAX_TARPIT_MS}]`);
    const reason = rule['reason'];
    if (reason !== undefined && typeof reason !== 'string') throw new BaseRulesError(`${where}.reason must be text`);
    const cost = rule['cost'];
    if (cost !== undefined && !isCost(cost)) {
      throw new BaseRulesError(`${where}.cost must be an integer in [0, ${MAX_COST}]`);
    }
    if (cost !== undefined && action !== 'allow' && action !== 'divert' && action !== 'tarpit') {
      throw new BaseRulesError(`${where}.cost is for rules that let the request through`);
    }
    return {
      tenant: text_(rule['tenant'], `${where}.tenant`),
      scopes: strings(rule['scopes'], `${where}.scopes`),
      pathPrefix,
      action,
      ...(action === 'divert' ? { divertTo: divertTo as string } : {}),
      ...(action === 'tarpit' ? { tarpitMs: (hold as number | undefined) ?? (tarpitMs as number) } : {}),
      ...(reason !== undefined ? { reason } : {}),
      ...(typeof cost === 'number' && cost > 0 ? { cost } : {}),
    };
  });
  const threat = doc['threat'] === undefined ? undefined : parseThreatThresholds(doc['threat']);
  return { allowAll, allowed, advanced, tarpitMs: tarpitMs as number, ...(threat !== undefined ? { threat } : {}) };
}

/** The `threat` object: `{deny_above?, tarpit_above?, divert_above?, divert_to?}`, scores 0-100. */
function parseThreatThresholds(value: unknown): ThreatThresholds {
  const where = 'threat';
  const doc = object(value, where);
  only(doc, ['deny_above', 'tarpit_above', 'divert_above', 'divert_to'], where);
  const score = (key: string): number | undefined => {
    const raw = doc[key];
    if (raw === undefined) return undefined;
    if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 0 || raw > 100) {
      throw new BaseRulesError(`${where}.${key} must be an integer score in [0, 100]`);
    }
    return raw;
  };
  const denyAbove = score('deny_above');
  const tarpitAbove = score('tarpit_above');
  const divertAbove = score('divert_above');
  if (tarpitAbove !== undefined && divertAbove !== undefined) {
    throw new BaseRulesError(`${where} may hold tarpit_above or divert_above, not both`);
  }
  const lower = tarpitAbove ?? divertAbove;
  if (denyAbove !== undefined && lower !== undefined && lower >= denyAbove) {
    throw new BaseRulesError(`${where}: the tarpit/divert threshold must be below deny_above`);
  }
  const divertTo = doc['divert_to'];
  if (divertAbove !== undefined && (typeof divertTo !== 'string' || divertTo === '')) {
    throw new BaseRulesError(`${where}.divert_to must name a pool when divert_above is set`);
  }
  if (divertTo !== undefined && divertAbove === undefined) {
    throw new BaseRulesError(`${where}.divert_to is only for divert_above`);
  }
  return {
    ...(denyAbove !== undefined ? { denyAbove } : {}),
    ...(tarpitAbove !== undefined ? { tarpitAbove } : {}),
    ...(divertAbove !== undefined ? { divertAbove, divertTo: divertTo as string } : {}),
  };
}

/**
 * Whether `path` (canonical) falls under `prefix`: it starts with it, or — for a prefix ending in `/` — it is that
 * directory itself (`/internal/` covers `/internal`, which servers answer with the directory's index or a redirect).
 */
function matchPath(prefix: string, path: string): boolean {
  if (path.startsWith(prefix)) return true;
  return prefix.length > 1 && prefix.endsWith('/') && path.length === prefix.length - 1 && prefix.startsWith(path);
}

/** The base-rules engine: a pure, synchronous function of the input. */
export class BaseRulesPolicy implements PolicyEngine {
  readonly source = 'base-rules';
  private readonly advanced: readonly Decision[];

  constructor(
    /** The rules as parsed (shown by the admin API). */
    readonly rules: BaseRules,
  ) {
    this.advanced = rules.advanced.map((rule) =>
      Object.freeze({
        action: rule.action,
        ...(rule.divertTo !== undefined ? { divertTo: rule.divertTo } : {}),
        ...(rule.tarpitMs !== undefined ? { tarpitMs: rule.tarpitMs } : {}),
        reason: rule.reason ?? 'advanced rule',
        ...(rule.cost !== undefined ? { cost: rule.cost } : {}),
      }),
    );
  }

  decide(input: PolicyInput): Decision {
    const { threat } = this.rules;
    if (threat !== undefined && input.threat !== undefined) {
      const verdict = this.byThreat(threat, input.threat.score);
      if (verdict !== undefined) return verdict;
    }
    const { advanced } = this.rules;
    for (let i = 0; i < advanced.length; i++) {
      const rule = advanced[i];
      if (
        matchTenant(rule.tenant, input.tenant) &&
        matchScope(rule.scopes, input.scope) &&
        matchPath(rule.pathPrefix, input.path)
      ) {
        return this.advanced[i];
      }
    }
    if (this.rules.allowAll) return ALLOW_ALL;
    for (const entry of this.rules.allowed) {
      if (matchTenant(entry.tenant, input.tenant) && matchScope(entry.scopes, input.scope)) return ALLOWED;
    }
    return DENIED;
  }

  /** The threshold decision for `score`, if one is crossed. */
  private byThreat(threat: ThreatThresholds, score: number): Decision | undefined {
    if (threat.denyAbove !== undefined && score > threat.denyAbove) {
      return { action: 'deny', reason: `threat score ${score} above ${threat.denyAbove}` };
    }
    if (threat.tarpitAbove !== undefined && score > threat.tarpitAbove) {
      return {
        action: 'tarpit',
        tarpitMs: this.rules.tarpitMs,
        reason: `threat score ${score} above ${threat.tarpitAbove}`,
      };
    }
    if (threat.divertAbove !== undefined && score > threat.divertAbove) {
      return {
        action: 'divert',
        divertTo: threat.divertTo,
        reason: `threat score ${score} above ${threat.divertAbove}`,
      };
    }
    return undefined;
  }
}

const ALLOW_ALL: Decision = Object.freeze({ action: 'allow', reason: 'allow_all' });
const ALLOWED: Decision = Object.freeze({ action: 'allow', reason: 'allowed list' });
const DENIED: Decision = Object.freeze({ action: 'deny', reason: 'not allowed by any rule' });

function matchTenant(rule: string, tenant: string): boolean {
  return rule === '*' || rule === tenant;
}

function matchScope(scopes: readonly string[], scope: string): boolean {
  return scopes.includes('*') || scopes.includes(scope);
}

function isHold(value: unknown): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_TARPIT_MS;
}

function object(value: unknown, where: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new BaseRulesError(`${where} must be an object`);
  return value as Record<string, unknown>;
}

function only(value: Record<string, unknown>, keys: readonly string[], where: string): void {
  for (const key of Object.keys(value)) {
    if (!keys.includes(key)) throw new BaseRulesError(`${where} has an unknown field '${key}'`);
  }
}

function list(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value)) throw new BaseRulesError(`${where} must be a list`);
  return value;
}

function text_(value: unknown, where: string): string {
  if (typeof value !== 'string' || value === '') throw new BaseRulesError(`${where} must be non-empty text`);
  return value;
}

function strings(value: unknown, where: string): string[] {
  const items = list(value, where);
  if (items.length === 0) throw new BaseRulesError(`${where} must not be empty (use ["*"] for any)`);
  return items.map((item, i) => text_(item, `${where}[${i}]`));
}
