import { spawnSync } from 'node:child_process';
import { existsSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { defineCommand, usageError } from '../command';
import { loadScript } from '../scripts';

/** `shieldx serve --help`. */
export const SERVE_USAGE = `usage: shieldx serve [--build]

Runs the built orchestrator (building it first when dist/ is missing, or with --build) with the configuration in the
environment; every setting: docs/configuration.md.
`;

/** The orchestrator's compiled entry point (`nx run orchestrator:build`), relative to the repository root. */
const MAIN = 'dist/orchestrator/apps/orchestrator/src/main.js';

/**
 * `shieldx serve`: runs the gateway in the foreground, as `npm start` and the image do. Through the `shieldx` launcher
 * (`npx shieldx`) the launcher then becomes the gateway's process; run as `node shieldx.mjs serve`, the gateway is a
 * child process whose exit code this one exits with.
 */
export const serveCommand = defineCommand({
  name: 'serve',
  summary: `  serve     build the orchestrator if needed and run it with the configuration in the environment
            (see docs/configuration.md); e.g. ORCH_ALLOW_INSECURE=1 ORCH_POOL_API=127.0.0.1:9001 npx shieldx serve`,
  usage: SERVE_USAGE,
  options: { build: 'boolean' },
  async run({ values, positionals }, context) {
    if (positionals.length > 0) return usageError(context, 'serve', `unexpected argument '${positionals[0]}'`);
    const main = join(context.root, MAIN);
    if (values.build === true || !existsSync(main)) {
      const { buildOrchestrator } = await loadScript(context.root, 'build.mjs');
      if (!buildOrchestrator(values.build === true ? '--build' : 'dist/ is missing')) return 1;
    }
    const { gatewayEnv } = await loadScript(context.root, 'gateway-process.mjs');
    const env = gatewayEnv(context.env);
    // Started by the `shieldx` launcher (packages/cli/shieldx): it replaces itself with the gateway, so say what to run:
    // the entry point, NODE_OPTIONS, then the other settings the gateway's process adds to the environment.
    const execFd = context.env.SHIELDX_EXEC_FD;
    if (execFd !== undefined && /^[3-9]$/.test(execFd)) {
      const added = Object.entries(env).filter(
        ([name, value]) => name !== 'NODE_OPTIONS' && value !== undefined && context.env[name] !== value,
      );
      const lines = [main, env.NODE_OPTIONS ?? '', ...added.map(([name, value]) => `${name}=${value}`)];
      // A value with a line break cannot travel as one line: then the gateway runs as this process's child (below).
      if (!lines.some((line) => line.includes('\n'))) {
        writeSync(Number(execFd), lines.map((line) => `${line}\n`).join(''));
        return 0;
      }
    }
    return spawnSync(process.execPath, [main], { stdio: 'inherit', env }).status ?? 1;
  },
});
