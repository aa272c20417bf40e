// Finds (or installs) the `helm` binary the chart under deploy/helm is linted and rendered with.
//   node scripts/helm.mjs   prints the path of a working helm, installing it first when missing (exit 2 on failure)
import { fileURLToPath } from 'node:url';
import { goTool } from './go-tool.mjs';

/** The Helm version the chart is linted and rendered with. */
export const HELM_VERSION = 'v3.21.4';
const helm = goTool({
  name: 'helm',
  module: 'helm.sh/helm/v3/cmd/helm',
  version: HELM_VERSION,
  envVar: 'HELM_BIN',
  versionArgs: ['version', '--short'],
  accepts: (stdout) => stdout.startsWith('v3.'),
});

/** Path of a working helm 3 ($HELM_BIN, PATH, ~/.local/bin, $(go env GOPATH)/bin), or undefined. */
export const findHelm = helm.find;

/** A working helm, installed with `go install` into ~/.local/bin when missing; throws saying how when that fails. */
export const ensureHelm = () => helm.ensure();

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    process.stdout.write(`${ensureHelm()}\n`);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  }
}
