export { BaseRulesError, BaseRulesPolicy, parseBaseRules } from './base-rules';
export type { AdvancedRule, BaseRules } from './base-rules';
export { DecisionCache, decisionCacheKey } from './decision-cache';
export { POLICY_ACTIONS, isPolicyAction } from './decision';
export type { Decision, PolicyAction, PolicyEngine, PolicyIdentity, PolicyInput } from './decision';
export { OpaPolicy, OpaPolicyError, toDecision } from './opa';
export { PolicyManager } from './policy-manager';
export type { PolicyErrorMode, PolicyHooks, PolicyManagerOptions, PolicyStatus, ReloadOutcome } from './policy-manager';
export { readTarGz } from './tar';
