// Shared helpers for the benchmarks under bench/: child servers (start, wait ready, stop, always cleaned up), load
// generators (wrk and autocannon closed-loop runs, an open-loop fixed-rate run), RSS, statistics, machine facts,
// stub backends and a CPU profiler. Everything binds to loopback; every run is bounded in time.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { ROOT } from './report.mjs';

export { ROOT };

/**
 * A child server started by {@link startServer}.
 * @typedef {{ name: string, pid: number | undefined, port: number, origin: string,
 *   child: import('node:child_process').ChildProcess, exited: Promise<{ code: number | null, signal: string | null }>,
 *   startedAt: number, alive: () => boolean, stderrTail: () => string,
 *   stop: (options?: { graceMs?: number }) => Promise<{ code: number | null, signal: string | null }> }} ServerHandle
 */
/** One request of a load run. @typedef {{ method?: string, path: string, headers?: Record<string, string>, body?: string }} PacedRequest */

const ORPHAN_GUARD = fileURLToPath(new URL('./orphan-guard.mjs', import.meta.url));
export const CPU_PROFILER = fileURLToPath(new URL('./cpu-profiler.mjs', import.meta.url));

// ---------------------------------------------------------------------------------------------------------------
// Small utilities

export const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

/** Reads a numeric environment variable (or returns the default); rejects garbage loudly. */
export function envNumber(name, fallback, { min = 0, integer = true } = {}) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new Error(`${name}=${raw}: expected ${integer ? 'an integer' : 'a number'} ≥ ${min}`);
  }
  return value;
}

export function median(values) {
  const sorted = values.filter((v) => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export const sum = (values) => values.reduce((a, b) => a + b, 0);

/**
 * What every closed-loop table shows, over a target's rounds: medians of req/s, p50, p99 (and RSS when measured),
 * totals of errors (socket errors plus timeouts, also apart), non-2xx and requests, the slowest answer, and the req/s
 * of each round. Scripts spread their own extra fields beside it.
 */
export function summarizeRounds(rounds) {
  const summary = {
    rps: median(rounds.map((r) => r.rps)),
    p50: median(rounds.map((r) => r.p50)),
    p99: median(rounds.map((r) => r.p99)),
    errors: sum(rounds.map((r) => r.errors + (r.timeouts ?? 0))),
    socketErrors: sum(rounds.map((r) => r.errors)),
    timeouts: sum(rounds.map((r) => r.timeouts ?? 0)),
    maxLatency: Math.max(...rounds.map((r) => r.max ?? 0)),
    non2xx: sum(rounds.map((r) => r.non2xx)),
    requests: sum(rounds.map((r) => r.requests ?? 0)),
    perRound: rounds.map((r) => r.rps),
  };
  if (rounds.every((r) => r.rss !== undefined)) summary.rss = median(rounds.map((r) => r.rss));
  return summary;
}

/** Machine facts for a report. */
export function machineInfo() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model?.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    loadavg: os.loadavg().map((v) => v.toFixed(2)),
  };
}

/** The repository's commit and whether the working tree differs from it (read-only git commands). */
export function gitInfo() {
  const run = (args) => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8', timeout: 10_000 });
  const head = run(['rev-parse', '--short', 'HEAD']);
  const status = run(['status', '--porcelain', '--untracked-files=no']);
  return {
    commit: head.status === 0 ? head.stdout.trim() : 'unknown',
    dirty: status.status === 0 ? status.stdout.trim().length > 0 : null,
  };
}

/** A free TCP port on 127.0.0.1 (asks the kernel, then releases it). */
export function freePort() {
  return new Promise((done, fail) => {
    const server = net.createServer();
    server.unref();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
      server.close(() => done(port));
    });
  });
}

function procStatusKB(pid, field) {
  try {
    const match = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm'));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/** Resident set size of a process in MB (VmRSS), or null when it is gone. */
export const rssMB = (pid) => {
  const kb = procStatusKB(pid, 'VmRSS');
  return kb === null ? null : kb / 1024;
};

/** Peak resident set size of a process in MB (VmHWM), or null. */
export const peakRssMB = (pid) => {
  const kb = procStatusKB(pid, 'VmHWM');
  return kb === null ? null : kb / 1024;
};

/** A temporary directory removed at exit (also on SIGINT and errors). */
export function tempDir(prefix = 'shieldx-bench-') {
  const dir = mkdtempSync(join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

// ---------------------------------------------------------------------------------------------------------------
// CPU used by other processes: the machine is shared, so every measurement says how busy the rest of it was.

const CLK_TCK = 100; // Linux USER_HZ (`getconf CLK_TCK`)

function processTicks(pid, withReapedChildren) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // After the command name: state is field 3, utime 14, stime 15, cutime 16, cstime 17 (1-based, proc(5)).
    const [utime, stime, cutime, cstime] = fields.slice(11, 15).map(Number);
    return utime + stime + (withReapedChildren ? cutime + cstime : 0);
  } catch {
    return 0;
  }
}

/**
 * CPU seconds (user + system, all threads) process `pid` has used so far, from /proc/<pid>/stat. `clockTicks`: clock
 * ticks per second (default 100, Linux USER_HZ); `unreadable`: what to return when the file cannot be read (default
 * NaN, e.g. when the process is gone).
 */
export function cpuSeconds(pid, { clockTicks = CLK_TCK, unreadable = NaN } = {}) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return unreadable;
  }
}

function machineBusyTicks() {
  const [user, nice, system] = readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return user + nice + system;
}

/**
 * Starts measuring CPU time; the returned function gives the average number of cores used since, by the whole machine
 * (user+nice+system), by this benchmark (this process, its finished children such as wrk, and the live `pids`), and
 * by everything else (`othersCores`, approximate: kernel network work done in softirq is left out on both sides).
 */
export function cpuMeter(pids = []) {
  const take = () => ({
    at: performance.now(),
    busy: machineBusyTicks(),
    ours: processTicks(process.pid, true) + sum(pids.map((pid) => processTicks(pid, false))),
  });
  const first = take();
  return () => {
    const last = take();
    const seconds = (last.at - first.at) / 1000;
    const busyCores = (last.busy - first.busy) / CLK_TCK / seconds;
    const oursCores = (last.ours - first.ours) / CLK_TCK / seconds;
    return { busyCores, oursCores, othersCores: Math.max(0, busyCores - oursCores) };
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Process bookkeeping: every child and every load run is registered so an interrupt or an error stops them all.

const children = new Set();
const cleanups = new Set();
const tempDirs = new Set();
let cleanupInstalled = false;

/** Registers `fn` to run when the benchmark stops early (SIGINT/SIGTERM/crash). Returns an unregister function. */
export function onAbort(fn) {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

function killAllNow() {
  for (const fn of cleanups) {
    try {
      fn();
    } catch {
      // keep going
    }
  }
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

/**
 * Installs handlers so that SIGINT/SIGTERM, an uncaught error or a hard deadline stop every child this process
 * started. `deadlineMs` bounds the whole benchmark.
 */
/** @param {{ deadlineMs?: number }} [options] */
export function installCleanup({ deadlineMs } = {}) {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  const bail = (why, code) => {
    process.stderr.write(`\nbench: ${why}; stopping every process this benchmark started\n`);
    killAllNow();
    process.exit(code);
  };
  process.on('SIGINT', () => bail('interrupted (SIGINT)', 130));
  process.on('SIGTERM', () => bail('terminated (SIGTERM)', 143));
  process.on('uncaughtException', (error) => bail(`uncaught error: ${error?.stack ?? String(error)}`, 1));
  process.on('unhandledRejection', (error) =>
    bail(`unhandled rejection: ${error instanceof Error ? error.stack : String(error)}`, 1),
  );
  process.on('exit', killAllNow);
  if (deadlineMs) {
    setTimeout(() => bail(`deadline of ${Math.round(deadlineMs / 1000)} s exceeded`, 124), deadlineMs).unref();
  }
}

/** Environment for a child: ours without ORCH_*, REDIS_*, ADMISSION_* and NODE_OPTIONS, plus `extra`. */
export function childEnv(extra = {}) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(ORCH_|REDIS_|ADMISSION_|NODE_OPTIONS$)/.test(key)) continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

/**
 * @param {string} url
 * @param {{ method?: string, headers?: Record<string, string>, body?: string, timeoutMs?: number }} [options]
 * @returns {Promise<{ status: number | undefined, headers: import('node:http').IncomingHttpHeaders, body: string }>}
 */
function httpRequest(url, { method = 'GET', headers = {}, body, timeoutMs = 2000 } = {}) {
  return new Promise((done, fail) => {
    const request = http.request(url, { method, headers, timeout: timeoutMs, agent: false }, (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('end', () =>
        done({ status: response.statusCode, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }),
      );
      response.on('error', fail);
    });
    request.on('timeout', () => request.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    request.on('error', fail);
    request.end(body);
  });
}

/**
 * One HTTP request (fresh connection); resolves `{status, headers, body, json}`.
 * @param {string} url
 * @param {{ method?: string, headers?: Record<string, string>, body?: string, timeoutMs?: number }} [options]
 */
export async function fetchJson(url, options = {}) {
  const response = await httpRequest(url, options);
  let json;
  try {
    json = JSON.parse(response.body);
  } catch {
    json = undefined;
  }
  return { ...response, json };
}

/**
 * Starts a Node server as a child process and waits until `GET <readyPath>` answers 200.
 * stdout goes to /dev/null (so a chatty logger cannot block on a full pipe); the last 16 KB of stderr are kept for
 * error messages. The child also loads bench/lib/orphan-guard.mjs so it exits if this process dies. `ipc: true` adds
 * an IPC channel (used by the CPU profiler).
 * @param {{ name: string, script: string, args?: string[], nodeArgs?: string[], env?: Record<string, string>,
 *   cwd?: string, port: number, host?: string, readyPath?: string, readyTimeoutMs?: number, ipc?: boolean }} options
 * @returns {Promise<ServerHandle>}
 */
export async function startServer({
  name,
  script,
  args = [],
  nodeArgs = [],
  env = {},
  cwd = ROOT,
  port,
  host = '127.0.0.1',
  readyPath = '/readyz',
  readyTimeoutMs = 30_000,
  ipc = false,
}) {
  const child = spawn(process.execPath, [...nodeArgs, '--import', ORPHAN_GUARD, script, ...args], {
    cwd,
    env: childEnv(env),
    stdio: /** @type {import('node:child_process').StdioOptions} */ ([
      'ignore',
      'ignore',
      'pipe',
      ...(ipc ? ['ipc'] : []),
    ]),
  });
  children.add(child);
  let stderr = '';
  const errors = /** @type {import('node:stream').Readable} */ (child.stderr);
  errors.setEncoding('utf8');
  errors.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-16_384);
  });
  /** @type {Promise<{ code: number | null, signal: string | null }>} */
  const exited = new Promise((done) => child.once('exit', (code, signal) => done({ code, signal })));
  void exited.then(() => children.delete(child));
  /** @type {ServerHandle} */
  const handle = {
    name,
    pid: child.pid,
    port,
    origin: `http://${host}:${port}`,
    child,
    exited,
    startedAt: Date.now(),
    alive: () => child.exitCode === null && child.signalCode === null,
    stderrTail: () => stderr,
    stop: (options) => stopServer(handle, options),
  };
  const deadline = Date.now() + readyTimeoutMs;
  let lastError = 'no answer';
  while (Date.now() < deadline) {
    if (!handle.alive()) {
      const { code, signal } = await exited;
      throw new Error(`${name} exited during start-up (code ${code}, signal ${signal}):\n${stderr.trim()}`);
    }
    try {
      const response = await httpRequest(handle.origin + readyPath, { timeoutMs: 1000 });
      if (response.status === 200) return handle;
      lastError = `HTTP ${response.status} ${response.body.slice(0, 200)}`;
    } catch (error) {
      lastError = error.message;
    }
    await sleep(100);
  }
  await stopServer(handle);
  throw new Error(`${name} not ready after ${readyTimeoutMs} ms (${lastError}):\n${stderr.trim()}`);
}

/**
 * SIGTERM, then SIGKILL after `graceMs`. Resolves `{code, signal}`.
 * @param {ServerHandle} handle
 * @param {{ graceMs?: number }} [options]
 */
export async function stopServer(handle, { graceMs = 5000 } = {}) {
  if (handle.alive()) {
    handle.child.kill('SIGTERM');
    const timer = setTimeout(() => handle.alive() && handle.child.kill('SIGKILL'), graceMs);
    const result = await handle.exited;
    clearTimeout(timer);
    return result;
  }
  return handle.exited;
}

// ---------------------------------------------------------------------------------------------------------------
// Orchestrator build and snapshot

/**
 * Builds the orchestrator (`npx nx run orchestrator:build`), retrying while someone else's edit breaks the build.
 * @returns {Promise<{ ok: boolean, output: string }>}
 */
export async function buildOrchestrator({ retries = 2, waitMs = 60_000, log = console.log } = {}) {
  let output = '';
  for (let attempt = 0; attempt <= retries; attempt++) {
    const started = Date.now();
    const result = spawnSync('npx', ['nx', 'run', 'orchestrator:build'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 180_000,
      env: childEnv({ NX_DAEMON: 'false', NX_NO_CLOUD: 'true' }),
    });
    output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
    if (result.status === 0) {
      log(`built the orchestrator in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return { ok: true, output };
    }
    if (attempt < retries) {
      log(`orchestrator build failed (attempt ${attempt + 1}); retrying in ${waitMs / 1000} s:\n${tail(output, 1500)}`);
      await sleep(waitMs);
    }
  }
  return { ok: false, output };
}

const ORCH_DIST = 'dist/orchestrator';

function processExists(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}
export const ORCH_MAIN = 'dist/orchestrator/apps/orchestrator/src/main.js';

/**
 * Copies dist/orchestrator to bench/.snapshot/run-XXXX/ (git-ignored, removed at exit) so a concurrent rebuild, which
 * starts with `rm -rf dist/orchestrator`, cannot change the code under test mid-run. The copy stays inside the
 * repository so that what the app finds by walking up from its own files (node_modules, the bundled policies/) is the
 * repository's.
 * @returns {{ dir: string, main: string, dispose: () => void }}
 */
export function snapshotOrchestrator() {
  const source = resolve(ROOT, ORCH_DIST);
  if (!existsSync(resolve(ROOT, ORCH_MAIN))) {
    throw new Error(`${ORCH_MAIN} is missing: build first (npx nx run orchestrator:build)`);
  }
  const parent = resolve(ROOT, 'bench/.snapshot');
  mkdirSync(parent, { recursive: true });
  // Left behind by a run that was killed outright (its pid is in the name): remove.
  for (const name of readdirSync(parent)) {
    const pid = Number(/^run-(\d+)-/.exec(name)?.[1]);
    if (pid && !processExists(pid)) rmSync(join(parent, name), { recursive: true, force: true });
  }
  const dir = mkdtempSync(join(parent, `run-${process.pid}-`));
  tempDirs.add(dir);
  cpSync(source, join(dir, ORCH_DIST), { recursive: true });
  const dispose = () => {
    rmSync(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  };
  return { dir, main: join(dir, ORCH_MAIN), dispose };
}

// ---------------------------------------------------------------------------------------------------------------
// Stub backends (so pools point at something that answers health probes)

/**
 * `count` tiny HTTP servers on free loopback ports, in this process, answering 200 `{"ok":true}` to everything.
 * They only answer the orchestrator's health probes in the /route benchmark.
 */
export async function startStubBackends(count) {
  const servers = [];
  for (let i = 0; i < count; i++) {
    const server = http.createServer((request, response) => {
      request.resume();
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    await new Promise((done, fail) => {
      server.once('error', fail);
      server.listen(0, '127.0.0.1', () => done(undefined));
    });
    server.unref();
    servers.push(server);
  }
  const urls = servers.map(
    (server) => `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (server.address()).port}`,
  );
  const close = () => Promise.all(servers.map((server) => new Promise((done) => server.close(() => done()))));
  const closeNow = () => servers.forEach((server) => server.closeAllConnections?.() ?? server.close());
  onAbort(closeNow);
  return { urls, close };
}

// ---------------------------------------------------------------------------------------------------------------
// Load generators. Every run returns the same summary shape:
// { tool, durationS, requests, rps, p50, p90, p99, p999, max (ms), errors, timeouts, non2xx }

/**
 * Closed-loop load with wrk (`-t threads -c connections -d duration`), rotating over `requests`
 * ([{method, path, headers, body}]). Latency percentiles come from wrk's histogram (µs resolution).
 */
export async function runWrk({ origin, requests, connections = 64, durationS = 10, threads = 1, timeoutS = 2 }) {
  const dir = tempDir('shieldx-bench-wrk-');
  const script = join(dir, 'requests.lua');
  writeFileSync(script, wrkScript(requests));
  try {
    return await runWrkScript({ origin, script, connections, durationS, threads, timeoutS });
  } finally {
    rmSync(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  }
}

/**
 * wrk with a script of the caller's (see {@link wrkRotatingScript}) that ends by printing the `WRK_JSON` line; the
 * same summary as {@link runWrk}. For request sets too large to inline in the script (read from a file in `init`).
 */
export async function runWrkScript({ origin, script, connections = 64, durationS = 10, threads = 1, timeoutS = 2 }) {
  const args = [`-t${threads}`, `-c${connections}`, `-d${durationS}s`, `--timeout`, `${timeoutS}s`, '-s', script];
  const child = spawn('wrk', [...args, origin], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const guard = setTimeout(() => child.kill('SIGKILL'), (durationS + 30) * 1000);
  const [code, signal] = await new Promise((done) => child.once('exit', (...result) => done(result)));
  clearTimeout(guard);
  children.delete(child);
  const line = stdout.split('\n').find((l) => l.startsWith('WRK_JSON '));
  if (code !== 0 || !line) {
    throw new Error(`wrk failed (code ${code}, signal ${signal}):\n${stderr}${stdout}`);
  }
  const r = JSON.parse(line.slice('WRK_JSON '.length));
  const durationSec = r.duration_us / 1e6;
  return {
    tool: 'wrk',
    durationS: durationSec,
    requests: r.requests,
    rps: r.requests / durationSec,
    p50: r.p50 / 1000,
    p90: r.p90 / 1000,
    p99: r.p99 / 1000,
    p999: r.p999 / 1000,
    max: r.max / 1000,
    errors: r.connect + r.read + r.write,
    timeouts: r.timeout,
    non2xx: r.status,
  };
}

/**
 * A wrk script: `init` (Lua, run by wrk's `init(args)`) fills the table `requests` with `wrk.format(…)` strings; the
 * script sends them in rotation and prints the `WRK_JSON` summary {@link runWrkScript} reads. No `response()` hook:
 * defining one makes wrk keep every header and body, which slows the generator down, so non-2xx are wrk's status
 * errors (answers ≥ 400).
 */
export function wrkRotatingScript(init) {
  return `
local requests = {}
init = function(args)
${init}
end
local index = 0
request = function()
  index = index % #requests + 1
  return requests[index]
end
done = function(summary, latency, requests_)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.3f}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max,
    latency.mean))
end
`;
}

function luaString(text) {
  let level = '';
  while (text.includes(`]${level}]`)) level += '=';
  return `[${level}[${text}]${level}]`;
}

function wrkScript(requests) {
  const formatted = requests.map((r) => {
    const headers = Object.entries(r.headers ?? {})
      .map(([key, value]) => `[ ${luaString(key)} ] = ${luaString(String(value))}`)
      .join(', ');
    const body = r.body === undefined ? 'nil' : luaString(r.body);
    return `  add(${luaString(r.method ?? 'GET')}, ${luaString(r.path)}, { ${headers} }, ${body})`;
  });
  // Built in init(), which wrk calls after it has set wrk.headers.Host; wrk.format() does not add Host by itself
  // when given a headers table, and HTTP/1.1 servers answer 400 without one.
  return wrkRotatingScript(`
  local function add(method, path, extra, body)
    local headers = {}
    for key, value in pairs(wrk.headers) do headers[key] = value end
    for key, value in pairs(extra) do headers[key] = value end
    table.insert(requests, wrk.format(method, path, headers, body))
  end
${formatted.join('\n')}`);
}

let autocannonModule;
async function loadAutocannon() {
  autocannonModule ??= (await import('autocannon')).default;
  return autocannonModule;
}

/**
 * Load with autocannon's programmatic API (closed loop, or `overallRate` req/s). Note: autocannon records latencies
 * in whole milliseconds (values are truncated), and its rate limit is a per-second budget per connection, spent as
 * fast as possible at the start of each second — see runPaced() for an evenly paced fixed rate.
 */
export async function runAutocannon({ origin, requests, connections = 64, durationS = 10, overallRate, timeoutS = 2 }) {
  const autocannon = await loadAutocannon();
  const options = {
    url: origin,
    connections,
    duration: durationS,
    timeout: timeoutS,
    requests,
    ...(overallRate ? { overallRate } : {}),
  };
  let instance;
  const result = await new Promise((done, fail) => {
    instance = autocannon(options, (error, r) =>
      error ? fail(error instanceof Error ? error : new Error(String(error))) : done(r),
    );
    const unregister = onAbort(() => instance.stop());
    instance.once('done', unregister);
  });
  const completed = result['1xx'] + result['2xx'] + result['3xx'] + result['4xx'] + result['5xx'];
  return {
    tool: 'autocannon',
    durationS: result.duration,
    requests: completed,
    rps: completed / result.duration,
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    p999: result.latency.p99_9,
    max: result.latency.max,
    errors: result.errors - result.timeouts,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
  };
}

/** Closed-loop load with the chosen tool (`wrk` or `autocannon`). */
export function runLoad(tool, options) {
  if (tool === 'wrk') return runWrk(options);
  if (tool === 'autocannon') return runAutocannon(options);
  throw new Error(`unknown load tool ${tool} (wrk or autocannon)`);
}

/** wrk is usable when /usr/bin/wrk (or wrk on PATH) runs. */
export function hasWrk() {
  const result = spawnSync('wrk', ['--version'], { encoding: 'utf8', timeout: 5000 });
  return !result.error;
}

/** Latency histogram in µs with 1 µs buckets up to 100 ms (values above are kept exactly). */
class LatencyHistogram {
  constructor(limitUs = 100_000) {
    this.limit = limitUs;
    this.counts = new Uint32Array(limitUs);
    this.over = [];
    this.count = 0;
    this.max = 0;
  }
  record(ms) {
    const us = Math.max(0, Math.round(ms * 1000));
    if (us < this.limit) this.counts[us]++;
    else this.over.push(us);
    this.count++;
    if (us > this.max) this.max = us;
  }
  /** The value (ms) at percentile `p` (0–100). */
  percentile(p) {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let us = 0; us < this.limit; us++) {
      seen += this.counts[us];
      if (seen >= rank) return us / 1000;
    }
    const over = this.over.sort((a, b) => a - b);
    return over[Math.min(over.length - 1, rank - seen - 1)] / 1000;
  }
}

/**
 * Open-loop load at a fixed rate: request i is due at start + i/rate; a timer checks every ~1 ms and sends what is
 * due (so requests leave in batches of about rate/1000) over a pool of keep-alive connections (undici Pool, one
 * request per connection at a time), whatever the answers are doing. Latency runs from the moment a request is handed
 * to the pool (so time queued for a free connection counts) to its last body byte, at 1 µs resolution; `lateP99` is
 * measured from each request's due time instead (it adds the generator's own timer lag, an upper bound). For the
 * first `warmupS` seconds the rate ramps up linearly from 0 (a cold server and cold connections at full rate build a
 * queue that takes seconds to drain); those requests are not counted.
 *
 * When the server cannot keep up, answers fall behind without bound; once `maxBacklog` requests are outstanding
 * (default: half a second's worth) the generator stops sending, waits `timeoutS` for what is in flight and reports
 * `sustained: false` with `gaveUpAtS` — a clear "this rate is beyond the server here" instead of minutes of queue.
 *
 * `onResponse(status, rawHeaders, latencyMs)`, when given, is called for every measured (post-ramp) answer with its
 * status, undici's raw header list (`[name, value, …]` as Buffers) and its latency, e.g. to count which backend
 * answered.
 */
/**
 * @param {{ origin: string, requests: PacedRequest[], rate?: number, durationS?: number, warmupS?: number,
 *   connections?: number, timeoutS?: number, maxBacklog?: number,
 *   onResponse?: (status: number, rawHeaders: Buffer[], latencyMs: number) => void }} options
 */
export async function runPaced({
  origin,
  requests,
  rate = 10_000,
  durationS = 10,
  warmupS = 2,
  connections = 64,
  timeoutS = 2,
  maxBacklog = Math.max(connections * 16, Math.round(rate / 2)),
  onResponse,
}) {
  const { Pool } = await import('undici');
  const pool = new Pool(origin, {
    connections,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    headersTimeout: timeoutS * 1000,
    bodyTimeout: timeoutS * 1000,
  });
  const unregister = onAbort(() => pool.destroy());
  const prepared = requests.map((r) => ({
    method: r.method ?? 'GET',
    path: r.path,
    headers: r.headers ?? {},
    body: r.body === undefined ? undefined : Buffer.from(r.body),
  }));
  const service = new LatencyHistogram();
  const scheduled = new LatencyHistogram();
  const skip = Math.round((rate * warmupS) / 2); // requests in the ramp
  const total = skip + Math.round(rate * durationS);
  const ramp = warmupS * 1000;
  // Start time (ms after start) of request i, and how many requests are due after `ms`.
  const dueAt = (i) => (i < skip ? Math.sqrt((2 * ramp * 1000 * i) / rate) : ramp + ((i - skip) * 1000) / rate);
  const dueCount = (ms) =>
    ms < ramp
      ? Math.floor((rate * ms * ms) / (2 * ramp * 1000)) + 1
      : skip + Math.floor(((ms - ramp) * rate) / 1000) + 1;
  const counts = { ok: 0, non2xx: 0, errors: 0, timeouts: 0, finished: 0, measured: 0 };
  let sent = 0;
  let expected = total;
  let inflightMax = 0;
  /** @type {{ atS: number, backlog: number } | null} */
  let gaveUp = null;
  let allDone;
  const done = new Promise((resolve_) => (allDone = resolve_));
  const start = performance.now();
  let measureStart = 0;
  let measureEnd = 0;

  const finish = () => {
    counts.finished++;
    if (counts.finished >= expected) allDone('done');
  };
  const issue = (index) => {
    const r = prepared[index % prepared.length];
    const due = start + dueAt(index);
    const t0 = performance.now();
    const counted = index >= skip;
    if (index === skip) measureStart = t0;
    inflightMax = Math.max(inflightMax, index + 1 - counts.finished);
    let status = 0;
    let rawHeaders;
    pool.dispatch(
      { origin, method: r.method, path: r.path, headers: r.headers, body: r.body },
      {
        onConnect() {},
        onHeaders(statusCode, raw) {
          status = statusCode;
          if (onResponse) rawHeaders = raw;
          return true;
        },
        onData() {
          return true;
        },
        onComplete() {
          const t1 = performance.now();
          if (counted) {
            counts.measured++;
            measureEnd = t1;
            if (status >= 200 && status < 300) {
              counts.ok++;
              service.record(t1 - t0);
              scheduled.record(t1 - due);
            } else counts.non2xx++;
            onResponse?.(status, rawHeaders, t1 - t0);
          }
          finish();
        },
        onError(error) {
          if (counted) {
            counts.measured++;
            const code = /** @type {NodeJS.ErrnoException} */ (error).code;
            if (/timeout/i.test(`${code ?? ''} ${error.name ?? ''}`)) counts.timeouts++;
            else counts.errors++;
          }
          finish();
        },
      },
    );
  };

  const tick = () => {
    const now = performance.now();
    const due = Math.min(total, dueCount(now - start));
    while (sent < due) {
      if (sent - counts.finished >= maxBacklog) {
        gaveUp = { atS: (now - start) / 1000, backlog: sent - counts.finished };
        expected = sent;
        if (counts.finished >= expected) allDone('done');
        setTimeout(() => allDone('drain timeout'), (timeoutS + 1) * 1000).unref();
        return;
      }
      issue(sent++);
    }
    if (sent < total) setTimeout(tick, 1);
  };
  tick();
  const guard = sleep((warmupS + durationS + timeoutS + 10) * 1000).then(() => 'deadline');
  await Promise.race([done, guard]);
  const abandoned = sent - counts.finished;
  await pool.destroy().catch(() => {});
  unregister();
  const elapsed = (measureEnd - measureStart) / 1000;
  const rps = counts.measured > 0 && elapsed > 0 ? counts.measured / elapsed : NaN;
  return {
    tool: 'paced (undici)',
    durationS: elapsed,
    requests: counts.measured,
    rps,
    targetRate: rate,
    sustained: !gaveUp && abandoned === 0 && rps >= 0.98 * rate,
    gaveUpAtS: gaveUp?.atS ?? null,
    notSent: total - sent,
    abandoned,
    p50: service.percentile(50),
    p90: service.percentile(90),
    p99: service.percentile(99),
    p999: service.percentile(99.9),
    max: service.max / 1000,
    lateP99: scheduled.percentile(99),
    inflightMax,
    errors: counts.errors,
    timeouts: counts.timeouts,
    non2xx: counts.non2xx,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// CPU profiles

/**
 * Profiles `during()` with the in-process profiler loaded by `--import bench/lib/cpu-profiler.mjs` into a server
 * started with `ipc: true` and BENCH_CPU_PROFILE_FILE=`file` (see that file). Returns the parsed .cpuprofile.
 */
export async function captureProfile(handle, file, during) {
  handle.child.send({ benchProfile: 'start' });
  await sleep(100);
  await during();
  handle.child.send({ benchProfile: 'stop' });
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (existsSync(file) && existsSync(`${file}.done`)) return JSON.parse(readFileSync(file, 'utf8'));
    if (!handle.alive()) throw new Error(`${handle.name} exited before writing its profile:\n${handle.stderrTail()}`);
    await sleep(100);
  }
  throw new Error(`no CPU profile written to ${file}:\n${handle.stderrTail()}`);
}

/** Shortens a profile URL: repository files relative to the repo, packages as `pkg/path`. */
function shortUrl(url) {
  if (!url) return '';
  let path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const nm = path.lastIndexOf('/node_modules/');
  if (nm !== -1) return path.slice(nm + '/node_modules/'.length);
  const dist = path.indexOf('/dist/orchestrator/');
  if (dist !== -1) return path.slice(dist + 1);
  if (path.startsWith(ROOT)) return relative(ROOT, path);
  return path;
}

/** Which bucket a frame belongs to: a package name, `node:internal`, the app, or a V8 pseudo-frame. */
function frameGroup(url, name) {
  if (!url) return name.startsWith('(') ? name : `(native) ${name}`;
  const short = shortUrl(url);
  if (url.startsWith('node:')) return 'node: core';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm !== -1) {
    const parts = url.slice(nm + '/node_modules/'.length).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  if (short.startsWith('dist/orchestrator/')) {
    const [, , area, project] = short.split('/');
    return `${area}/${project}`;
  }
  return short;
}

/**
 * Self time per function (name + url:line) from a .cpuprofile, plus self time per package/area.
 * @returns {{ totalMs: number, functions: {name, where, selfMs, pct}[], groups: {group, selfMs, pct}[] }}
 */
export function summarizeProfile(profile, { top = 15 } = {}) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map();
  const { samples = [], timeDeltas = [] } = profile;
  for (let i = 0; i < samples.length; i++) {
    // timeDeltas[i] is the time between sample i-1 and sample i; attribute the interval after a sample to it.
    const dt = (i + 1 < timeDeltas.length ? timeDeltas[i + 1] : timeDeltas[i]) ?? 0;
    self.set(samples[i], (self.get(samples[i]) ?? 0) + Math.max(0, dt));
  }
  const functions = new Map();
  const groups = new Map();
  let totalUs = 0;
  for (const [id, us] of self) {
    const { callFrame } = byId.get(id);
    const name = callFrame.functionName || '(anonymous)';
    const where = callFrame.url ? `${shortUrl(callFrame.url)}:${callFrame.lineNumber + 1}` : '';
    const key = `${name}\u0000${where}`;
    const entry = functions.get(key) ?? { name, where, selfUs: 0 };
    entry.selfUs += us;
    functions.set(key, entry);
    const group = frameGroup(callFrame.url, name);
    groups.set(group, (groups.get(group) ?? 0) + us);
    totalUs += us;
  }
  const pct = (us) => (totalUs ? (100 * us) / totalUs : 0);
  return {
    totalMs: totalUs / 1000,
    functions: [...functions.values()]
      .sort((a, b) => b.selfUs - a.selfUs)
      .slice(0, top)
      .map((f) => ({ name: f.name, where: f.where, selfMs: f.selfUs / 1000, pct: pct(f.selfUs) })),
    groups: [...groups.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([group, us]) => ({ group, selfMs: us / 1000, pct: pct(us) })),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Formatting

export const fmt = {
  int: (v) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '—'),
  ms: (v) => (Number.isFinite(v) ? v.toFixed(v < 10 ? 2 : 1) : '—'),
  mb: (v) => (Number.isFinite(v) ? v.toFixed(1) : '—'),
  ratio: (v) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '—'),
  pct: (v) => (Number.isFinite(v) ? `${v.toFixed(1)}%` : '—'),
  cores: (v) => (Number.isFinite(v) ? `${v.toFixed(2)} cores` : '—'),
};

export function tail(text, chars) {
  return text.length > chars ? `…${text.slice(-chars)}` : text;
}
