// Builds dist/orchestrator for the CLI commands that need it. Quiet on success (a CLI's stderr is for its own
// messages and its stdout may be JSON logs or a report); the whole nx output on failure.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Runs `nx run orchestrator:build`; resolves true when it succeeded, after printing why when it did not. */
export function buildOrchestrator(reason) {
  process.stderr.write(`shieldx: building the orchestrator (${reason})…\n`);
  const build = spawnSync('npx', ['nx', 'run', 'orchestrator:build', '--output-style=stream'], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, FORCE_COLOR: '0', NX_TUI: 'false' },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (build.status === 0) return true;
  process.stderr.write(`${build.stdout ?? ''}${build.stderr ?? ''}`);
  process.stderr.write(`shieldx: the orchestrator build failed (exit ${build.status ?? build.signal})\n`);
  return false;
}
