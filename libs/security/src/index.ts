export { MemoryBucketStore } from './bucket-store';
export type { BucketResult, BucketStore, MemoryBucketStoreOptions } from './bucket-store';
export { TrustedProxies, anonymizeIp, normalizeIp, resolveClientIp } from './client-ip';
export { systemClock } from './clock';
export type { Clock } from './clock';
export { MemoryReplayStore } from './replay-store';
export type { MemoryReplayStoreOptions, ReplayStore } from './replay-store';
