export { canonicalPath, MAX_PATH_CHARS } from './canonical-path';
export type { CanonicalPath } from './canonical-path';
export { BaseRulesError, BaseRulesPolicy, parseBaseRules } from './base-rules';
export type { AdvancedRule, BaseRules, ThreatThresholds } from './base-rules';
export { DecisionCache, decisionCacheKey } from './decision-cache';
export { MAX_COST, POLICY_ACTIONS, isCost, isPolicyAction } from './decision';
export type { Decision, PolicyAction, PolicyEngine, PolicyIdentity, PolicyInput, ThreatVerdict } from './decision';
export { OpaPolicy, OpaPolicyError, toDecision } from './opa';
export type { RegoSource } from './opa';
export { PolicyManager } from './policy-manager';
export type {
  PolicyErrorMode,
  PolicyHooks,
  PolicyManagerOptions,
  PolicySettings,
  PolicyRules,
  PolicyStatus,
  ReloadOutcome,
} from './policy-manager';
export { readTarGz } from './tar';
