export { AllowAllPolicy } from './allow-all';
export { POLICY_ACTIONS, isPolicyAction } from './decision';
export type { Decision, PolicyAction, PolicyEngine, PolicyIdentity, PolicyInput } from './decision';
