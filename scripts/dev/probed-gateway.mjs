// The start shared by the development aids that measure the built gateway from inside (rss-breakdown.mjs,
// gc-under-load.mjs): the run's cleanup and temporary directory, seven stub backends in the three pools the `/route`
// requests name, and the built gateway with the shipped V8 flags, any extra ones, the shipped malloc settings
// (GLIBC_MALLOC=defaults in this process's environment leaves them out) and a probe module of this folder loaded with
// `--import`, told in an environment variable where to write. Needs `npm run build` first.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ORCH_MAIN, ROOT, installCleanup, startStubBackends, tempDir } from '../../bench/lib/harness.mjs';
import { startOrchestrator } from '../../bench/lib/common.mjs';
import { routePools } from '../../bench/lib/requests.mjs';
import { GATEWAY_MALLOC_TEXT, GATEWAY_NODE_ARGS, asShipped } from '../gateway-process.mjs';

/**
 * @param {{ tool: string, probe: string, outVariable: string, seconds: number, env?: Record<string, string>,
 *   extraFlags?: readonly string[] }} options
 *   `tool`: names the temporary directory; `probe`: the probe module's file name in this folder; `outVariable`: the
 *   variable that gives the probe its output file; `seconds`: how long the tool loads the gateway (its deadline is 90 s
 *   more); `env`: settings the gateway gets besides the bench defaults.
 */
export async function startProbedGateway({ tool, probe, outVariable, seconds, env = {}, extraFlags = [] }) {
  installCleanup({ deadlineMs: (seconds + 90) * 1000 });
  const work = tempDir(`shieldx-${tool}-`);
  const out = join(work, 'probe.jsonl');
  const glibcDefaults = process.env.GLIBC_MALLOC === 'defaults';
  const probeEnv = { ...env, [outVariable]: out };
  const shipped = asShipped({
    nodeArgs: [...extraFlags, '--import', fileURLToPath(new URL(probe, import.meta.url))],
    env: probeEnv,
  });
  const stubs = await startStubBackends(7);
  const server = await startOrchestrator({
    snapshot: { dir: ROOT, main: join(ROOT, ORCH_MAIN) },
    name: 'orchestrator',
    work,
    pools: routePools(stubs.urls),
    nodeArgs: shipped.nodeArgs,
    env: glibcDefaults ? probeEnv : shipped.env,
    asGiven: true,
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
  return { server, flags, out, stop };
}
