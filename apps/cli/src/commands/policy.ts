import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { makeDirectory } from '@shieldx/ledger';
import { defineCommand, usageError } from '../command';
import { loadScript } from '../scripts';

/** `shieldx policy --help`. */
export const POLICY_USAGE = `usage: shieldx policy build <dir> [--out <file>] [--entrypoint <ep>]
       shieldx policy test <dir>

build: compile the Rego in <dir> to an OPA wasm bundle (default <dir>/build/policy.tar.gz, entrypoint
shieldx/routing/decision; *_test.rego files are left out). test: run the Rego unit tests in <dir> with opa test.
Both need the real opa (installed with go when missing).
`;

/** The decision the gateway evaluates (docs/policy.md). */
const DEFAULT_ENTRYPOINT = 'shieldx/routing/decision';

/** `shieldx policy build|test <dir>`: wraps the real opa binary. */
export const policyCommand = defineCommand({
  name: 'policy',
  summary: `  policy build <dir> [--out <file>] [--entrypoint <ep>]
            compile the Rego in <dir> to an OPA wasm bundle (default <dir>/build/policy.tar.gz, entrypoint
            shieldx/routing/decision; *_test.rego files are left out). Needs the real opa (installed with go when missing)
  policy test <dir>
            run the Rego unit tests in <dir> with opa test`,
  usage: POLICY_USAGE,
  options: { out: 'string', entrypoint: 'string' },
  async run({ values, positionals }, context) {
    const [sub, dir, ...rest] = positionals;
    if (sub !== 'build' && sub !== 'test') {
      return usageError(
        context,
        'policy',
        sub === undefined ? 'name a command: build or test' : `unknown command '${sub}'`,
      );
    }
    if (dir === undefined) return usageError(context, 'policy', 'name the directory of the Rego files');
    if (rest.length > 0) return usageError(context, 'policy', `unexpected argument '${rest[0]}'`);
    if (!existsSync(dir)) return usageError(context, 'policy', `no such directory: ${dir}`);
    const opa = (await loadScript(context.root, 'opa.mjs')).ensureOpa();
    if (sub === 'test') return spawnSync(opa, ['test', dir, '-v'], { stdio: 'inherit' }).status ?? 1;
    const target = resolve(values.out ?? join(dir, 'build', 'policy.tar.gz'));
    try {
      await makeDirectory(dirname(target));
    } catch (error) {
      context.stderr.write(`shieldx policy: ${(error as Error).message}\n`);
      return 1;
    }
    const entrypoint = values.entrypoint ?? DEFAULT_ENTRYPOINT;
    const args = ['build', '-t', 'wasm', '-e', entrypoint, '--ignore', '*_test.rego', '-o', target, dir];
    const status = spawnSync(opa, args, { stdio: 'inherit' }).status ?? 1;
    if (status === 0) context.stdout.write(`shieldx: wrote ${target}\n`);
    return status;
  },
});
