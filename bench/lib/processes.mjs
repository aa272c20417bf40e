// Child processes of a benchmark: servers started and awaited, the orchestrator built and snapshotted, stub
// backends, and the bookkeeping that stops them all on an interrupt, an error or the deadline. Loopback only.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT } from './report.mjs';
import { sleep, tail } from './util.mjs';

/**
 * A child server started by {@link startServer}.
 * @typedef {{ name: string, pid: number | undefined, port: number, origin: string,
 *   child: import('node:child_process').ChildProcess, exited: Promise<{ code: number | null, signal: string | null }>,
 *   startedAt: number, alive: () => boolean, stderrTail: () => string,
 *   stop: (options?: { graceMs?: number }) => Promise<{ code: number | null, signal: string | null }> }} ServerHandle
 */

const ORPHAN_GUARD = fileURLToPath(new URL('./orphan-guard.mjs', import.meta.url));

/** A temporary directory removed at exit (also on SIGINT and errors). */
export function tempDir(prefix = 'shieldx-bench-') {
  const dir = mkdtempSync(join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

// ---------------------------------------------------------------------------------------------------------------
// Process bookkeeping: every child and every load run is registered so an interrupt or an error stops them all.

const children = new Set();
const cleanups = new Set();
const tempDirs = new Set();
let cleanupInstalled = false;

/** Registers a child process to kill if the benchmark stops early; returns the function that forgets it. */
export function trackChild(child) {
  children.add(child);
  return () => children.delete(child);
}

/** Removes a directory made by {@link tempDir} now instead of at exit. */
export function removeTempDir(dir) {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

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
    if (/^(ORCH_|REDIS_|ADMISSION_|MALLOC_|NODE_OPTIONS$|GLIBC_TUNABLES$)/.test(key)) continue;
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
 * an IPC channel (used by the CPU profiler). `execPath`: the Node binary (default: the one running the benchmark).
 * @param {{ name: string, script: string, args?: string[], nodeArgs?: string[], env?: Record<string, string>,
 *   cwd?: string, port: number, host?: string, readyPath?: string, readyTimeoutMs?: number, ipc?: boolean,
 *   execPath?: string }} options
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
  execPath = process.execPath,
}) {
  const child = spawn(execPath, [...nodeArgs, '--import', ORPHAN_GUARD, script, ...args], {
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
 * Builds the orchestrator (`npx nx run orchestrator:build`), retrying while an edit in progress breaks the build.
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
