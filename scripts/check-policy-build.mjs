#!/usr/bin/env node
// Rebuilds the default policy from policies/ and fails when the committed policies/build/policy.tar.gz differs
// (opa build output is deterministic for a given opa version and input).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const out = join(mkdtempSync(join(tmpdir(), 'shieldx-policy-')), 'policy.tar.gz');
const build = spawnSync(process.execPath, ['packages/cli/shieldx.mjs', 'policy', 'build', 'policies', '--out', out], {
  stdio: 'inherit',
});
if (build.status !== 0) process.exit(build.status ?? 1);
const committed = readFileSync('policies/build/policy.tar.gz');
if (!committed.equals(readFileSync(out))) {
  process.stderr.write(
    'policies/build/policy.tar.gz is stale: run `npx shieldx policy build policies` and commit it\n',
  );
  process.exit(1);
}
process.stdout.write('policies/build/policy.tar.gz matches its Rego\n');
