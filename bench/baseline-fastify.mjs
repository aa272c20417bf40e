// Baseline for the /route benchmark: a bare Fastify 5 server answering `POST /route` with an answer of the same shape
// as the orchestrator's ({target, algo, policy, healthy, pool, cached}). It parses the JSON body (Fastify's default
// parser) and picks a target round-robin from a fixed table; no validation, no logging, no metrics. Whatever the
// orchestrator costs beyond this is the price of its pipeline (NestJS, validation, rate limiting, policy, balancer,
// metrics, logging).
//
// Started by bench/route.mjs as a child process: `PORT=<port> HOST=127.0.0.1 node bench/baseline-fastify.mjs`.
import Fastify from 'fastify';
import { exitCleanlyOnSignals } from './lib/shutdown.mjs';

const port = Number(process.env.PORT ?? 0);
const host = process.env.HOST ?? '127.0.0.1';

const pools = {
  api: ['http://127.0.0.1:9001', 'http://127.0.0.1:9002', 'http://127.0.0.1:9003'],
  search: ['http://127.0.0.1:9011', 'http://127.0.0.1:9012'],
  static: ['http://127.0.0.1:9021', 'http://127.0.0.1:9022'],
};
const counters = { api: 0, search: 0, static: 0 };

const app = Fastify({ logger: false, bodyLimit: 16384 });

app.post('/route', async (request, reply) => {
  const body = request.body;
  const service = body && typeof body === 'object' && 'service' in body ? String(body.service) : undefined;
  const urls = Object.hasOwn(pools, service) ? pools[service] : undefined;
  if (!urls) {
    reply.code(503);
    return { error: 'no_backend', message: 'unknown service' };
  }
  const target = urls[counters[service]++ % urls.length];
  return { target, algo: 'round_robin', policy: 'allow', healthy: true, pool: service, cached: false };
});

app.get('/readyz', () => ({ status: 'ok' }));

exitCleanlyOnSignals(() => app.close());

await app.listen({ port, host });
