import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A file shipped in the repository's `policies/` folder, found by walking up from this module (the same code runs
 * from `src/` under tests and from `dist/` when built).
 */
export function bundledPolicyFile(relative: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'policies', relative);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`the bundled policies/${relative} is missing from this installation`);
    dir = parent;
  }
}

/** The default base rules (`ORCH_POLICY_PATH` when unset). */
export const DEFAULT_RULES = 'shieldx/rules/data.json';
/** The committed compiled default policy (`npm start` runs it in shadow mode). */
export const DEFAULT_BUNDLE = 'build/policy.tar.gz';
