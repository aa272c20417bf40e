/**
 * The security events, one member per type: what each carries is part of the audit ledger's format
 * (docs/ledger.md). `data` never holds secrets; client addresses in it are anonymised by the log sink.
 */
import type { ActingUser } from './acting-user';

interface EventOf<T extends string, D> {
  readonly type: T;
  /** The request's correlation id, when a request caused the event. */
  readonly corrId?: string;
  readonly data: D;
}

/** What a routing decision's events say about the request. */
export type DecisionEventData = {
  readonly service: string;
  readonly tenant: string;
  readonly scope: string;
  readonly path: string;
  readonly reason: string | null;
  /** Set by the events port when the caller's own correlation id was not taken as the request's. */
  readonly callerCorrId?: string;
};

/** A pool as recorded in `pool.changed`: its algorithm and backends with weights. */
export type PoolDefinitionData = {
  readonly algo: string;
  readonly backends: readonly { readonly url: string; readonly weight: number }[];
};

/** `pool.changed`: by the admin API on this instance, or applied from another instance (`source: 'cluster'`). */
export type PoolChangedData = {
  readonly pool: string;
  readonly kind: 'created' | 'updated' | 'removed';
  readonly before: PoolDefinitionData | null;
  readonly after: PoolDefinitionData | null;
  readonly actor: string;
} & (
  { readonly source?: undefined } | { readonly source: 'cluster'; readonly origin: string; readonly version: number }
);

/** One side's figures over a rollout's analysis window, as recorded in `rollout.step`. */
export type RolloutSideData = {
  readonly requests: number;
  readonly errors: number;
  readonly errorRate: number;
  readonly p99Ms: number | null;
};

/**
 * `rollout.step`: a progressive rollout of a pool started, passed its preview, advanced, was paused or resumed,
 * promoted, rolled back, aborted, or carried on after a restart. `actor` is the admin for manual changes, `gateway`
 * for the automatic analysis.
 */
export type RolloutStepData = {
  readonly pool: string;
  readonly kind: string;
  readonly from: string;
  readonly to: string;
  readonly fromPercent: number;
  readonly toPercent: number;
  readonly reason: string;
  readonly actor: string;
  /** `preview` (the canary gets copies only) or `traffic` (clients' requests are split), after the transition. */
  readonly phase?: string;
  readonly stable: RolloutSideData;
  readonly canary: RolloutSideData;
};

/** `auth.failed`, by the check that refused: admin token, caller proof, client certificate, tenant binding. */
export type AuthFailedData =
  | {
      readonly scheme: 'admin';
      readonly reason: string;
      /** The request refused: on the first refusal of a client address for a reason, not on the count that follows. */
      readonly method?: string;
      readonly route?: string | null;
      readonly ip: string;
      readonly identity?: readonly string[];
      /**
       * Set on the entry written when a 10 s window ends: how many more refusals of the address for the reason (and
       * person) it stands for, the first having been written on its own; in the form of the ledger's own aggregation.
       */
      readonly repeated?: {
        readonly count: number;
        readonly firstAt: string;
        readonly lastAt: string;
        readonly windowMs: number;
        readonly lastCorrId: string | null;
      };
      /** A role refusal: the role the route needs. */
      readonly requiredRole?: string;
      /** A role refusal: the person refused. */
      readonly user?: ActingUser;
    }
  | {
      readonly mechanism: 'admission' | 'dpop';
      readonly code: string;
      readonly reason?: string;
      readonly method: string;
      readonly route: string;
      readonly ip: string;
      readonly suppressedSincePrevious: number;
    }
  | {
      readonly mechanism: 'mtls';
      readonly reason: string;
      readonly presentedSans: readonly string[];
      readonly subject?: string;
      readonly fingerprint256?: string;
    }
  | { readonly reason: string; readonly tenant: string };

/**
 * `ratelimit.adaptive`: a client IP (`ip:…`) or tenant (`tenant:…`) whose rate went far above its own baseline and its
 * population's was tightened, started recovering, or relaxed (ORCH_ADAPTIVE). Rates are requests per second.
 */
export type AdaptiveEventData = {
  readonly change: 'tightened' | 'recovering' | 'relaxed';
  readonly key: string;
  /** `enforce`: the factor applies to the key's bucket; `shadow`: only recorded. */
  readonly mode: 'shadow' | 'enforce';
  readonly baselineRate: number;
  readonly currentRate: number;
  readonly thresholdRate: number;
  readonly factor: number;
  readonly cause?: string;
};

/**
 * `policy.reloaded`: the policy files were loaded again, by a watched file changing (`watch`), an admin
 * (`admin`, `config` for a configuration reload) or another instance's admin reload (`cluster`). `actor` names who
 * asked when a person or credential did (`user:<sub>`, `token`, `san:<entry>`, `signal`), like every admin action.
 */
export type PolicyReloadedData = { readonly trigger: string; readonly version: number; readonly actor?: string } & (
  { readonly result: 'success' } | { readonly result: 'rejected'; readonly error: string }
);

/**
 * `admin.session`, reported by the admin UI's server (`POST /admin/ui-events`): a person signed in or out, was
 * refused sign-in (no mapped role, a failed exchange), or was refused an action by the UI. `actor` is the credential
 * that reported it; the person is in `user` when the report carried their assertion, else in `claimed` (as the UI
 * read it from the identity provider, not verified by the orchestrator).
 */
export type AdminSessionData = {
  readonly event: 'sign_in' | 'sign_out' | 'sign_in_refused' | 'action_refused';
  readonly actor: string;
  readonly reason?: string;
  readonly claimed?: { readonly sub?: string; readonly email?: string; readonly idp?: string };
  readonly method?: string;
  readonly path?: string;
};

/** Every security event. */
export type SecurityEvent =
  | EventOf<'policy.deny', DecisionEventData>
  | EventOf<'policy.divert', DecisionEventData & { readonly divertTo: string | null }>
  | EventOf<'policy.tarpit', DecisionEventData & { readonly holdMs: number }>
  | EventOf<
      'ratelimit.denied',
      { readonly scope: string; readonly key: string; readonly suppressedSincePrevious: number }
    >
  | EventOf<'ratelimit.adaptive', AdaptiveEventData>
  | EventOf<'auth.failed', AuthFailedData>
  | EventOf<
      'tls.reloaded',
      {
        readonly fingerprint256: string;
        readonly subject: string;
        readonly notAfter: string;
        readonly certFile: string;
        readonly previousFingerprint?: string;
      }
    >
  | EventOf<'tls.rejected', { readonly file: string; readonly reason: string; readonly keptFingerprint?: string }>
  | EventOf<'policy.reloaded', PolicyReloadedData>
  | EventOf<'pool.changed', PoolChangedData>
  | EventOf<
      'breaker.transition',
      {
        readonly pool: string;
        readonly backend: string;
        readonly from: string;
        readonly to: string;
        readonly openForMs: number | null;
      }
    >
  | EventOf<'admin.action', { readonly action: string; readonly actor: string; readonly [detail: string]: unknown }>
  | EventOf<'rollout.step', RolloutStepData>
  | EventOf<'admin.session', AdminSessionData>;

/** The kinds of security event. */
export type SecurityEventType = SecurityEvent['type'];
