import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Backend, Pool } from '@shieldx/lb';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import { errorCode, isClientGone, type ForwardResult } from './forward';

/**
 * Passive health from proxied traffic: every attempt's outcome feeds the backend's latency estimate and breaker.
 * A 5xx answer, a connect error or a timeout is a failure; consecutive failures open the breaker (ejecting the
 * backend) — but never beyond ORCH_OUTLIER_MAX_EJECTION of the pool (at least one backend may always be ejected),
 * so a pool-wide problem does not empty the pool (Envoy's `max_ejection_percent`).
 */
@Injectable()
export class OutlierDetector {
  private readonly logger = new Logger('outlier');

  constructor(@Inject(ORCH_CONFIG) private readonly config: OrchestratorConfig) {}

  /** Records the outcome of one attempt on `backend` of `pool` that took `elapsedMs`. */
  report(backend: Backend, pool: Pool, result: ForwardResult, elapsedMs: number): void {
    switch (result.kind) {
      case 'done':
      case 'retry_status':
        backend.observe(result.headersMs);
        if (result.status >= 500) this.failure(backend, pool, `HTTP ${result.status}`);
        else backend.breaker.success();
        return;
      case 'error':
        if (isClientGone(result.error)) return;
        // A failed exchange still says how long the backend kept us: peak EWMA takes the slow sample at once.
        backend.observe(result.headersMs ?? elapsedMs);
        this.failure(backend, pool, errorCode(result.error));
        return;
      default: {
        const never: never = result;
        throw new Error(`unknown result ${JSON.stringify(never)}`);
      }
    }
  }

  /** A failure on `backend`, unless opening its breaker would eject more of the pool than allowed. */
  failure(backend: Backend, pool: Pool, reason: string): void {
    backend.lastError = reason;
    const state = backend.breaker.state;
    if (state.kind === 'closed' && state.failures + 1 >= this.config.breaker.fails) {
      let ejected = 0;
      for (const member of pool.backends) if (member.breaker.stateName !== 'closed') ejected++;
      const allowed = Math.max(1, Math.floor(this.config.proxy.maxEjection * pool.backends.length));
      if (ejected >= allowed) {
        this.logger.warn({ event: 'ejection_capped', pool: pool.name, backend: backend.url, ejected, allowed });
        return;
      }
    }
    backend.breaker.failure();
  }
}
