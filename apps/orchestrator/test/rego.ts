import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '../../..');

/**
 * Compiles one Rego module into `<dir>/<name>.tar.gz` with the project's own CLI (`shieldx policy build`, the real opa
 * underneath) and returns the bundle's path.
 */
export function buildRegoBundle(dir: string, name: string, rego: string): string {
  const src = join(dir, `${name}-src`);
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'policy.rego'), rego);
  const out = join(dir, `${name}.tar.gz`);
  const cli = join(ROOT, 'packages/cli/shieldx.mjs');
  const built = spawnSync(process.execPath, [cli, 'policy', 'build', src, '--out', out], { encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`shieldx policy build failed: ${built.stderr}`);
  return out;
}
