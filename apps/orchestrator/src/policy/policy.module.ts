import { Global, Module } from '@nestjs/common';
import { AllowAllPolicy } from '@shieldx/policy';

/** Injection token of the active {@link import('@shieldx/policy').PolicyEngine}. */
export const POLICY_ENGINE = Symbol('POLICY_ENGINE');

/** Wires the policy port. Today: allow-all; base rules, OPA and the decision cache plug in here. */
@Global()
@Module({
  providers: [{ provide: POLICY_ENGINE, useFactory: () => new AllowAllPolicy() }],
  exports: [POLICY_ENGINE],
})
export class PolicyModule {}
