// Finds (or installs) the real `opa` binary for `shieldx policy build|test` and the test suite.
import { goTool } from './go-tool.mjs';

/** The OPA version the project's policies are built and tested with. */
export const OPA_VERSION = 'v1.22.3';
const opa = goTool({
  name: 'opa',
  module: 'github.com/open-policy-agent/opa',
  version: OPA_VERSION,
  envVar: 'OPA_BIN',
  versionArgs: ['version'],
});

/** Path of a working `opa` ($OPA_BIN, PATH, ~/.local/bin, $(go env GOPATH)/bin), or undefined. */
export const findOpa = opa.find;

/** A working `opa`, installing it with `go install` when missing; exits 2 with a clear message when that fails. */
export function ensureOpa({ install = true } = {}) {
  try {
    return opa.ensure({ install, prefix: 'shieldx: ' });
  } catch (error) {
    process.stderr.write(`shieldx: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  }
}
