// The start shared by the development aids that measure the built gateway from inside (rss-breakdown.mjs,
// gc-under-load.mjs): seven stub backends in the three pools the `/route` requests name, and the built gateway with
// the shipped V8 flags, any extra ones, the shipped malloc settings (GLIBC_MALLOC=defaults in this process's
// environment leaves them out) and a probe module loaded with `--import`. Needs `npm run build` first.
import { join } from 'node:path';
import { ORCH_MAIN, ROOT, startStubBackends } from '../../bench/lib/harness.mjs';
import { startOrchestrator } from '../../bench/lib/common.mjs';
import { routePools } from '../../bench/lib/requests.mjs';
import { GATEWAY_MALLOC_TEXT, GATEWAY_NODE_ARGS, asShipped } from '../gateway-process.mjs';

/**
 * @param {{ work: string, probe: string, env?: Record<string, string>, extraFlags?: readonly string[] }} options
 *   `work`: the run's temporary directory; `probe`: the probe module's path; `env`: settings the gateway gets besides
 *   the bench defaults (the probe's output file, …).
 */
export async function startProbedGateway({ work, probe, env = {}, extraFlags = [] }) {
  const glibcDefaults = process.env.GLIBC_MALLOC === 'defaults';
  const stubs = await startStubBackends(7);
  const server = await startOrchestrator({
    snapshot: { dir: ROOT, main: join(ROOT, ORCH_MAIN) },
    name: 'orchestrator',
    work,
    pools: routePools(stubs.urls),
    ...asShipped({ nodeArgs: [...extraFlags, '--import', probe], env }),
    // GLIBC_MALLOC=defaults: without the shipped malloc settings, to compare.
    ...(glibcDefaults ? { env } : {}),
  });
  /** The shipped flags, the extra ones and the shipped malloc settings (unless left out), as the gateway got them. */
  const flags = [
    ...GATEWAY_NODE_ARGS,
    ...extraFlags,
    glibcDefaults ? "glibc's malloc defaults" : GATEWAY_MALLOC_TEXT,
  ].join(' ');
  const stop = async () => {
    await server.stop();
    await stubs.close();
  };
  return { server, flags, stop };
}
