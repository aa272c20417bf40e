#!/usr/bin/env node
// Development aid: what one `process.nextTick` costs before and after major garbage collections that run while it
// is not used (what a gateway that starts, or idles, before traffic goes through). On Node 24 (V8 13), once a few
// collections ran while no tick object was alive, every later nextTick takes a slow path in V8's runtime for the
// life of the process; Node 20 does not. The gateway's start-up compaction does the same; holding one tick object
// (apps/orchestrator/src/tick-shape.ts) prevents it. Not a benchmark of record.
//   node --expose-gc scripts/dev/next-tick-after-gc.mjs [collections=3] [idle ms=200]
if (typeof globalThis.gc !== 'function') {
  process.stderr.write('run with node --expose-gc\n');
  process.exit(2);
}
const collections = Number(process.argv[2] ?? 3);
const idleMs = Number(process.argv[3] ?? 200);

/** Mean ns of one nextTick call, over 200 batches of 1000 after 50 warm-up batches. */
async function nsPerNextTick() {
  let done = 0;
  const callback = () => void done++;
  const batch = () => {
    for (let i = 0; i < 1000; i++) process.nextTick(callback);
  };
  const turn = () => new Promise((resolve) => setImmediate(resolve));
  for (let k = 0; k < 50; k++) {
    batch();
    await turn();
  }
  let total = 0n;
  for (let k = 0; k < 200; k++) {
    const start = process.hrtime.bigint();
    batch();
    total += process.hrtime.bigint() - start;
    await turn();
  }
  return Number(total) / 200_000;
}

const before = await nsPerNextTick();
await new Promise((resolve) => setTimeout(resolve, idleMs));
for (let i = 0; i < collections; i++) globalThis.gc({ type: 'major', execution: 'sync' });
const after = await nsPerNextTick();
const later = await nsPerNextTick();
console.log(
  `Node ${process.version}: nextTick ${before.toFixed(0)} ns; after ${idleMs} ms idle and ${collections} major ` +
    `collections ${after.toFixed(0)} ns, then ${later.toFixed(0)} ns`,
);
