// A tiny node:http backend for the proxy and balancing benchmarks (bench/proxy.mjs, bench/lb.mjs): answers every
// request with a small JSON `{"ok":true,"backend":"<name>"}` and an `x-backend: <name>` header, optionally after a
// delay. Started as a child process by bench/lib/harness.mjs startServer(), so it never competes with the load
// generator's event loop.
//
//   PORT=… HOST=127.0.0.1 NAME=b1 DELAY_MS=0 JITTER_MS=0 CAPACITY=0 node bench/backend-http.mjs
//
// Every answer (health probes included, as a real slow backend is slow everywhere) waits DELAY_MS plus a uniform
// random 0..JITTER_MS (no timer at all when both are 0). CAPACITY=N (N > 0) models a backend with N workers: at most N
// requests are being served (delayed) at once, the others wait in a FIFO queue inside the backend, and their answer
// comes after their wait plus their own delay; 0 (the default) serves every request at once. `GET /__bench/stats` answers at once with the number of
// requests served since the last `GET /__bench/stats?reset=1`, not counting health probes (`/healthz`, `/readyz`) or
// itself.
import http from 'node:http';

const port = Number(process.env.PORT);
const host = process.env.HOST || '127.0.0.1';
const name = process.env.NAME || `backend-${port}`;
const delayMs = Number(process.env.DELAY_MS || 0);
const jitterMs = Number(process.env.JITTER_MS || 0);
const capacity = Number(process.env.CAPACITY || 0);
if (
  !Number.isInteger(port) ||
  port <= 0 ||
  !(delayMs >= 0) ||
  !(jitterMs >= 0) ||
  !Number.isInteger(capacity) ||
  capacity < 0
) {
  console.error(
    'usage: PORT=<port> [HOST=127.0.0.1] [NAME=…] [DELAY_MS=0] [JITTER_MS=0] [CAPACITY=0] node bench/backend-http.mjs',
  );
  process.exit(2);
}

const body = Buffer.from(JSON.stringify({ ok: true, backend: name }));
const headers = { 'content-type': 'application/json', 'content-length': body.length, 'x-backend': name };
const delayed = delayMs > 0 || jitterMs > 0;
let served = 0;

// Capacity: `busy` requests are being served; the rest wait in `queue` (FIFO) for a free slot.
let busy = 0;
/** @type {import('node:http').ServerResponse[]} */
const queue = [];
/** Serves `response` now: answers after its delay, then hands its slot to the oldest waiting request. */
function serve(response) {
  busy++;
  setTimeout(
    () => {
      busy--;
      if (!response.destroyed) response.writeHead(200, headers).end(body);
      const next = queue.shift();
      if (next) serve(next);
    },
    delayMs + Math.random() * jitterMs,
  );
}

const server = http.createServer((request, response) => {
  const url = request.url ?? '/';
  if (url.startsWith('/__bench/stats')) {
    const count = served;
    if (url.includes('reset=1')) served = 0;
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name, count }));
    return;
  }
  if (url !== '/healthz' && url !== '/readyz') served++;
  request.resume();
  if (capacity > 0) {
    if (busy < capacity) serve(response);
    else queue.push(response);
    return;
  }
  if (!delayed) {
    response.writeHead(200, headers).end(body);
    return;
  }
  setTimeout(() => response.writeHead(200, headers).end(body), delayMs + Math.random() * jitterMs);
});
// Proxies keep connections open between rounds: do not close idle ones before they do (nginx keeps them 60 s).
server.keepAliveTimeout = 120_000;
server.headersTimeout = 125_000;
server.listen(port, host);
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 1000).unref();
  });
}
