import { realpathSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { SecureContextOptions } from 'node:tls';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { CertificateSetInfo, WallClock } from '@shieldx/security';
import { WALL_CLOCK } from '../clock/clock';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import { Emitter } from '../events/emitter';
import { SecurityEvents } from '../events/security-events';
import type { DirectoryWatcher, WatchHandle } from './directory-watcher';
import {
  readTlsBytes,
  secureContextOptions,
  tlsFilesOf,
  TlsMaterialError,
  validateTlsBytes,
  type TlsFiles,
  type TlsMaterial,
} from './tls-material';
import { DIRECTORY_WATCHER, TLS_RELOAD_TIMING, type TlsReloadTiming } from './tls.constants';

/** What one reload attempt did. */
export type TlsReloadOutcome =
  | { readonly status: 'loaded'; readonly info: CertificateSetInfo }
  | { readonly status: 'rejected'; readonly file: string; readonly reason: string }
  | { readonly status: 'unchanged' };

/** What a new secure context is installed on: the HTTPS server (`tls.Server#setSecureContext`). */
export interface SecureContextTarget {
  setSecureContext(options: SecureContextOptions): void;
}

/** Longest delay `setTimeout` accepts; an expiry further away is re-armed in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The serving certificate and its rotation. At boot the app factory reads and validates the files (the HTTPS
 * listener needs them before Nest exists) and {@link attach}es the server here. From then on the directories holding
 * the three files are watched; after a quiet {@link TlsReloadTiming.debounceMs} (and every
 * {@link TlsReloadTiming.pollMs} regardless) all three are re-read. A set that differs from the current one and is
 * valid (key matches, certificate not expired, CA readable) is installed with `setSecureContext`: new handshakes use
 * it, open connections keep theirs. An invalid set is rejected with an error log and a `tls.rejected` security event,
 * and the old set keeps serving. Inactive when TLS is not configured.
 */
@Injectable()
export class TlsService implements OnApplicationShutdown {
  private readonly logger = new Logger('tls');
  private readonly files: TlsFiles | undefined;
  private material: TlsMaterial | undefined;
  private target: SecureContextTarget | undefined;
  private watch: WatchHandle | undefined;
  private settle: NodeJS.Timeout | undefined;
  private poll: NodeJS.Timeout | undefined;
  private expiry: NodeJS.Timeout | undefined;
  private lastRejection: string | undefined;
  private readonly reloads = new Emitter<TlsReloadOutcome>((error) =>
    this.logger.error({ event: 'tls_reload_listener_failed', err: error }),
  );
  private readonly expiries = new Emitter<CertificateSetInfo>((error) =>
    this.logger.error({ event: 'tls_expiry_listener_failed', err: error }),
  );

  constructor(
    @Inject(ORCH_CONFIG) config: OrchestratorConfig,
    @Inject(WALL_CLOCK) private readonly clock: WallClock,
    @Inject(DIRECTORY_WATCHER) private readonly watcher: DirectoryWatcher,
    @Inject(TLS_RELOAD_TIMING) private readonly timing: TlsReloadTiming,
    private readonly events: SecurityEvents,
  ) {
    this.files = tlsFilesOf(config.tls);
  }

  /** True when TLS files are configured. */
  get enabled(): boolean {
    return this.files !== undefined;
  }

  /** The serving set in use, once attached. */
  get current(): CertificateSetInfo | undefined {
    return this.material?.info;
  }

  /** Seconds until the serving certificate expires (negative once it has); undefined without TLS. */
  secondsLeft(): number | undefined {
    const info = this.material?.info;
    return info === undefined ? undefined : (info.notAfter - this.clock.now()) / 1000;
  }

  /** True when the serving certificate has expired (the readiness check fails then). */
  expired(): boolean {
    const left = this.secondsLeft();
    return left !== undefined && left <= 0;
  }

  /**
   * Starts serving `material` (already installed on `target` by the listener options) and watching its files.
   * Called once by the app factory after the HTTPS server exists.
   */
  attach(target: SecureContextTarget, material: TlsMaterial): void {
    if (this.files === undefined) throw new Error('TLS is not configured');
    if (this.target !== undefined) throw new Error('TlsService is already attached');
    this.target = target;
    this.material = material;
    this.armExpiry();
    const dirs = watchedDirectories(this.files);
    this.watch = this.watcher.watch(
      dirs,
      () => this.changed(),
      (error) => this.logger.warn({ event: 'tls_watch_error', err: error, dirs }),
    );
    this.poll = setInterval(() => this.reload(), this.timing.pollMs);
    this.poll.unref();
    this.logger.log({ event: 'tls_serving', ...describe(material), watching: dirs });
  }

  /**
   * Re-reads the three files now and installs them when they changed and are valid. Never throws: the outcome says
   * what happened, and listeners ({@link onReload}) hear about every outcome.
   */
  reload(): TlsReloadOutcome {
    const outcome = this.tryReload();
    this.reloads.emit(outcome);
    return outcome;
  }

  /** Calls `listener` after every reload attempt; returns the unsubscribe function. */
  onReload(listener: (outcome: TlsReloadOutcome) => void): () => void {
    return this.reloads.on(listener);
  }

  /** Resolves with the next reload outcome whose status is one of `statuses` (for tests and the admin API). */
  nextReload(...statuses: TlsReloadOutcome['status'][]): Promise<TlsReloadOutcome> {
    const wanted = statuses.length === 0 ? ['loaded', 'rejected'] : statuses;
    return new Promise((resolvePromise) => {
      const off = this.onReload((outcome) => {
        if (!wanted.includes(outcome.status)) return;
        off();
        resolvePromise(outcome);
      });
    });
  }

  /** Resolves when the serving certificate expires without having been replaced (readiness turns down then). */
  nextExpiry(): Promise<CertificateSetInfo> {
    return new Promise((resolvePromise) => {
      const off = this.expiries.on((info) => {
        off();
        resolvePromise(info);
      });
    });
  }

  onApplicationShutdown(): void {
    this.watch?.close();
    this.watch = undefined;
    clearTimeout(this.settle);
    clearInterval(this.poll);
    clearTimeout(this.expiry);
    this.reloads.clear();
    this.expiries.clear();
  }

  private changed(): void {
    clearTimeout(this.settle);
    this.settle = setTimeout(() => this.reload(), this.timing.debounceMs);
    this.settle.unref();
  }

  private tryReload(): TlsReloadOutcome {
    const files = this.files;
    const target = this.target;
    if (files === undefined || target === undefined) return { status: 'unchanged' };
    let next: TlsMaterial;
    try {
      const bytes = readTlsBytes(files);
      if (bytes.digest === this.material?.digest) {
        this.lastRejection = undefined;
        return { status: 'unchanged' };
      }
      next = validateTlsBytes(files, bytes, this.clock.now());
      target.setSecureContext(secureContextOptions(next));
    } catch (error) {
      const file = error instanceof TlsMaterialError ? error.file : files.certFile;
      const reason = error instanceof TlsMaterialError ? error.reason : (error as Error).message;
      // A broken set is re-read on every poll; report it once until it changes.
      const key = `${file}\u0000${reason}`;
      if (key !== this.lastRejection) {
        this.lastRejection = key;
        const kept = this.material === undefined ? undefined : describe(this.material);
        this.logger.error({ event: 'tls_reload_rejected', file, reason, keptServing: kept });
        this.events.emit({ type: 'tls.rejected', data: { file, reason, keptFingerprint: kept?.fingerprint256 } });
      }
      return { status: 'rejected', file, reason };
    }
    const previous = this.material;
    this.material = next;
    this.lastRejection = undefined;
    this.armExpiry();
    this.logger.log({ event: 'tls_reloaded', ...describe(next) });
    this.events.emit({
      type: 'tls.reloaded',
      data: { ...describe(next), previousFingerprint: previous?.info.fingerprint256 },
    });
    return { status: 'loaded', info: next.info };
  }

  /** Logs once when the serving certificate expires (readiness turns down at the same moment). */
  private armExpiry(): void {
    clearTimeout(this.expiry);
    const info = this.material?.info;
    if (info === undefined) return;
    const left = info.notAfter - this.clock.now();
    if (left <= 0) return;
    this.expiry = setTimeout(
      () => {
        if (this.material?.info !== info) return;
        if (this.expired()) {
          this.logger.error({ event: 'tls_certificate_expired', ...describe(this.material) });
          this.expiries.emit(info);
        } else this.armExpiry();
      },
      Math.min(left, MAX_TIMER_MS),
    );
    this.expiry.unref();
  }
}

function describe(material: TlsMaterial): {
  fingerprint256: string;
  subject: string;
  notAfter: string;
  certFile: string;
} {
  return {
    fingerprint256: material.info.fingerprint256,
    subject: material.info.subject,
    notAfter: new Date(material.info.notAfter).toISOString(),
    certFile: material.files.certFile,
  };
}

/** The directories to watch: each file's own, and the one its symlinks resolve into. */
function watchedDirectories(files: TlsFiles): string[] {
  const dirs = new Set<string>();
  for (const file of [files.certFile, files.keyFile, files.clientCaFile]) {
    dirs.add(dirname(resolve(file)));
    try {
      dirs.add(dirname(realpathSync(file)));
    } catch {
      // Unreadable now: the file's own directory is watched, and the poll catches the rest.
    }
  }
  return [...dirs];
}
