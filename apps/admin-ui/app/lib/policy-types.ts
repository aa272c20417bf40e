import type { PolicyAction } from './types';

/** The actions in the order the orchestrator lists them. */
export const POLICY_ACTIONS: readonly PolicyAction[] = ['allow', 'deny', 'divert', 'tarpit'];

/** An advanced base rule as the orchestrator parsed it. */
export interface AdvancedRule {
  tenant: string;
  scopes: string[];
  pathPrefix: string;
  action: PolicyAction;
  divertTo?: string;
  tarpitMs?: number;
  reason?: string;
  cost?: number;
}

/** Base rules as parsed (`ORCH_POLICY_PATH`, or a `.json` candidate). */
export interface BaseRules {
  allowAll: boolean;
  allowed: { tenant: string; scopes: string[] }[];
  advanced: AdvancedRule[];
  tarpitMs: number;
  threat?: { denyAbove?: number; tarpitAbove?: number; divertAbove?: number; divertTo?: string };
}

/** The rules of one policy (`GET /admin/policy/rules`). */
export interface PolicyRules {
  source: string;
  baseRules: BaseRules;
  entrypoint: string | null;
  rego: { path: string; text: string }[];
}

/** `GET /admin/policy/rules`. */
export interface RulesAnswer {
  active: PolicyRules;
  candidate: PolicyRules | null;
}

/** A decision as the admin API shows it. */
export interface DecisionView {
  action: PolicyAction;
  reason?: string | null;
  divertTo?: string;
  tarpitMs?: number;
  cost?: number;
}

/** The candidate slot. */
export interface CandidateStatus {
  state: 'none' | 'loaded' | 'promoted' | 'failed';
  path: string | null;
  source: string | null;
  lastReload: string | null;
  lastError: string | null;
}

/** `GET /admin/policy/shadow`. */
export interface ShadowAnswer {
  candidate: CandidateStatus;
  since: string;
  evaluated: number;
  divergent: number;
  shed: number;
  pending: number;
  matrix: { active: PolicyAction; shadow: PolicyAction; count: number }[];
  samples: {
    at: string;
    input: { service: string; tenant: string; scope: string; path: string; method: string; ip: string };
    active: DecisionView;
    candidate: DecisionView;
  }[];
}

/** One heavy hitter of `GET /admin/policy/denied`. */
export interface TopEntry {
  key: string;
  count: number;
  error: number;
}

/** `GET /admin/policy/denied`. */
export interface DeniedAnswer {
  tenants: TopEntry[];
  paths: TopEntry[];
}

/** `POST /admin/policy/evaluate`. */
export interface EvaluateAnswer {
  input: Record<string, unknown>;
  active: DecisionView;
  candidate: DecisionView | null;
  differ: boolean;
}

/** `POST /admin/policy/promote`. */
export interface PromoteAnswer {
  promoted: true;
  version: number;
  source: string;
}
