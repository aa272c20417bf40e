#!/usr/bin/env node
// `npm test`: brings what it needs (opa, redis-server, chromium, promtool), then lint → typecheck → alert rules →
// unit → e2e → build, stopping at the first failing stage. Ends with the plain
// "N passed, N failed" line counted over every Vitest test.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { ensureOpa } from './opa.mjs';
import { ensureSystemTools } from './system-deps.mjs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const out = mkdtempSync(join(tmpdir(), 'shieldx-test-'));
/** @type {NodeJS.ProcessEnv} */
const env = { ...process.env, TZ: 'UTC', NEXT_TELEMETRY_DISABLED: '1', NX_DAEMON: 'false' };
env.OPA_BIN = ensureOpa();
ensureSystemTools();
let passed = 0;
let failed = 0;

function step(name, command, args) {
  process.stdout.write(`\n=== ${name}: ${command} ${args.join(' ')}\n`);
  const started = Date.now();
  const result = spawnSync(command, args, { stdio: 'inherit', env });
  process.stdout.write(
    `=== ${name}: ${result.status === 0 ? 'ok' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
  return result.status === 0;
}

function vitest(name, projects) {
  const file = join(out, `${name}.json`);
  const ok = step(name, 'npx', [
    'vitest',
    'run',
    ...projects.flatMap((p) => ['--project', p]),
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${file}`,
  ]);
  try {
    const report = JSON.parse(readFileSync(file, 'utf8'));
    passed += report.numPassedTests;
    failed += report.numFailedTests;
  } catch {
    failed += 1;
  }
  return ok;
}

// The Prometheus rule files (deploy/prometheus/*.yaml), apart from their promtool unit tests (*.test.yaml).
const ALERTS = 'deploy/prometheus';
const ruleFiles = readdirSync(ALERTS)
  .filter((name) => name.endsWith('.yaml') && !name.endsWith('.test.yaml'))
  .map((name) => join(ALERTS, name));
const ruleTests = readdirSync(ALERTS)
  .filter((name) => name.endsWith('.test.yaml'))
  .map((name) => join(ALERTS, name));

const ok =
  step('format', 'npx', ['prettier', '--check', '.', '--log-level', 'warn']) &&
  step('lint', 'npx', ['nx', 'run-many', '-t', 'lint', '--output-style=stream']) &&
  step('typecheck', 'npx', ['nx', 'run-many', '-t', 'typecheck', '--output-style=stream']) &&
  step('docs links', process.execPath, ['scripts/check-docs.mjs']) &&
  step('alert rules', 'promtool', ['check', 'rules', ...ruleFiles]) &&
  step('alert rules', 'promtool', ['test', 'rules', ...ruleTests]) &&
  step('rego tests', env.OPA_BIN, ['test', 'policies', '-v']) &&
  step('compiled default policy is current', process.execPath, ['scripts/check-policy-build.mjs']) &&
  vitest('unit', ['collections', 'lb', 'security', 'policy', 'ledger', 'orchestrator', 'admin-ui']) &&
  vitest('e2e', ['orchestrator-e2e']) &&
  // Alone, after the other e2e tests: it builds the UI (CPU-heavy) and must not slow timing-sensitive tests down.
  vitest('browser', ['admin-ui-e2e']) &&
  step('build', 'npx', ['nx', 'run-many', '-t', 'build', '--output-style=stream']);

process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
process.exit(ok && failed === 0 ? 0 : 1);
