// The benchmarks' helpers, one door for the bench scripts, by purpose: util (statistics, formatting), machine (facts,
// memory, CPU of other processes), processes (servers, build, stubs, cleanup), load (load generators), profile (CPU
// profiles).
export { ROOT } from './report.mjs';
export * from './util.mjs';
export * from './machine.mjs';
export * from './processes.mjs';
export * from './load.mjs';
export * from './profile.mjs';
