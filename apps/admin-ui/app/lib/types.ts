/**
 * Shapes of the orchestrator's admin API as the UI reads them (the UI talks to it over HTTP only): the answers are
 * the types generated from the orchestrator's OpenAPI document (api-types.ts); the UI's own shapes follow.
 */
import type * as Api from './api-types';

/** One backend in `GET /admin/pools`. */
export type BackendView = Api.BackendJSON;
/** One pool in `GET /admin/pools`. */
export type PoolView = Api.AdminPoolView;
/** `GET /admin/pools`. */
export type PoolsAnswer = Api.PoolsAnswer;
/** A breaker's state name. */
export type BreakerState = Api.BreakerStateName;
/** One breaker in `GET /admin/breakers`. */
export type BreakerView = Api.BreakerView;
/** One transition, in `GET /admin/breakers` history and `breaker` events. */
export type BreakerTransition = Api.BreakerTransitionView;
/** `GET /admin/breakers`. */
export type BreakersAnswer = Api.BreakersAnswer;
/** `GET /admin/protection`: adaptive limits, threat scores and quotas. */
export type ProtectionAnswer = Api.ProtectionView;
/** `GET /admin/policy`. */
export type PolicyStatus = Api.PolicyStatus;
/** A policy action. */
export type PolicyAction = Api.PolicyAction;
/** `POST /admin/policy/reload`. */
export type ReloadAnswer = Api.PolicyReloadAnswer;
/** One overview sample (`metrics` events, `GET /admin/metrics`). */
export type MetricsSample = Api.MetricsSample;
/** `GET /admin/metrics`. */
export type MetricsAnswer = Api.MetricsAnswer;
/** An entry whose `data` is read as the gateway's events write it: an object, or nothing. */
type WithEventData<T> = Omit<T, 'data'> & { data: Record<string, unknown> | null };

/** One audit ledger entry. */
export type AuditEntry = WithEventData<Api.LedgerEntry>;
/** One entry of the shared audit stream (`GET /admin/cluster/audit`): a ledger entry of one instance, mirrored. */
export type StreamAuditEntry = WithEventData<Api.StreamAuditEntry>;
/** One page of `GET /admin/cluster/audit`, newest first. */
export type StreamAuditPage = Omit<Api.StreamAuditPage, 'entries'> & { entries: StreamAuditEntry[] };
/** `GET /admin/cluster`. */
export type ClusterStatus = Api.ClusterStatus;
/** One page of `GET /admin/audit` (newest first unless asked otherwise). */
export type AuditPage = Omit<Api.AuditAnswer, 'entries'> & { entries: AuditEntry[] };
/** `GET /admin/ledger/verify` when intact. */
export type VerifyOk = Api.LedgerVerifyAnswer;
/** The verification failure (the `details` of a 409 `ledger_broken`). */
export type VerifyFailure = Api.VerifyFailure;
/** `GET /admin/mirror`: the mirrored pools and how their copies compared with the real answers. */
export type MirrorAnswer = Api.MirrorAnswer;
/** One side's figures in the current interval of a rollout. */
export type RolloutSide = Api.SideSummary;
/** `GET /admin/rollouts`: the rollouts of the gateway. */
export type RolloutsAnswer = Api.RolloutsAnswer;

/**
 * An error body of the admin API (`correlationId` is absent from the errors of the UI's own relay); `details` holds
 * validation problems (`invalid_request`) or the verification failure (`ledger_broken`).
 */
export type ErrorBody = Omit<Api.ErrorBody, 'correlationId'> & Partial<Pick<Api.ErrorBody, 'correlationId'>>;

/** Filters of the audit page (the tenant and correlation id are matched by the UI's server). */
export interface AuditFilter {
  type?: string;
  tenant?: string;
  corrId?: string;
  /** Entries with a seq below this (the next older page). */
  before?: number;
}

/** One page of the UI's filtered audit view (`/api/audit`). */
export interface AuditView {
  entries: AuditEntry[];
  /** `before` of the next older page, or null at the oldest entry. */
  nextBefore: number | null;
  /** Ledger entries read to fill this page. */
  scanned: number;
  /** True when the scan stopped at its budget before filling the page (older matches may exist). */
  truncated: boolean;
  lastSeq: number;
}

/** The chain verification as the audit page shows it: intact, broken (where), or not known. */
export type Verification =
  | { state: 'ok'; result: VerifyOk }
  | { state: 'broken'; result: VerifyFailure; message: string }
  | { state: 'error'; error: ErrorBody };
