// Pieces shared by the benchmark scripts on top of bench/lib/harness.mjs, one door for them: settings (flags,
// settings, run facts), servers (the orchestrator and loopback servers), rounds (the closed-loop plumbing).
export * from './settings.mjs';
export * from './servers.mjs';
export * from './rounds.mjs';
