/** Injection token of the {@link import('./backend-target').ResolveHost} used to check pool edits (DNS). */
export const ADMIN_RESOLVE_HOST = Symbol('ADMIN_RESOLVE_HOST');

/** Samples of the overview metrics kept for `GET /admin/metrics` (one per second: five minutes). */
export const METRICS_HISTORY = 300;

/** Interval of the overview metrics sample, ms. */
export const METRICS_INTERVAL_MS = 1000;

/** Comment line sent on idle event streams so proxies and browsers keep them open, ms. */
export const SSE_HEARTBEAT_MS = 15_000;

/** Most event streams open at once; beyond it `GET /admin/events` answers 503. */
export const SSE_MAX_CLIENTS = 64;

/** A stream whose unsent output exceeds this many bytes (a client that stopped reading) is closed. */
export const SSE_MAX_BUFFERED_BYTES = 1024 * 1024;

/** Security events are relayed to event streams in batches at most this often, ms (a flood stays one message). */
export const AUDIT_BATCH_MS = 250;
