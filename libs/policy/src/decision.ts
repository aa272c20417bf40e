/** What the policy tells the gateway to do with one request. */
export type PolicyAction = 'allow' | 'deny' | 'divert' | 'tarpit';

/** Every action, in a stable order (for validation and metrics). */
export const POLICY_ACTIONS: readonly PolicyAction[] = ['allow', 'deny', 'divert', 'tarpit'];

/**
 * One decision. `divertTo` names a pool for `divert`; `tarpitMs` is the hold time in ms for `tarpit`; `cached` is true
 * when the decision came from the decision cache.
 */
export interface Decision {
  readonly action: PolicyAction;
  readonly divertTo?: string;
  readonly tarpitMs?: number;
  readonly reason?: string;
  readonly cached?: boolean;
  /** Units of the tenant's quota this request costs (checked with the quota service before it is served). */
  readonly cost?: number;
}

/** What the threat-score service said about the client IP (absent from the input when no service is configured). */
export interface ThreatVerdict {
  /** 0 (harmless) to 100 (hostile). */
  readonly score: number;
  /** The service's reasons; `unavailable` when the gateway went on without an answer (ORCH_THREAT_ON_ERROR). */
  readonly reasons: readonly string[];
}

/** The caller's verified identity as the transport and proof layers saw it. */
export interface PolicyIdentity {
  /** URI SANs (SPIFFE IDs) of the verified client certificate. */
  readonly uris: readonly string[];
  /** DNS SANs of the verified client certificate. */
  readonly dns: readonly string[];
}

/** The input document every policy engine sees. Every field here can change a decision. */
export interface PolicyInput {
  readonly service: string;
  readonly tenant: string;
  readonly scope: string;
  readonly path: string;
  readonly method: string;
  /** Client IP as the gateway resolved it (trusted proxies applied). */
  readonly ip: string;
  readonly identity: PolicyIdentity;
  /** RFC 7638 thumbprint of the DPoP key, when a proof was presented. */
  readonly dpop: { readonly jkt: string | null };
  /** Share of healthy backends of the target pool, 0..1. */
  readonly poolHealth: number;
  /** A few request headers policies may look at (lower-case names): `user-agent`. */
  readonly headers: Readonly<Record<string, string>>;
  /** The client IP's threat score, when a threat service is configured. */
  readonly threat?: ThreatVerdict;
  /** `100 − threat.score` (the name policies written for the original service read), with `threat`. */
  readonly ip_reputation?: number;
}

/**
 * The policy port. `decide` may answer synchronously (cache hit, base rules) or with a promise (an engine that must
 * wait); callers handle both without awaiting a plain value.
 */
export interface PolicyEngine {
  /** Short name for `/policy` and logs, e.g. `allow-all`, `base-rules`, `opa`. */
  readonly source: string;
  decide(input: PolicyInput): Decision | Promise<Decision>;
}

/** Largest quota cost one decision may carry. */
export const MAX_COST = 1_000_000;

/** A decision's `cost`: an integer of quota units in [0, {@link MAX_COST}]. */
export function isCost(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_COST;
}

/** Type guard for a policy action name. */
export function isPolicyAction(value: unknown): value is PolicyAction {
  return typeof value === 'string' && (POLICY_ACTIONS as readonly string[]).includes(value);
}
