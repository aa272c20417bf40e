import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '../../..');
/** The orchestrator and every library, as `orchestrator:build` compiles them. */
const SOURCES = ['apps/orchestrator/src', 'libs'];

/**
 * Compiles the orchestrator as `orchestrator:build` does (SWC) into a new directory `dist/<prefix>…` of its own, so a
 * concurrent rebuild cannot change it under a test that runs it as a process (under dist/, node_modules and the
 * bundled policies/ are found by walking up). Returns the directory; its entry point is
 * `apps/orchestrator/src/main.js`.
 */
export function compileOrchestrator(prefix: string): string {
  const build = mkdtempSync(join(ROOT, 'dist', prefix));
  const swc = spawnSync(
    'npx',
    ['swc', ...SOURCES, '--config-file', 'apps/orchestrator/.swcrc', '-d', build, '--quiet'],
    {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    },
  );
  if (swc.status !== 0) throw new Error(`swc failed: ${swc.stderr}${swc.stdout}`);
  writeFileSync(join(build, 'package.json'), '{"type":"module"}\n');
  return build;
}
