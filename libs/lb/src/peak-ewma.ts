/** Default decay time constant of the latency estimate, in ms (Finagle's and Linkerd's default). */
export const DEFAULT_EWMA_DECAY_MS = 10_000;

/** Default latency assumed for a backend before its first sample, in ms. */
export const DEFAULT_RTT_MS = 50;

/**
 * Lowest value {@link PeakEwma.read} returns, in ms (1 µs). A long-idle estimate decays towards zero; the floor keeps
 * it positive so the in-flight term of the balancers' cost still counts.
 */
export const MIN_ESTIMATE_MS = 0.001;

/**
 * Peak-sensitive exponentially weighted moving average of latency (Finagle `PeakEwma`, Linkerd/tower `PeakEwma`).
 *
 * - A sample slower than the stored estimate replaces it at once: the balancer backs off a slowing backend within
 *   one response.
 * - A faster sample blends in by the time elapsed since the previous sample:
 *   `w = exp(-elapsedMs / decayMs)`, `estimate = estimate·w + sample·(1 − w)`. A sample right after another barely
 *   moves the estimate; after `decayMs` of silence a sample carries 63 % of the weight.
 * - Reading is pure: {@link read} returns `estimate·exp(-elapsedMs / decayMs)` without storing it. An estimate that
 *   got no sample for a while decays towards zero, so a backend the balancer has avoided because of an old slow
 *   sample becomes competitive again and is probed, instead of being starved forever by a stale peak.
 *
 * All values are milliseconds and may be fractional (sub-millisecond precision is kept).
 */
export class PeakEwma {
  private estimateMs: number;
  private stampMs: number;

  /**
   * @param decayMs time constant τ of the decay, ms, > 0
   * @param initialMs starting estimate, ms, > 0
   * @param nowMs the clock's current time, ms
   */
  constructor(
    private readonly decayMs: number,
    initialMs: number,
    nowMs: number,
  ) {
    this.estimateMs = initialMs;
    this.stampMs = nowMs;
  }

  /** The estimate at `nowMs`, decayed by the time since the last sample; never below {@link MIN_ESTIMATE_MS}. */
  read(nowMs: number): number {
    const elapsed = nowMs - this.stampMs;
    const value = elapsed > 0 ? this.estimateMs * Math.exp(-elapsed / this.decayMs) : this.estimateMs;
    return value > MIN_ESTIMATE_MS ? value : MIN_ESTIMATE_MS;
  }

  /** Feeds one latency sample (ms, finite, ≥ 0) observed at `nowMs`. */
  observe(sampleMs: number, nowMs: number): void {
    if (!(sampleMs >= 0 && sampleMs !== Infinity)) {
      throw new RangeError(`latency sample must be a finite number of ms >= 0, got ${String(sampleMs)}`);
    }
    if (sampleMs > this.estimateMs) {
      this.estimateMs = sampleMs;
    } else {
      const elapsed = nowMs - this.stampMs;
      const w = elapsed > 0 ? Math.exp(-elapsed / this.decayMs) : 1;
      this.estimateMs = this.estimateMs * w + sampleMs * (1 - w);
    }
    // A sample stamped earlier than the last one (a caller's stale `now`) must not rewind the decay.
    if (nowMs > this.stampMs) this.stampMs = nowMs;
  }

  /** Forgets history: the estimate becomes `initialMs` as of `nowMs`. */
  reset(initialMs: number, nowMs: number): void {
    this.estimateMs = initialMs;
    this.stampMs = nowMs;
  }
}
