// Small helpers shared by the benchmarks: sleeping, reading numeric settings, statistics, number formatting.

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
