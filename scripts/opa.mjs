// Finds (or installs) the real `opa` binary for `shieldx policy build|test` and the test suite.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The OPA version the project's policies are built and tested with. */
export const OPA_VERSION = 'v1.22.3';
const INSTALL = `GOBIN=$HOME/.local/bin go install github.com/open-policy-agent/opa@${OPA_VERSION}`;

function works(path) {
  const result = spawnSync(path, ['version'], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout : undefined;
}

/** Path of a working `opa` ($OPA_BIN, PATH, ~/.local/bin, $(go env GOPATH)/bin), or undefined. */
export function findOpa() {
  const candidates = [process.env.OPA_BIN, 'opa', join(homedir(), '.local/bin/opa')];
  const gopath = spawnSync('go', ['env', 'GOPATH'], { encoding: 'utf8' });
  if (gopath.status === 0) candidates.push(join(gopath.stdout.trim(), 'bin/opa'));
  for (const candidate of candidates) {
    if (candidate && (candidate === 'opa' || existsSync(candidate)) && works(candidate)) return candidate;
  }
  return undefined;
}

/** A working `opa`, installing it with `go install` when missing; exits with a clear message when that fails. */
export function ensureOpa({ install = true } = {}) {
  const found = findOpa();
  if (found) return found;
  if (!install) fail(`opa not found; install it with: ${INSTALL}`);
  process.stderr.write(`shieldx: opa not found; installing it: ${INSTALL}\n`);
  const go = spawnSync('go', ['install', `github.com/open-policy-agent/opa@${OPA_VERSION}`], {
    stdio: 'inherit',
    env: { ...process.env, GOBIN: join(homedir(), '.local/bin') },
  });
  if (go.error || go.status !== 0) fail(`could not install opa (is Go installed?); run: ${INSTALL}`);
  const installed = findOpa();
  if (!installed) fail(`opa was installed but does not run; run: ${INSTALL}`);
  return installed;
}

function fail(message) {
  process.stderr.write(`shieldx: ${message}\n`);
  process.exit(2);
}
