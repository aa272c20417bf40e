#!/usr/bin/env node
// Development aid: the time of one OPA decision (the committed bundle, evaluated by the built libs/policy) in this
// process and in one started with `--liftoff-only`, where WebAssembly stays on V8's baseline compiler (a memory knob:
// see the memory benchmark in docs/BENCHMARKS.md). Needs `npm run build` first. Not a benchmark of record.
//   node scripts/dev/opa-liftoff.mjs [rounds=5]
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ROOT } from '../../bench/lib/report.mjs';
import { policyInput } from '../../bench/lib/requests.mjs';

const BUNDLE_REL = 'policies/build/policy.tar.gz';
const ENTRYPOINT = 'shieldx/routing/decision';
const PER_ROUND = 10_000;

if (process.argv[2] === '--child') {
  const rounds = Number(process.argv[3]);
  const policy = await import(pathToFileURL(join(ROOT, 'dist/orchestrator/libs/policy/src/index.js')).href);
  const opa = await policy.OpaPolicy.load(readFileSync(join(ROOT, BUNDLE_REL)), ENTRYPOINT, BUNDLE_REL);
  /** The 4096 varied inputs of bench:policy. */
  const inputs = Array.from({ length: 4096 }, (_, i) => policyInput(i));
  for (let i = 0; i < 2 * PER_ROUND; i++) opa.decide(inputs[i % inputs.length]);
  const micros = [];
  for (let round = 0; round < rounds; round++) {
    const start = performance.now();
    for (let i = 0; i < PER_ROUND; i++) opa.decide(inputs[i % inputs.length]);
    micros.push(((performance.now() - start) * 1000) / PER_ROUND);
  }
  micros.sort((a, b) => a - b);
  process.stdout.write(String(micros[Math.floor(micros.length / 2)]));
} else {
  const rounds = Number(process.argv[2] ?? 5);
  /** Median µs per decision in a fresh process started with `flags`. */
  const measure = (flags) => {
    const child = spawnSync(process.execPath, [...flags, fileURLToPath(import.meta.url), '--child', String(rounds)], {
      encoding: 'utf8',
    });
    if (child.status !== 0) throw new Error(`measuring with [${flags.join(' ')}] failed:\n${child.stderr}`);
    return Number(child.stdout);
  };
  const optimised = measure([]);
  const baseline = measure(['--liftoff-only']);
  process.stdout.write(
    `Node ${process.version}: ${optimised.toFixed(2)} µs per OPA decision, ${baseline.toFixed(2)} µs with ` +
      `--liftoff-only (${(baseline / optimised).toFixed(2)}×); median of ${rounds} rounds of ${PER_ROUND}\n`,
  );
}
