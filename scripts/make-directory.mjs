// `mkdir -p` for the CLI that fails instead of hanging: Node's mkdirSync(dir, { recursive: true }) spins for ever at
// 100 % CPU when an ancestor exists but cannot hold children (a dangling symbolic link, a path under /proc). The
// orchestrator uses makeDirectory from libs/ledger; the CLI runs without a build and cannot import it, so it asks the
// system's mkdir, which reports those cases as errors.
import { spawnSync } from 'node:child_process';

/** Makes `dir` and its missing ancestors (`mode`, e.g. 0o700, for `dir` itself); throws mkdir's reason on failure. */
export function makeDirectorySync(dir, mode) {
  const args = ['-p', ...(mode === undefined ? [] : ['-m', mode.toString(8)]), '--', dir];
  const run = spawnSync('mkdir', args, { encoding: 'utf8', timeout: 10_000 });
  if (run.error !== undefined) throw new Error(`cannot make the directory ${dir}: ${run.error.message}`);
  if (run.status !== 0) {
    throw new Error(`cannot make the directory ${dir}: ${run.stderr.trim().replace(/^mkdir: /, '')}`);
  }
}
