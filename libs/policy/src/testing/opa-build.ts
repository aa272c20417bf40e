import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The real `opa` binary: $OPA_BIN (set by `npm test` after installing it), ~/.local/bin/opa, or PATH. */
export function opaBinary(): string {
  const candidates = [process.env['OPA_BIN'], join(homedir(), '.local/bin/opa')];
  for (const candidate of candidates) if (candidate !== undefined && existsSync(candidate)) return candidate;
  const onPath = spawnSync('opa', ['version']);
  if (onPath.status === 0) return 'opa';
  throw new Error(
    'opa is not installed: run npm test (it installs it) or GOBIN=$HOME/.local/bin go install github.com/open-policy-agent/opa@v1.22.3',
  );
}

/**
 * Compiles Rego sources (and optional data) with the real `opa build -t wasm` into `<dir>/<name>.tar.gz` and returns
 * its path. `files` maps relative paths (`x/policy.rego`, `x/data.json`) to contents.
 */
export function buildBundle(
  dir: string,
  name: string,
  files: Record<string, string>,
  entrypoint = 'shieldx/routing/decision',
): string {
  const src = join(dir, `${name}-src`);
  for (const [path, text] of Object.entries(files)) {
    const full = join(src, path);
    mkdirSync(join(full, '..'), { recursive: true });
    writeFileSync(full, text);
  }
  const out = join(dir, `${name}.tar.gz`);
  const result = spawnSync(opaBinary(), ['build', '-t', 'wasm', '-e', entrypoint, '-o', out, src], {
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`opa build failed: ${result.stderr}`);
  return out;
}

/** A Rego module in package shieldx.routing whose `decision` is the given Rego expression. */
export function regoDecision(expression: string): string {
  return `package shieldx.routing\n\nimport rego.v1\n\ndecision := ${expression}\n`;
}
