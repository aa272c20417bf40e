import type { Decision, PolicyEngine } from './decision';

const ALLOW: Decision = Object.freeze({ action: 'allow', reason: 'allow-all' });

/** The first policy engine: allows every request. Stands in until base rules and OPA are configured. */
export class AllowAllPolicy implements PolicyEngine {
  readonly source = 'allow-all';

  decide(): Decision {
    return ALLOW;
  }
}
