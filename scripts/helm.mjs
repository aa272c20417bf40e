// Finds (or installs) the `helm` binary the chart under deploy/helm is linted and rendered with.
//   node scripts/helm.mjs   prints the path of a working helm, installing it first when missing (exit 2 on failure)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The Helm version the chart is linted and rendered with. */
export const HELM_VERSION = 'v3.21.4';
const MODULE = 'helm.sh/helm/v3/cmd/helm';
const INSTALL = `GOBIN=$HOME/.local/bin go install ${MODULE}@${HELM_VERSION}`;

/** @param {string} path */
function works(path) {
  const result = spawnSync(path, ['version', '--short'], { encoding: 'utf8' });
  return result.status === 0 && result.stdout.startsWith('v3.');
}

/** Path of a working helm 3 ($HELM_BIN, PATH, ~/.local/bin, $(go env GOPATH)/bin), or undefined. */
export function findHelm() {
  const candidates = [process.env.HELM_BIN, 'helm', join(homedir(), '.local/bin/helm')];
  const gopath = spawnSync('go', ['env', 'GOPATH'], { encoding: 'utf8' });
  if (gopath.status === 0) candidates.push(join(gopath.stdout.trim(), 'bin/helm'));
  for (const candidate of candidates) {
    if (candidate && (candidate === 'helm' || existsSync(candidate)) && works(candidate)) return candidate;
  }
  return undefined;
}

/** A working helm, installed with `go install` into ~/.local/bin when missing; throws saying how when that fails. */
export function ensureHelm() {
  const found = findHelm();
  if (found) return found;
  process.stderr.write(`helm not found; installing it: ${INSTALL}\n`);
  const go = spawnSync('go', ['install', `${MODULE}@${HELM_VERSION}`], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, GOBIN: join(homedir(), '.local/bin') },
  });
  if (go.error || go.status !== 0) throw new Error(`could not install helm (is Go installed?); run: ${INSTALL}`);
  const installed = findHelm();
  if (!installed) throw new Error(`helm was installed but does not run; run: ${INSTALL}`);
  return installed;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    process.stdout.write(`${ensureHelm()}\n`);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  }
}
