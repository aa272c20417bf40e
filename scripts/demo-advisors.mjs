#!/usr/bin/env node
// Demo threat-score and quota services for `npm start` (dev only), on loopback:
//   GET  /score?ip=<ip>&tenant=<tenant> → {"score", "reasons"}: a few documentation addresses (RFC 5737) are known bad
//        (203.0.113.66 botnet 95, 203.0.113.7 tor-exit 65), every other IP gets a stable low score from its hash.
//   POST /quota {"tenant", "scope", "cost"} → {"allowed", "remaining"}: each tenant has 600 units a minute (the tenant
//        `trial` 20), refilled continuously.
// Prints `demo advisors on http://127.0.0.1:<port>` once listening (DEMO_ADVISORS_PORT, default: any free port).
import { createHash } from 'node:crypto';
import http from 'node:http';

const KNOWN = new Map([
  ['203.0.113.66', { score: 95, reasons: ['botnet'] }],
  ['203.0.113.7', { score: 65, reasons: ['tor-exit'] }],
]);
const PER_MINUTE = { trial: 20 };
const DEFAULT_PER_MINUTE = 600;
/** tenant → { units, at } */
const buckets = new Map();

function score(ip) {
  const known = KNOWN.get(ip);
  if (known !== undefined) return known;
  const hash = createHash('sha256').update(ip).digest();
  return { score: hash[0] % 30, reasons: [] };
}

function charge(tenant, cost) {
  const perMinute = PER_MINUTE[tenant] ?? DEFAULT_PER_MINUTE;
  const now = Date.now();
  const bucket = buckets.get(tenant) ?? { units: perMinute, at: now };
  bucket.units = Math.min(perMinute, bucket.units + ((now - bucket.at) / 60_000) * perMinute);
  bucket.at = now;
  if (buckets.size > 10_000 && !buckets.has(tenant)) buckets.delete(buckets.keys().next().value);
  buckets.set(tenant, bucket);
  if (bucket.units < cost) return { allowed: false, remaining: Math.floor(bucket.units) };
  bucket.units -= cost;
  return { allowed: true, remaining: Math.floor(bucket.units) };
}

function answer(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://demo');
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk) => {
    body += chunk;
    if (body.length > 4096) req.destroy();
  });
  req.on('end', () => {
    if (req.method === 'GET' && url.pathname === '/score') {
      answer(res, 200, score(url.searchParams.get('ip') ?? ''));
    } else if (req.method === 'POST' && url.pathname === '/quota') {
      let request;
      try {
        request = JSON.parse(body);
      } catch {
        answer(res, 400, { error: 'invalid_json' });
        return;
      }
      const cost = Number.isInteger(request?.cost) && request.cost >= 0 ? request.cost : 1;
      answer(res, 200, charge(String(request?.tenant ?? ''), cost));
    } else {
      answer(res, 404, { error: 'not_found' });
    }
  });
});
server.listen(Number(process.env.DEMO_ADVISORS_PORT ?? 0), '127.0.0.1', () => {
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  process.stdout.write(`demo advisors on http://127.0.0.1:${port}\n`);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
