import type * as Api from './api-types';
import type { PolicyAction } from './types';

/** The actions in the order the orchestrator lists them. */
export const POLICY_ACTIONS: readonly PolicyAction[] = ['allow', 'deny', 'divert', 'tarpit'];

/** An advanced base rule as the orchestrator parsed it. */
export type AdvancedRule = Api.AdvancedRule;
/** The rules of one policy (`GET /admin/policy/rules`). */
export type PolicyRules = Api.PolicyRules;
/** `GET /admin/policy/rules`. */
export type RulesAnswer = Api.RulesReport;
/** A decision as the admin API shows it. */
export type DecisionView = Api.Decision;
/** `GET /admin/policy/shadow`. */
export type ShadowAnswer = Api.ShadowReport;
/** One heavy hitter of `GET /admin/policy/denied`. */
export type TopEntry = Api.TopEntry;
/** `GET /admin/policy/denied`. */
export type DeniedAnswer = Api.DeniedAnswer;
/** `POST /admin/policy/evaluate`. */
export type EvaluateAnswer = Api.EvaluateAnswer;
/** `POST /admin/policy/promote`. */
export type PromoteAnswer = Api.PromoteAnswer;
