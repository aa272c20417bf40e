// Load generators: wrk and autocannon closed-loop runs, and an open-loop run at a fixed rate. Every run is bounded
// in time and returns the same summary shape.
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { onAbort, removeTempDir, tempDir, trackChild } from './processes.mjs';
import { sleep } from './util.mjs';

/** One request of a load run. @typedef {{ method?: string, path: string, headers?: Record<string, string>, body?: string }} PacedRequest */

// ---------------------------------------------------------------------------------------------------------------
// Load generators. Every run returns the same summary shape:
// { tool, durationS, requests, rps, p50, p90, p99, p999, max (ms), errors, timeouts, non2xx }; runPaced() adds a
// `mean` (ms) among its own fields.

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
    removeTempDir(dir);
  }
}

/**
 * wrk with a script of the caller's (see {@link wrkRotatingScript}) that ends by printing the `WRK_JSON` line; the
 * same summary as {@link runWrk}. For request sets too large to inline in the script (read from a file in `init`).
 */
export async function runWrkScript({ origin, script, connections = 64, durationS = 10, threads = 1, timeoutS = 2 }) {
  const args = [`-t${threads}`, `-c${connections}`, `-d${durationS}s`, `--timeout`, `${timeoutS}s`, '-s', script];
  const child = spawn('wrk', [...args, origin], { stdio: ['ignore', 'pipe', 'pipe'] });
  const untrack = trackChild(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const guard = setTimeout(() => child.kill('SIGKILL'), (durationS + 30) * 1000);
  const [code, signal] = await new Promise((done) => child.once('exit', (...result) => done(result)));
  clearTimeout(guard);
  untrack();
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
    this.sumUs = 0;
  }
  record(ms) {
    const us = Math.max(0, Math.round(ms * 1000));
    if (us < this.limit) this.counts[us]++;
    else this.over.push(us);
    this.count++;
    this.sumUs += us;
    if (us > this.max) this.max = us;
  }
  /** The mean (ms) of the recorded values. */
  mean() {
    return this.count === 0 ? NaN : this.sumUs / this.count / 1000;
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
 *
 * `generatorDelayP99` is the generator's own event-loop delay (p99, ms) over the measured part: a generator that
 * shares the machine with the server and falls short of CPU delays both its sends and its reading of the answers, and
 * every latency it reports then includes that delay.
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
  // generatorDelayP99 (see above), reset when the measured part begins.
  const generatorDelay = monitorEventLoopDelay({ resolution: 1 });
  generatorDelay.enable();
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
    if (index === skip) {
      measureStart = t0;
      generatorDelay.reset();
    }
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
  generatorDelay.disable();
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
    mean: service.mean(),
    lateP99: scheduled.percentile(99),
    generatorDelayP99: generatorDelay.percentile(99) / 1e6,
    inflightMax,
    errors: counts.errors,
    timeouts: counts.timeouts,
    non2xx: counts.non2xx,
  };
}
