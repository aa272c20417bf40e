// A pinned command-line tool built from a Go module: found where it usually is, or installed with `go install` into
// ~/.local/bin. Used for opa (scripts/opa.mjs) and helm (scripts/helm.mjs).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * @typedef {object} GoToolSpec
 * @property {string} name the command's name, e.g. `opa`
 * @property {string} module the Go package `go install` builds it from
 * @property {string} version the pinned version, e.g. `v1.22.3`
 * @property {string} envVar the environment variable that may name its path, e.g. `OPA_BIN`
 * @property {string[]} versionArgs arguments that make a working binary exit 0
 * @property {(stdout: string) => boolean} [accepts] whether the output of `versionArgs` is of a usable version
 */

/**
 * The tool `spec` names: `install` is the command a person runs to install it, `find()` the path of a working binary
 * ($envVar, PATH, ~/.local/bin, $(go env GOPATH)/bin) or undefined, `ensure()` that path after installing it when
 * missing (throws saying how to install it when that fails, or at once when `install` is false).
 * @param {GoToolSpec} spec
 */
export function goTool(spec) {
  const install = `GOBIN=$HOME/.local/bin go install ${spec.module}@${spec.version}`;
  /** @param {string} path */
  const works = (path) => {
    const result = spawnSync(path, spec.versionArgs, { encoding: 'utf8' });
    return result.status === 0 && (spec.accepts?.(result.stdout) ?? true);
  };
  /** @returns {string | undefined} */
  const find = () => {
    const candidates = [process.env[spec.envVar], spec.name, join(homedir(), '.local/bin', spec.name)];
    const gopath = spawnSync('go', ['env', 'GOPATH'], { encoding: 'utf8' });
    if (gopath.status === 0) candidates.push(join(gopath.stdout.trim(), 'bin', spec.name));
    for (const candidate of candidates) {
      if (candidate && (candidate === spec.name || existsSync(candidate)) && works(candidate)) return candidate;
    }
    return undefined;
  };
  /**
   * @param {{ install?: boolean, prefix?: string }} [options] `prefix` starts the line saying it is being installed
   * @returns {string}
   */
  const ensure = ({ install: mayInstall = true, prefix = '' } = {}) => {
    const found = find();
    if (found) return found;
    if (!mayInstall) throw new Error(`${spec.name} not found; install it with: ${install}`);
    process.stderr.write(`${prefix}${spec.name} not found; installing it: ${install}\n`);
    const go = spawnSync('go', ['install', `${spec.module}@${spec.version}`], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, GOBIN: join(homedir(), '.local/bin') },
    });
    if (go.error || go.status !== 0)
      throw new Error(`could not install ${spec.name} (is Go installed?); run: ${install}`);
    const installed = find();
    if (!installed) throw new Error(`${spec.name} was installed but does not run; run: ${install}`);
    return installed;
  };
  return { install, find, ensure };
}
