// Runs every benchmark under bench/ in sequence (each one writes its own section of docs/BENCHMARKS.md).
// Arguments are passed on to each script (e.g. `npm run bench -- --no-build`). Add new benchmarks to BENCHMARKS.
//
//   node bench/run-all.mjs [args…]
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCHMARKS = [
  'route.mjs',
  'ratelimit.mjs',
  'caller-proof.mjs',
  'ledger.mjs',
  'workers.mjs',
  'policy.mjs',
  'proxy.mjs',
  'lb.mjs',
  'memory.mjs',
  'adaptive.mjs',
  'node.mjs',
];

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
let current = null;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    // The child cleans up its own servers on the same signal.
    if (current && current.exitCode === null) current.kill(signal);
    else process.exit(130);
  });
}

const failed = [];
for (const name of BENCHMARKS) {
  console.log(`\n=== bench/${name} ${args.join(' ')}`.trimEnd());
  const started = Date.now();
  current = spawn(process.execPath, [join(here, name), ...args], { stdio: 'inherit' });
  const [code, signal] = await new Promise((done) => current.once('exit', (...result) => done(result)));
  current = null;
  console.log(
    `=== bench/${name}: ${code === 0 ? 'done' : `failed (code ${code}, signal ${signal})`} in ${Math.round((Date.now() - started) / 1000)} s`,
  );
  if (code !== 0) failed.push(name);
  if (signal === 'SIGINT' || signal === 'SIGTERM' || code === 130 || code === 143) break;
}
if (failed.length) {
  console.error(`failed: ${failed.join(', ')}`);
  process.exit(1);
}
