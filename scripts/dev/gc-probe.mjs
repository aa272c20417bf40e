// Loaded with `node --import` into a gateway that scripts/dev/gc-under-load.mjs measures: once a second it appends
// one JSON line to the file named by GC_PROBE_OUT with the event loop's delay over that second (p99 and max, ms) and
// the garbage collections it saw (count and total and longest pause, ms, minor and major apart).
import { appendFileSync } from 'node:fs';
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';

const OUT = process.env.GC_PROBE_OUT;
if (OUT !== undefined) {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const fresh = () => ({ count: 0, totalMs: 0, longestMs: 0 });
  let minor = fresh();
  let major = fresh();
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = /** @type {{ detail?: { kind?: number } }} */ (/** @type {unknown} */ (entry)).detail?.kind;
      const into = kind === constants.NODE_PERFORMANCE_GC_MAJOR ? major : minor;
      into.count++;
      into.totalMs += entry.duration;
      into.longestMs = Math.max(into.longestMs, entry.duration);
    }
  }).observe({ entryTypes: ['gc'] });
  setInterval(() => {
    appendFileSync(
      OUT,
      `${JSON.stringify({
        at: Date.now(),
        delayP99Ms: delay.percentile(99) / 1e6,
        delayMaxMs: delay.max / 1e6,
        minor,
        major,
      })}\n`,
    );
    delay.reset();
    minor = fresh();
    major = fresh();
  }, 1000).unref();
}
