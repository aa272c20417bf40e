// Peer for the /proxy benchmark (bench/proxy.mjs): a bare Fastify 5 server with @fastify/http-proxy forwarding
// `ANY /proxy/api/*` to the same loopback backends as the orchestrator, over an undici BalancedPool (round robin over
// one keep-alive pool per backend, 128 connections each like the orchestrator's ORCH_PROXY_MAX_CONNECTIONS default).
// No logging, no validation, no rate limiting, no policy: the price of a plain Node reverse proxy.
//
// Started by bench/proxy.mjs as a child process:
//   PORT=<port> HOST=127.0.0.1 UPSTREAMS=http://127.0.0.1:a,http://127.0.0.1:b node bench/baseline-http-proxy.mjs
import proxy from '@fastify/http-proxy';
import Fastify from 'fastify';
import { BalancedPool } from 'undici';
import { exitCleanlyOnSignals } from './lib/shutdown.mjs';

const port = Number(process.env.PORT ?? 0);
const host = process.env.HOST ?? '127.0.0.1';
const upstreams = (process.env.UPSTREAMS ?? '').split(',').filter(Boolean);
if (upstreams.length === 0) {
  console.error('UPSTREAMS=<url,url,…> is required');
  process.exit(2);
}

const pool = new BalancedPool(upstreams, { connections: 128, pipelining: 1, keepAliveTimeout: 60_000 });
const app = Fastify({ logger: false });
await app.register(proxy, {
  upstream: upstreams[0],
  prefix: '/proxy/api',
  rewritePrefix: '/',
  undici: pool,
});
app.get('/readyz', () => ({ status: 'ok' }));

exitCleanlyOnSignals(async () => {
  await app.close();
  await pool.close();
});

await app.listen({ port, host });
