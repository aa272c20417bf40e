// Benchmark of the caller proofs (issue 5): how many admission headers and DPoP proofs one process verifies per second
// (in-process, the built libs/security code with its in-process replay store), and what each costs `POST /route`
// (the built orchestrator, closed loop with wrk, the same run): no proof, the admission header, a DPoP ES256 proof.
// Every request carries a fresh nonce or jti (a replay is refused), so the requests of each round are signed up front
// and wrk reads them from a file. Writes the `caller-proof` section of docs/BENCHMARKS.md.
//
//   node bench/caller-proof.mjs [--no-build] [--no-write]
//
// Environment (defaults in brackets): BENCH_MICRO_RUNS [5] runs per micro-benchmark (median), BENCH_MICRO_N [20000]
// admission headers per run (DPoP: a tenth), BENCH_ROUNDS [3], BENCH_DURATION [5] s per round, BENCH_CONNECTIONS [64],
// BENCH_WARMUP [2] s.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import {
  cpuSeconds,
  envNumber,
  fetchJson,
  fmt,
  hasWrk,
  installCleanup,
  median,
  runWrkScript,
  sleep,
  startStubBackends,
  sum,
  tempDir,
  wrkRotatingScript,
} from './lib/harness.mjs';
import {
  alternated,
  benchArgs,
  closedLoopSettings,
  factsMarkdown,
  nonDefaultNote,
  prepareOrchestrator,
  roundHead,
  runFacts,
  startOrchestrator,
  SHIPPED_TEXT,
} from './lib/common.mjs';
import { markdownTable, textTable, writeReport } from './lib/report.mjs';

// ---------------------------------------------------------------------------------------------------------------
// Settings

const { argv, build, write } = benchArgs(
  'caller-proof.mjs',
  'env: BENCH_MICRO_RUNS=5 BENCH_MICRO_N=20000 BENCH_ROUNDS=3 BENCH_DURATION=5 BENCH_CONNECTIONS=64 BENCH_WARMUP=2',
);
const DEFAULTS = { microRuns: 5, microN: 20_000, rounds: 3, duration: 5, connections: 64, warmup: 2 };
const S = {
  microRuns: envNumber('BENCH_MICRO_RUNS', DEFAULTS.microRuns, { min: 1 }),
  microN: envNumber('BENCH_MICRO_N', DEFAULTS.microN, { min: 100 }),
  ...closedLoopSettings(DEFAULTS, { warmupMin: 1, tool: false }),
};
if (!hasWrk()) {
  console.error('bench/caller-proof.mjs needs wrk (Debian: apt-get install -y wrk)');
  process.exit(2);
}
installCleanup({ deadlineMs: (600 + (build ? 400 : 0) + S.rounds * 3 * (S.duration + 60)) * 1000 });

const SECRET = 'bench-admission-secret-000000001';
const BODY = JSON.stringify({ service: 'api', tenant: 'acme', scope: 'read', path: '/v1/items' });
const facts = runFacts('caller-proof.mjs', argv);
const { log, say, machine, command } = facts;

say(`caller-proof benchmark: ${command}`);
say(`${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, load average ${machine.loadavg.join(' ')}`);
const snapshot = await prepareOrchestrator({ build, say });
const security = await import(pathToFileURL(join(snapshot.dir, 'dist/orchestrator/libs/security/src/index.js')).href);

// ---------------------------------------------------------------------------------------------------------------
// Micro-benchmarks: verifications per second in this process (median of runs)

const nowSeconds = () => Math.floor(Date.now() / 1000);
let counter = 0;
const unique = () => `bench-${process.pid}-${++counter}-${Math.random().toString(36).slice(2, 10)}`;

function admissionHeaders(n, path = '/route') {
  const t = nowSeconds();
  return Array.from({ length: n }, () =>
    security.signAdmission({ secret: SECRET, method: 'POST', pathWithQuery: path, timestamp: t, nonce: unique() }),
  );
}

async function signer(alg) {
  const { privateKey, publicKey } = await generateKeyPair(alg);
  return { alg, privateKey, jwk: await exportJWK(publicKey) };
}

function proofs(s, n, htu) {
  const iat = nowSeconds();
  return Promise.all(
    Array.from({ length: n }, () =>
      new SignJWT({ htm: 'POST', htu, iat, jti: unique() })
        .setProtectedHeader({ alg: s.alg, typ: 'dpop+jwt', jwk: s.jwk })
        .sign(s.privateKey),
    ),
  );
}

function microAdmission() {
  const perSecond = [];
  for (let run = 0; run < S.microRuns; run++) {
    const verifier = new security.AdmissionVerifier({ secrets: [SECRET], replay: new security.MemoryReplayStore() });
    const headers = admissionHeaders(S.microN);
    const now = Date.now();
    let ok = 0;
    const t0 = performance.now();
    for (const header of headers) {
      if (verifier.verify({ header, method: 'POST', pathWithQuery: '/route' }, now).ok) ok++;
    }
    const elapsed = (performance.now() - t0) / 1000;
    if (ok !== headers.length) throw new Error(`admission: only ${ok} of ${headers.length} verified`);
    perSecond.push(headers.length / elapsed);
  }
  return perSecond;
}

/** DPoP verifications per second: `inFlight` at a time (1 = one after the other; WebCrypto runs off the main thread). */
async function microDpop(s, inFlight, { freshKeys = false } = {}) {
  const htu = 'https://gw.example.com/route';
  const n = Math.max(100, Math.round(S.microN / 10));
  const perSecond = [];
  for (let run = 0; run < S.microRuns; run++) {
    const verifier = new security.DpopVerifier({ replay: new security.MemoryReplayStore() });
    let list;
    if (freshKeys) {
      const keys = await Promise.all(Array.from({ length: n }, () => signer(s.alg)));
      list = (await Promise.all(keys.map((k) => proofs(k, 1, htu)))).flat();
    } else {
      list = await proofs(s, n, htu);
    }
    // Warm the key cache for the one-key case (a client reuses its key); fresh keys are imported every time.
    if (!freshKeys)
      await verifier.verify({ proof: (await proofs(s, 1, htu))[0], method: 'POST', url: htu }, Date.now());
    const now = Date.now();
    let ok = 0;
    let next = 0;
    const worker = async () => {
      while (next < list.length) {
        const proof = list[next++];
        if ((await verifier.verify({ proof, method: 'POST', url: htu }, now)).ok) ok++;
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: inFlight }, worker));
    const elapsed = (performance.now() - t0) / 1000;
    if (ok !== list.length) throw new Error(`dpop ${s.alg}: only ${ok} of ${list.length} verified`);
    perSecond.push(list.length / elapsed);
  }
  return perSecond;
}

say('micro-benchmarks (in this process, the built libs/security)');
const es256 = await signer('ES256');
const eddsa = await signer('EdDSA');
const micro = [];
const addMicro = (label, values) => {
  const m = median(values);
  micro.push({ label, perSecond: m, usEach: 1e6 / m, runs: values });
  say(`  ${label.padEnd(58)} ${fmt.int(m).padStart(9)} /s  (${(1e6 / m).toFixed(1)} µs each)`);
};
addMicro('admission header: parse, HMAC-SHA256, replay store', microAdmission());
addMicro('DPoP ES256, one key (cached import), 1 in flight', await microDpop(es256, 1));
addMicro('DPoP ES256, one key (cached import), 64 in flight', await microDpop(es256, 64));
addMicro('DPoP EdDSA, one key (cached import), 1 in flight', await microDpop(eddsa, 1));
addMicro('DPoP EdDSA, one key (cached import), 64 in flight', await microDpop(eddsa, 64));
addMicro('DPoP ES256, a new key for every proof, 64 in flight', await microDpop(es256, 64, { freshKeys: true }));

// ---------------------------------------------------------------------------------------------------------------
// POST /route: no proof, admission header, DPoP ES256 (same build, same run, rounds interleaved)

const stubs = await startStubBackends(3);
const work = tempDir('shieldx-bench-caller-proof-');
// The load comes from one client IP: the replay store's default share per client (ORCH_REPLAY_CLIENT_SHARE 0.1 of
// ORCH_REPLAY_MAX_KEYS, 100,000 live nonces) would refuse it after a few seconds, which is its job, not what is measured.
const ONE_CLIENT = { ORCH_REPLAY_CLIENT_SHARE: '1' };
/** @type {import('./lib/common.mjs').RoundTarget[]} */
const TARGETS = [
  { key: 'none', label: 'no caller proof', env: ONE_CLIENT },
  { key: 'admission', label: 'admission header (HMAC)', env: { ...ONE_CLIENT, ADMISSION_SECRET: SECRET } },
  { key: 'dpop', label: 'DPoP proof, ES256', env: ONE_CLIENT },
];
const servers = new Map();
for (const [name, env] of /** @type {[string, Record<string, string>][]} */ ([
  ['plain', ONE_CLIENT],
  ['admission', { ...ONE_CLIENT, ADMISSION_SECRET: SECRET }],
])) {
  servers.set(
    name,
    await startOrchestrator({ snapshot, name: `orchestrator (${name})`, work, pools: { api: stubs.urls }, env }),
  );
}
for (const target of TARGETS) {
  target.server = servers.get(target.key === 'admission' ? 'admission' : 'plain');
  target.rounds = [];
}

/** `n` unique requests for a target, signed now. */
async function requestsFor(target, n) {
  const base = { 'content-type': 'application/json' };
  // Without a proof, the same number of distinct requests with an ignored header of the admission header's size, so
  // the load generator and the HTTP parser do the same work in every row and only the verification differs.
  if (target.key === 'none') {
    return admissionHeaders(n).map((value) => ({ headers: { ...base, 'X-Bench-Pad': value } }));
  }
  if (target.key === 'admission') {
    return admissionHeaders(n).map((value) => ({ headers: { ...base, 'X-ShieldX-Admission': value } }));
  }
  const list = await proofs(es256, n, `${target.server.origin}/route`);
  return list.map((dpop) => ({ headers: { ...base, DPoP: dpop } }));
}

/** wrk over the requests in a file (one per line), each sent once while they last, then rotating. */
async function wrkOverFile(origin, requests, durationS) {
  const dir = tempDir('shieldx-bench-wrk-');
  const data = join(dir, 'requests.tsv');
  writeFileSync(
    data,
    requests
      .map((r) => ['POST', '/route', BODY, ...Object.entries(r.headers).map(([k, v]) => `${k}: ${v}`)].join('\t'))
      .join('\n') + '\n',
  );
  const script = join(dir, 'requests.lua');
  writeFileSync(
    script,
    wrkRotatingScript(`
  local base = {}
  for key, value in pairs(wrk.headers) do base[key] = value end
  for line in io.lines(${JSON.stringify(data)}) do
    local fields = {}
    for field in string.gmatch(line, "[^\\t]+") do fields[#fields + 1] = field end
    local headers = {}
    for key, value in pairs(base) do headers[key] = value end
    for i = 4, #fields do
      local name, value = string.match(fields[i], "^([^:]+): (.*)$")
      headers[name] = value
    end
    requests[#requests + 1] = wrk.format(fields[1], fields[2], headers, fields[3])
  end`),
  );
  const r = await runWrkScript({ origin, script, connections: S.connections, durationS });
  return {
    rps: r.rps,
    requests: r.requests,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
    p50: r.p50,
    p99: r.p99,
    pool: requests.length,
  };
}

// Size the pools of signed requests from the fastest rate seen so far (a cold warm-up underestimates it), with room.
say('warming up');
const warm = await wrkOverFile(TARGETS[0].server.origin, await requestsFor(TARGETS[0], 20_000), S.warmup);
for (const target of TARGETS.slice(1)) {
  await wrkOverFile(target.server.origin, await requestsFor(target, Math.ceil(warm.rps * S.warmup * 3)), S.warmup);
}
let fastest = 2 * warm.rps;
const poolSizes = [];
say(`warm-up: ${fmt.int(warm.rps)} req/s without proofs`);

for (let round = 0; round < S.rounds; round++) {
  for (const target of alternated(TARGETS, round)) {
    const poolSize = Math.ceil(fastest * S.duration * 1.5) + 2000;
    poolSizes.push(poolSize);
    const requests = await requestsFor(target, poolSize);
    await sleep(500);
    const cpu0 = cpuSeconds(target.server.pid);
    const result = await wrkOverFile(target.server.origin, requests, S.duration);
    result.cpuUs = ((cpuSeconds(target.server.pid) - cpu0) * 1e6) / result.requests;
    fastest = Math.max(fastest, result.rps);
    if (!target.server.alive())
      throw new Error(`${target.label}: the orchestrator died:\n${target.server.stderrTail()}`);
    target.rounds.push(result);
    const exhausted = result.requests > result.pool;
    say(
      roundHead(round, S.rounds, target.label, 26, result) +
        `CPU ${result.cpuUs.toFixed(0)} µs/request  ` +
        `errors ${result.errors}  non-2xx ${result.non2xx}` +
        `${exhausted ? '  (ran out of signed requests: replays were sent)' : ''}`,
    );
  }
}

const problems = [];
for (const target of TARGETS) {
  const rounds = target.rounds;
  target.summary = {
    rps: median(rounds.map((r) => r.rps)),
    p50: median(rounds.map((r) => r.p50)),
    p99: median(rounds.map((r) => r.p99)),
    cpuUs: median(rounds.map((r) => r.cpuUs)),
    errors: sum(rounds.map((r) => r.errors)),
    non2xx: sum(rounds.map((r) => r.non2xx)),
    perRound: rounds.map((r) => r.rps),
  };
  if (target.summary.errors || target.summary.non2xx) {
    problems.push(`${target.label}: ${target.summary.errors} errors and ${target.summary.non2xx} non-2xx`);
  }
}
for (const [name, server] of servers) {
  const refused = (await fetchJson(`${server.origin}/metrics`)).body.match(
    /^orchestrator_auth_failed_total\{[^}]*\} \d+/gm,
  );
  if (refused) problems.push(`${name}: refusals counted during the run: ${refused.join('; ')}`);
}
for (const server of servers.values()) await server.stop();
await stubs.close();
snapshot.dispose();

// ---------------------------------------------------------------------------------------------------------------
// Report

const none = TARGETS[0].summary.rps;
const poolRange = () => {
  const [low, high] = [Math.min(...poolSizes), Math.max(...poolSizes)];
  return low === high ? fmt.int(low) : `${fmt.int(low)}–${fmt.int(high)}`;
};
const microHeaders = ['check', 'per second', 'µs each', 'per second by run'];
const microRows = micro.map((m) => [
  m.label,
  fmt.int(m.perSecond),
  m.usEach.toFixed(1),
  m.runs.map((v) => fmt.int(v)).join(' / '),
]);
const routeHeaders = [
  'caller proof',
  'req/s',
  'vs none',
  'orchestrator CPU µs/request',
  'p50 ms',
  'p99 ms',
  'errors',
  'non-2xx',
  'req/s by round',
];
const routeRows = TARGETS.map((t) => [
  t.label,
  fmt.int(t.summary.rps),
  fmt.ratio(t.summary.rps / none),
  `${t.summary.cpuUs.toFixed(0)} (+${(t.summary.cpuUs - TARGETS[0].summary.cpuUs).toFixed(0)})`,
  fmt.ms(t.summary.p50),
  fmt.ms(t.summary.p99),
  t.summary.errors,
  t.summary.non2xx,
  t.summary.perRound.map((v) => fmt.int(v)).join(' / '),
]);
log('');
log(textTable(microHeaders, microRows));
log('');
log(textTable(routeHeaders, routeRows));
for (const problem of problems) log(`problem: ${problem}`);

if (write) {
  const md = [];
  md.push('## Caller proofs: admission header and DPoP');
  md.push('');
  md.push(...factsMarkdown(facts, { what: 'wrk' }));
  md.push(...nonDefaultNote(DEFAULTS, S));
  md.push('');
  md.push(
    `### Verifications per second in one process (median of ${S.microRuns} runs; ${fmt.int(S.microN)} admission ` +
      `headers or ${fmt.int(Math.max(100, Math.round(S.microN / 10)))} DPoP proofs per run)`,
  );
  md.push('');
  md.push(markdownTable(microHeaders, microRows));
  md.push('');
  md.push(
    'The built `AdmissionVerifier` and `DpopVerifier` of `libs/security` with the in-process replay store, every ' +
      'header or proof distinct and valid (so every check runs to the end, including the replay store). The admission ' +
      'check is synchronous. DPoP verification is jose 6 on WebCrypto, which runs the signature check off the main ' +
      'thread: "64 in flight" is what a busy gateway sees. "One key" is a client reusing its key, whose import is ' +
      'cached (keyed by its RFC 7638 canonical form); "a new key for every proof" pays the thumbprint and the ' +
      'import too.',
  );
  md.push('');
  md.push(
    `### Cost on \`POST /route\` (wrk, ${S.connections} connections, medians of ${S.rounds} round(s) of ${S.duration} s)`,
  );
  md.push('');
  md.push(markdownTable(routeHeaders, routeRows));
  md.push('');
  md.push(
    `The built orchestrator, run ${SHIPPED_TEXT}, with defaults (log level info to /dev/null, in-process stores, ` +
      'rate limits at 10⁹, and ' +
      '`ORCH_REPLAY_CLIENT_SHARE=1`: all the load comes from one IP, which the default share would hold to 100,000 ' +
      'live nonces, refusing the rest), one instance without and one with `ADMISSION_SECRET`; DPoP proofs are optional, so the DPoP row is the instance ' +
      `without a secret receiving a proof on every request; the row without a proof sends an ignored header of the ` +
      "admission header's size, so that every row makes wrk and the HTTP parser do the same work. Each round has " +
      `${poolRange()} distinct requests signed just before it ` +
      '(fresh nonce or jti each, read by wrk from a file), 1.5 times what the fastest round so far could send, so no ' +
      'replay is sent (a refusal would show as non-2xx); rounds alternate between the three. "Orchestrator CPU" is the ' +
      'process CPU time (all threads: user + system, from /proc) per answered request, and the extra over no proof.',
  );
  writeReport('caller-proof', md, { problems });
}
process.exit(0);
