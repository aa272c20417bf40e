// A stand-in for the external advisors in benchmarks (bench/route.mjs): the threat-score service answers every
// `GET` with `{"score": 10, "reasons": []}`, the quota service every `POST` with `{"allowed": true, "remaining": 1e9}`.
// Started as a child process: `PORT=<port> HOST=127.0.0.1 node bench/advisor-stub.mjs`. `GET /__bench/stats` answers
// the number of calls since the last `?reset=1`.
import http from 'node:http';

const port = Number(process.env.PORT);
const host = process.env.HOST || '127.0.0.1';
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: PORT=<port> [HOST=127.0.0.1] node bench/advisor-stub.mjs');
  process.exit(2);
}

const SCORE = Buffer.from(JSON.stringify({ score: 10, reasons: [] }));
const QUOTA = Buffer.from(JSON.stringify({ allowed: true, remaining: 1_000_000_000 }));
let calls = 0;

const server = http.createServer((req, res) => {
  if (req.url?.startsWith('/__bench/stats')) {
    const count = calls;
    if (req.url.includes('reset=1')) calls = 0;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ count }));
    return;
  }
  calls++;
  const body = req.method === 'POST' ? QUOTA : SCORE;
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(port, host);
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
