// Loaded by the child servers of the benchmarks (bench/baseline-*.mjs): one clean shutdown on SIGTERM, SIGINT or a
// lost parent IPC channel. Imports nothing, so a server pays nothing else for it.

/**
 * On SIGTERM, SIGINT or `disconnect`, runs `close()` once (later signals are ignored meanwhile), then exits with
 * code 0 whether it succeeded or not.
 * @param {() => Promise<void>} close
 */
export function exitCleanlyOnSignals(close) {
  let closing = false;
  async function shutdown() {
    if (closing) return;
    closing = true;
    try {
      await close();
    } finally {
      process.exit(0);
    }
  }
  process.on('SIGTERM', () => void shutdown());
  process.on('SIGINT', () => void shutdown());
  // If the parent dies without stopping us, do not linger.
  process.on('disconnect', () => void shutdown());
}
