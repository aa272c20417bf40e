// `mkdir -p` for the CLI that fails instead of hanging: Node's mkdirSync(dir, { recursive: true }) spins for ever at
// 100 % CPU when an ancestor exists but cannot hold children (a dangling symbolic link, a path under /proc). The
// orchestrator's asynchronous twin is libs/ledger/src/make-directory.ts (the CLI runs without a build, so it cannot
// import it).
import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** Makes `dir` and its missing ancestors one level at a time; throws the first failure (ENOENT, ENOTDIR, EACCES…). */
export function makeDirectorySync(dir, mode) {
  const missing = [];
  for (let current = resolve(dir); ;) {
    const kind = kindOf(current);
    if (kind === 'directory') break;
    if (kind === 'other') throw new Error(`cannot make the directory ${dir}: ${current} is not a directory`);
    missing.push(current);
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const path of missing.reverse()) {
    try {
      mkdirSync(path, mode === undefined ? undefined : { mode });
    } catch (error) {
      if (error.code !== 'EEXIST') throw new Error(`cannot make the directory ${dir}: ${error.message}`);
      if (kindOf(path) !== 'directory') throw new Error(`cannot make the directory ${dir}: ${path} leads nowhere`);
    }
  }
}

function kindOf(path) {
  try {
    return statSync(path).isDirectory() ? 'directory' : 'other';
  } catch (error) {
    if (error.code === 'ENOENT') return 'missing';
    throw error;
  }
}
