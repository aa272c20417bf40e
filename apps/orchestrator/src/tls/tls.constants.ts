/** Injection token of the {@link import('./directory-watcher').DirectoryWatcher} used for certificate rotation. */
export const DIRECTORY_WATCHER = Symbol('DIRECTORY_WATCHER');

/** Injection token of the {@link TlsReloadTiming}. */
export const TLS_RELOAD_TIMING = Symbol('TLS_RELOAD_TIMING');

/** How certificate rotation waits and re-checks. */
export interface TlsReloadTiming {
  /** Quiet time after the last change in a watched directory before the files are re-read, ms. */
  readonly debounceMs: number;
  /** Re-read the files this often even without a change event (file systems where watching misses events), ms. */
  readonly pollMs: number;
}

/** Defaults of {@link TlsReloadTiming}: 250 ms settle time (cert and key written one after the other), 30 s poll. */
export const DEFAULT_TLS_RELOAD_TIMING: TlsReloadTiming = { debounceMs: 250, pollMs: 30_000 };

/** Route templates a refused client identity may still reach: probes and scrapes (docs/tls.md). */
export const IDENTITY_EXEMPT_ROUTES: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);
