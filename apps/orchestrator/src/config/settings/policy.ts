/** Settings of the routing policy: base rules, OPA, its decision cache and what a decision may hold. */
import { SERVICE_PATTERN } from '../names';
import { integerIn, oneOf, parseDuration, parseFlag, positiveDuration, textMatching, trimmed } from '../parse';
import { setting, type Section } from '../setting';

/** Policy. */
export const POLICY: Section = {
  title: 'Policy',
  lead: 'Behaviour: [Policy](policy.md).',
  settings: [
    setting({
      key: 'ORCH_POLICY_PATH',
      at: 'policy.path',
      parse: trimmed,
      fallback: undefined,
      shownDefault: 'bundled `policies/shieldx/rules/data.json`',
      doc: 'base rules JSON',
      see: [{ title: 'Policy', href: 'policy.md' }],
    }),
    setting({
      key: 'ORCH_OPA_POLICY_PATH',
      at: 'policy.opaPath',
      parse: trimmed,
      fallback: undefined,
      doc: 'compiled OPA policy (`.wasm` or bundle `.tar.gz`)',
    }),
    setting({
      key: 'ORCH_OPA_ENTRYPOINT',
      at: 'policy.opaEntrypoint',
      parse: textMatching(/^[A-Za-z0-9_]+(\/[A-Za-z0-9_]+)*$/, 'is not an entrypoint like shieldx/routing/decision'),
      default: 'shieldx/routing/decision',
      doc: 'entrypoint of the OPA policy',
    }),
    setting({
      key: 'ORCH_OPA_ENFORCE',
      at: 'policy.opaEnforce',
      parse: parseFlag,
      fallback: false,
      doc: '`1` = OPA decides, otherwise shadow mode',
    }),
    setting({
      key: 'ORCH_OPA_CACHE_TTL',
      at: 'policy.cacheTtlMs',
      parse: parseDuration,
      default: '2s',
      doc: 'how long a decision is kept in the cache in front of OPA',
    }),
    setting({
      key: 'ORCH_OPA_CACHE_MAX',
      at: 'policy.cacheMax',
      parse: integerIn(0, 10_000_000),
      default: '10000',
      doc: 'most decisions in that cache',
    }),
    setting({
      key: 'ORCH_POLICY_ON_ERROR',
      at: 'policy.onError',
      parse: oneOf(['deny', 'allow']),
      default: 'deny',
      doc: 'what decides when OPA fails to evaluate in enforce mode: `deny` = fail closed, or `allow`',
    }),
    setting({
      key: 'ORCH_OPA_EVAL_BUDGET',
      at: 'policy.evalBudgetMs',
      parse: positiveDuration,
      default: '1s',
      doc: 'OPA evaluations longer than this count as failures',
    }),
    setting({
      key: 'ORCH_SHADOW_POLICY_PATH',
      at: 'policy.shadowPath',
      parse: trimmed,
      fallback: undefined,
      doc: 'candidate policy evaluated beside the active one, never deciding until promoted: base rules `.json`, else a compiled OPA policy (`.wasm` or bundle `.tar.gz`, at `ORCH_OPA_ENTRYPOINT`)',
      see: [{ title: 'Candidate policy', href: 'policy.md#candidate-policy' }],
    }),
    setting({
      key: 'ORCH_SHADOW_POLICY_QUEUE',
      at: 'policy.shadowQueue',
      parse: integerIn(1, 1_000_000),
      default: '1000',
      doc: "most requests waiting for the candidate's evaluation; beyond, they are not evaluated and counted in `orchestrator_policy_shadow_shed_total`",
    }),
    setting({
      key: 'ORCH_DIVERT_POOL',
      at: 'policy.divertPool',
      parse: textMatching(SERVICE_PATTERN, `is not a pool name (${SERVICE_PATTERN.source})`),
      fallback: undefined,
      doc: 'pool used by a `divert` decision that names none',
    }),
    setting({
      key: 'ORCH_TARPIT_MAX',
      at: 'policy.tarpitMax',
      parse: integerIn(0, 1_000_000),
      default: '1000',
      doc: 'most requests held in the tarpit at once (beyond: 429)',
    }),
  ],
};
