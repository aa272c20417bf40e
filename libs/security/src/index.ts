export { MemoryBucketStore } from './bucket-store';
export type { BucketResult, BucketStore, BucketTake, MemoryBucketStoreOptions } from './bucket-store';
export {
  TrustedProxies,
  anonymizeIp,
  clientKey,
  ipv4Host,
  ipv4Of,
  ipv6Groups,
  normalizeIp,
  resolveClientIp,
} from './client-ip';
export { CertificateSetError, certificateTime, inspectCertificateSet, splitPemCertificates } from './certificates';
export type { CertificateSetInfo, CertificateSetPem } from './certificates';
export {
  EMPTY_IDENTITY,
  PRESENTED_MAX,
  SanAllowlist,
  certificateIdentity,
  normalizeDnsName,
  normalizeUri,
} from './san';
export type { CertificateIdentity, ClientIdentity, SanVerdict } from './san';
export { readSubjectAltNames } from './subject-alt-names';
export type { SubjectAltName, SubjectAltNameKind } from './subject-alt-names';
export { wallClock } from './clock';
export type { WallClock } from './clock';
export { MemoryReplayStore } from './replay-store';
export type { MemoryReplayStoreOptions, ReplayStore } from './replay-store';
export { RedisReplayStore } from './redis-replay-store';
export type { RedisReplayStoreOptions, RedisSetClient } from './redis-replay-store';
export { FailoverReplayStore, ReplayStoreUnavailableError } from './failover-replay-store';
export type { FailoverReplayStoreOptions } from './failover-replay-store';
export { AdmissionVerifier, admissionMessage, signAdmission } from './admission';
export type {
  AdmissionFailureCode,
  AdmissionRequest,
  AdmissionResult,
  AdmissionVerifierOptions,
  SignAdmissionOptions,
} from './admission';
export {
  DPOP_ALGORITHMS,
  DpopVerifier,
  accessTokenHash,
  dpopAccessToken,
  isDpopAuthorization,
  normalizeHtu,
} from './dpop';
export type {
  DpopAlgorithm,
  DpopFailureCode,
  DpopInvalidReason,
  DpopRequest,
  DpopResult,
  DpopVerifierOptions,
} from './dpop';
export { DpopNonces } from './dpop-nonce';
export type { DpopNoncesOptions } from './dpop-nonce';
export { BucketStoreUnavailableError, FailoverBucketStore } from './failover-bucket-store';
export type { FailoverBucketStoreOptions, FailureMode, PrimaryStateChange } from './failover-bucket-store';
export { RedisBucketStore, TAKE_TOKEN_LUA } from './redis-bucket-store';
export type { RedisBucketStoreOptions, RedisScriptingClient } from './redis-bucket-store';
export { RefusalCache } from './refusal-cache';
export type { RefusalCacheOptions } from './refusal-cache';
export { AdaptiveLimits } from './adaptive-limits';
export type {
  AdaptiveEvent,
  AdaptiveKeyInfo,
  AdaptiveLimitsOptions,
  AdaptivePhase,
  AdaptivePopulationInfo,
  AdaptiveRelaxCause,
} from './adaptive-limits';
export { ADMIN_ROLES, isAdminRole, parseRoleMap, requiredAdminRole, roleAllows, roleFromClaim } from './admin-roles';
export type { AdminRole } from './admin-roles';
export {
  USER_ASSERTION_HEADER,
  USER_ASSERTION_LIFETIME_S,
  USER_ASSERTION_MAX_LIFETIME_S,
  UserAssertionVerifier,
  signUserAssertion,
  userAssertionAlgorithm,
} from './user-assertion';
export type {
  AdminUser,
  SignUserAssertionOptions,
  UserAssertionFailure,
  UserAssertionResult,
  UserAssertionVerifierOptions,
} from './user-assertion';
