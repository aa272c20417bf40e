// Reference servers for the /proxy benchmark (bench/proxy.mjs): the cost of forwarding alone, at each layer of the
// orchestrator's stack, with none of its pipeline (no identity, limits, proofs, policy, balancer, breaker, metrics,
// logs or tracing). Each forwards `ANY /proxy/api/*` to the same loopback backends the way the orchestrator's
// apps/orchestrator/src/upstream/forward.ts does — an undici `BalancedPool` of 128 keep-alive connections per backend,
// `dispatch` with a handler that streams the answer into the client's response, hop-by-hop headers dropped — so
// the difference between a floor and the orchestrator is what the pipeline costs.
//
//   FLOOR=node      node:http server, nothing else
//   FLOOR=fastify   Fastify 5, one route registered on it, the reply hijacked (as the orchestrator's /proxy does)
//   FLOOR=nest      NestJS on @nestjs/platform-fastify (an empty application: the adapter's own request hooks), the
//                   same route registered on its Fastify instance (as apps/orchestrator/src/proxy/proxy.module.ts does)
//
// Started by bench/proxy.mjs as a child process:
//   FLOOR=<kind> PORT=<port> HOST=127.0.0.1 UPSTREAMS=http://127.0.0.1:a,http://127.0.0.1:b node bench/floor-proxy.mjs
import http from 'node:http';
import { BalancedPool } from 'undici';
import { exitCleanlyOnSignals } from './lib/shutdown.mjs';

const floor = process.env.FLOOR ?? '';
const port = Number(process.env.PORT ?? 0);
const host = process.env.HOST ?? '127.0.0.1';
const upstreams = (process.env.UPSTREAMS ?? '').split(',').filter(Boolean);
if (upstreams.length === 0 || !['node', 'fastify', 'nest'].includes(floor)) {
  console.error('usage: FLOOR=node|fastify|nest UPSTREAMS=<url,url,…> PORT=… node bench/floor-proxy.mjs');
  process.exit(2);
}

const PREFIX = '/proxy/api';
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'host', 'te', 'trailer']);
const pool = new BalancedPool(upstreams, { connections: 128, pipelining: 1, keepAliveTimeout: 60_000 });

/**
 * @param {import('node:http').IncomingHttpHeaders} headers
 * @returns {Record<string, string | string[]>}
 */
function withoutHopByHop(headers) {
  /** @type {Record<string, string | string[]>} */
  const out = {};
  for (const name in headers) if (!HOP_BY_HOP.has(name)) out[name] = headers[name];
  return out;
}

/**
 * Forwards one request and streams the answer; calls `done` once the response has ended or failed. A client that
 * goes away aborts the upstream request (else a paused upstream would wait for a `drain` that never comes).
 */
function forward(req, res, done) {
  let controller;
  const onClose = () => {
    if (!res.writableFinished) controller?.abort(new Error('the client went away'));
  };
  res.once('close', onClose);
  pool.dispatch(
    {
      method: req.method,
      path: req.url.slice(PREFIX.length) || '/',
      headers: withoutHopByHop(req.headers),
      body: req.method === 'GET' || req.method === 'HEAD' ? null : req,
    },
    {
      onRequestStart(ctl) {
        controller = ctl;
      },
      onResponseStart(_ctl, status, headers) {
        res.writeHead(status, withoutHopByHop(headers));
      },
      onResponseData(ctl, chunk) {
        if (!res.write(chunk)) {
          ctl.pause();
          res.once('drain', () => ctl.resume());
        }
      },
      onResponseEnd() {
        res.off('close', onClose);
        res.end();
        done();
      },
      onResponseError() {
        res.off('close', onClose);
        if (res.headersSent || res.destroyed) res.destroy();
        else res.writeHead(502, { 'content-type': 'application/json' }).end('{"error":"bad_gateway"}');
        done();
      },
    },
  );
}

const noop = () => {};
let close;

if (floor === 'node') {
  const server = http.createServer((req, res) => {
    if (req.url.startsWith(`${PREFIX}/`)) return forward(req, res, noop);
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
  });
  server.keepAliveTimeout = 72_000;
  await new Promise((resolve) => server.listen(port, host, () => resolve(undefined)));
  close = () => new Promise((resolve) => server.close(() => resolve()));
} else {
  /** The route, registered on a Fastify instance directly. */
  const register = (fastify) => {
    fastify.all(`${PREFIX}/*`, (request, reply) => {
      reply.hijack();
      return new Promise((resolve) => forward(request.raw, reply.raw, resolve));
    });
    fastify.get('/readyz', () => ({ status: 'ok' }));
  };
  if (floor === 'fastify') {
    const { default: Fastify } = await import('fastify');
    const app = Fastify({ logger: false });
    register(app);
    await app.listen({ port, host });
    close = () => app.close();
  } else {
    await import('reflect-metadata');
    const { Module } = await import('@nestjs/common');
    const { NestFactory } = await import('@nestjs/core');
    const { FastifyAdapter } = await import('@nestjs/platform-fastify');
    class EmptyModule {}
    Module({})(EmptyModule);
    const app = await NestFactory.create(EmptyModule, new FastifyAdapter(), { logger: false });
    register(app.getHttpAdapter().getInstance());
    await app.listen(port, host);
    close = () => app.close();
  }
}

exitCleanlyOnSignals(async () => {
  await close();
  await pool.close();
});
