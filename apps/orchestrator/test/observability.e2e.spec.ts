import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TracingService } from '../src/tracing/tracing.service';
import { startTestBackend, type TestBackend } from './backends';
import { post, startOrchestrator, type RunningOrchestrator } from './harness';
import { eventually } from './eventually';

const ALLOWED = { service: 'api', tenant: 'acme', scope: 'read', path: '/v1/items' };
const DENIED = { ...ALLOWED, path: '/internal/secrets' };

function accessLine(orch: RunningOrchestrator, corrId: string): Record<string, unknown> | undefined {
  return orch.logs.find((line) => line.event === 'access' && line.corrId === corrId);
}

/** Waits until the access line of `corrId` is written (onResponse runs after the client has its answer). */
function waitAccessLine(orch: RunningOrchestrator, corrId: string): Promise<Record<string, unknown>> {
  return eventually(() => accessLine(orch, corrId), { timeoutMs: 5000, what: `the access line of ${corrId}` });
}

function spansOf(exporter: InMemorySpanExporter, traceId: string): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((span) => span.spanContext().traceId === traceId);
}

describe('one correlation id across header, access log, ledger and trace', () => {
  let backend: TestBackend;
  let orch: RunningOrchestrator;
  const exporter = new InMemorySpanExporter();

  beforeAll(async () => {
    backend = await startTestBackend('traced');
    // The loopback client is a trusted proxy here, so its X-Correlation-ID is the request's correlation id.
    orch = await startOrchestrator(
      { ORCH_POOL_API: backend.url, ORCH_TRUSTED_PROXIES: '127.0.0.1/32' },
      { spanExporter: exporter },
    );
  });

  afterAll(async () => {
    await orch?.close();
    await backend?.close();
  });

  it('a denied /route: the same corrId in the response header, the access line, the ledger entry and the span', async () => {
    const corrId = 'corr-trace-deny-1';
    const answer = await post(`${orch.url}/route`, DENIED, { 'x-correlation-id': corrId });
    expect(answer.status).toBe(403);
    expect(answer.headers.get('x-correlation-id')).toBe(corrId);
    expect(answer.body.correlationId).toBe(corrId);

    expect(await waitAccessLine(orch, corrId)).toMatchObject({ route: '/route', status: 403, action: 'deny' });

    const audit = await fetch(`${orch.url}/admin/audit?type=policy.deny&limit=5`);
    const entries = ((await audit.json()) as { entries: { corrId: string }[] }).entries;
    expect(entries.map((e) => e.corrId)).toContain(corrId);

    const server = exporter
      .getFinishedSpans()
      .find((span) => span.attributes['shieldx.correlation_id'] === corrId && span.kind === SpanKind.SERVER);
    expect(server).toBeDefined();
    expect(server?.name).toBe('POST /route');
    expect(server?.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/route',
      'http.response.status_code': 403,
      'shieldx.tenant': 'acme',
      'shieldx.action': 'deny',
    });
    const children = spansOf(exporter, server!.spanContext().traceId).filter((s) => s !== server);
    expect(children.map((s) => s.name).sort()).toEqual(['policy', 'ratelimit.ip', 'ratelimit.tenant']);
    for (const child of children) expect(child.parentSpanContext?.spanId).toBe(server?.spanContext().spanId);
  });

  it('a proxied request: child spans for every stage, and the backend gets the upstream span as its traceparent', async () => {
    const corrId = 'corr-trace-proxy-1';
    const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const response = await fetch(`${orch.url}/proxy/api/things?page=2`, {
      headers: {
        'x-tenant': 'acme',
        'x-scope': 'read',
        'x-correlation-id': corrId,
        traceparent: `00-${callerTrace}-00f067aa0ba902b7-01`,
        tracestate: 'vendor=opaque',
      },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-correlation-id')).toBe(corrId);
    const seen = (await response.json()) as { headers: Record<string, string> };
    await waitAccessLine(orch, corrId);

    // The caller's trace is continued, not replaced.
    const spans = spansOf(exporter, callerTrace);
    const server = spans.find((s) => s.kind === SpanKind.SERVER);
    expect(server?.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    expect(server?.attributes).toMatchObject({
      'shieldx.correlation_id': corrId,
      'http.route': '/proxy/:service/*',
      'http.response.status_code': 200,
      'shieldx.backend': backend.url,
    });
    expect(spans.map((s) => s.name).sort()).toEqual([
      'GET /proxy/:service/*',
      'balancer.pick',
      'policy',
      'ratelimit.ip',
      'ratelimit.tenant',
      'upstream',
    ]);
    const upstream = spans.find((s) => s.name === 'upstream');
    expect(upstream?.kind).toBe(SpanKind.CLIENT);
    expect(upstream?.attributes).toMatchObject({ 'server.address': backend.url, 'http.response.status_code': 200 });
    expect(seen.headers.traceparent).toBe(`00-${callerTrace}-${upstream?.spanContext().spanId}-01`);
    expect(seen.headers.tracestate).toBe('vendor=opaque');
    expect(seen.headers['x-correlation-id']).toBe(corrId);
  });

  it('a Nest service log line written while serving a request carries its corrId (AsyncLocalStorage)', async () => {
    const corrId = 'corr-policy-reload-1';
    const response = await fetch(`${orch.url}/admin/policy/reload`, {
      method: 'POST',
      headers: { 'x-correlation-id': corrId },
    });
    expect(response.status).toBe(200);
    // PolicyService logs without being given the id, after awaiting file reads.
    expect(orch.logs.find((line) => line.event === 'policy_reloaded')).toMatchObject({ corrId, context: 'policy' });
    // Lines written outside any request have none.
    const opened = orch.logs.find((line) => line.event === 'ledger_opened');
    expect(opened).toBeDefined();
    expect(opened).not.toHaveProperty('corrId');
  });
});

describe('tracing off', () => {
  it('registers nothing and passes the caller trace context through to the backend untouched', async () => {
    const backend = await startTestBackend('untraced');
    const orch = await startOrchestrator({ ORCH_POOL_API: backend.url, ORCH_TRUSTED_PROXIES: '127.0.0.1/32' });
    try {
      expect(orch.app.get(TracingService).enabled).toBe(false);
      const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
      const response = await fetch(`${orch.url}/proxy/api/x`, {
        headers: { 'x-tenant': 'acme', 'x-scope': 'read', traceparent },
      });
      const seen = (await response.json()) as { headers: Record<string, string> };
      expect(seen.headers.traceparent).toBe(traceparent);
    } finally {
      await orch.close();
      await backend.close();
    }
  });
});

describe('trace sampling (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG)', () => {
  let backend: TestBackend;
  let orch: RunningOrchestrator;
  const exporter = new InMemorySpanExporter();

  beforeAll(async () => {
    backend = await startTestBackend('sampled');
    // A root request is kept with probability 0; a trusted caller's sampling decision is followed (the loopback
    // client is a trusted proxy here).
    orch = await startOrchestrator(
      {
        ORCH_POOL_API: backend.url,
        ORCH_TRUSTED_PROXIES: '127.0.0.1/32',
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0',
      },
      { spanExporter: exporter },
    );
  });

  afterAll(async () => {
    await orch?.close();
    await backend?.close();
  });

  /** Sends a proxied request with `traceparent` (or none); returns the traceparent the backend received. */
  async function proxied(traceparent?: string): Promise<string | undefined> {
    const response = await fetch(`${orch.url}/proxy/api/sampled`, {
      headers: { 'x-tenant': 'acme', 'x-scope': 'read', ...(traceparent === undefined ? {} : { traceparent }) },
    });
    expect(response.status).toBe(200);
    const seen = (await response.json()) as { headers: Record<string, string> };
    await waitAccessLine(orch, response.headers.get('x-correlation-id') ?? '');
    return seen.headers.traceparent;
  }

  it('records no span for a request that starts its trace, and tells the backend it was not sampled', async () => {
    exporter.reset();
    const sent = await proxied();
    expect(exporter.getFinishedSpans()).toEqual([]);
    // A trace id and span id are still propagated, flagged not sampled (-00).
    expect(sent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
  });

  it("follows a caller's sampled traceparent: the whole request is traced", async () => {
    exporter.reset();
    const callerTrace = '5bf92f3577b34da6a3ce929d0e0e4737';
    const sent = await proxied(`00-${callerTrace}-00f067aa0ba902b8-01`);
    const names = spansOf(exporter, callerTrace).map((span) => span.name);
    expect(names).toContain('GET /proxy/:service/*');
    expect(names).toContain('upstream');
    expect(sent).toMatch(new RegExp(`^00-${callerTrace}-[0-9a-f]{16}-01$`));
  });

  it("follows a caller's unsampled traceparent: nothing is recorded, the backend continues the caller's trace", async () => {
    exporter.reset();
    const sent = await proxied('00-6bf92f3577b34da6a3ce929d0e0e4738-00f067aa0ba902b9-00');
    expect(exporter.getFinishedSpans()).toEqual([]);
    expect(sent).toMatch(/^00-6bf92f3577b34da6a3ce929d0e0e4738-[0-9a-f]{16}-00$/);
    expect(sent).not.toContain('00f067aa0ba902b9');
  });
});

describe("an untrusted caller's trace context", () => {
  let backend: TestBackend;

  beforeAll(async () => {
    backend = await startTestBackend('untrusted-trace');
  });

  afterAll(async () => {
    await backend?.close();
  });

  it('cannot ask for its requests to be traced: the sampler decides as for a new trace', async () => {
    // One exporter per gateway: closing a gateway shuts its exporter down.
    const exporter = new InMemorySpanExporter();
    const orch = await startOrchestrator(
      { ORCH_POOL_API: backend.url, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' },
      { spanExporter: exporter },
    );
    try {
      for (let i = 0; i < 5; i++) {
        const response = await fetch(`${orch.url}/proxy/api/forced`, {
          headers: {
            'x-tenant': 'acme',
            'x-scope': 'read',
            traceparent: `00-7bf92f3577b34da6a3ce929d0e0e473${i}-00f067aa0ba902ba-01`,
          },
        });
        expect(response.status).toBe(200);
        await waitAccessLine(orch, response.headers.get('x-correlation-id') ?? '');
      }
      expect(exporter.getFinishedSpans()).toEqual([]);
    } finally {
      await orch.close();
    }
  });

  it('starts a new trace linked to the caller’s span, and the backend gets the new trace', async () => {
    const exporter = new InMemorySpanExporter();
    const orch = await startOrchestrator({ ORCH_POOL_API: backend.url }, { spanExporter: exporter });
    try {
      const callerTrace = '8bf92f3577b34da6a3ce929d0e0e4739';
      const response = await fetch(`${orch.url}/proxy/api/linked`, {
        headers: { 'x-tenant': 'acme', 'x-scope': 'read', traceparent: `00-${callerTrace}-00f067aa0ba902bb-01` },
      });
      const seen = (await response.json()) as { headers: Record<string, string> };
      await waitAccessLine(orch, response.headers.get('x-correlation-id') ?? '');
      const server = exporter.getFinishedSpans().find((span) => span.kind === SpanKind.SERVER);
      expect(server).toBeDefined();
      expect(server?.spanContext().traceId).not.toBe(callerTrace);
      expect(server?.parentSpanContext).toBeUndefined();
      expect(server?.links.map((link) => link.context)).toMatchObject([
        { traceId: callerTrace, spanId: '00f067aa0ba902bb' },
      ]);
      expect(seen.headers.traceparent).toMatch(new RegExp(`^00-${server?.spanContext().traceId}-[0-9a-f]{16}-01$`));
    } finally {
      await orch.close();
    }
  });
});

describe('OTLP export (OTEL_EXPORTER_OTLP_ENDPOINT)', () => {
  let collector: Server;
  const received: { path: string; body: string }[] = [];

  beforeAll(async () => {
    collector = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      request.on('end', () => {
        received.push({ path: request.url ?? '', body });
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((done) => collector.listen(0, '127.0.0.1', done));
  });

  afterAll(() => new Promise<void>((done) => collector.close(() => done())));

  it('sends the request spans to <endpoint>/v1/traces as OTLP JSON (flushed on shutdown)', async () => {
    const { port } = collector.address() as AddressInfo;
    const orch = await startOrchestrator({
      ORCH_POOL_API: 'http://127.0.0.1:9',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
      OTEL_SERVICE_NAME: 'shieldx-e2e',
      ORCH_TRUSTED_PROXIES: '127.0.0.1/32',
    });
    await post(`${orch.url}/route`, DENIED, { 'x-correlation-id': 'corr-otlp-1' });
    await waitAccessLine(orch, 'corr-otlp-1');
    await orch.close();
    const traces = received.filter((r) => r.path === '/v1/traces');
    expect(traces.length).toBeGreaterThan(0);
    const text = traces.map((r) => r.body).join('\n');
    expect(text).toContain('corr-otlp-1');
    expect(text).toContain('shieldx-e2e');
    expect(text).toContain('POST /route');
  });
});

describe('client IPs in logs', () => {
  // Nest's static Logger writes to the app created last: each test runs its own app alone.
  const env = {
    ORCH_POOL_API: 'http://127.0.0.1:9',
    ORCH_TRUSTED_PROXIES: '127.0.0.1/32, ::1/128',
    ORCH_IP_BURST: '2',
    ORCH_IP_BURST_DEGRADED: '2',
  };

  it('anonymises an IPv4 client (last octet) and an IPv6 client (/48) everywhere in the log', async () => {
    const orch = await startOrchestrator(env);
    try {
      for (let i = 0; i < 3; i++) {
        await post(`${orch.url}/route`, ALLOWED, { 'x-forwarded-for': '203.0.113.77', 'x-correlation-id': `v4-${i}` });
        await post(`${orch.url}/route`, ALLOWED, {
          'x-forwarded-for': '2001:db8:1234:5678:9abc::99',
          'x-correlation-id': `v6-${i}`,
        });
      }
      // The third request of each client was over its limit: a ratelimit.denied event, logged too.
      expect((await waitAccessLine(orch, 'v4-2')).status).toBe(429);
      expect(accessLine(orch, 'v4-0')?.ip).toBe('203.0.113.0');
      expect((await waitAccessLine(orch, 'v6-0')).ip).toBe('2001:db8:1234::');
      const events = orch.logs.filter((line) => line.event === 'ratelimit.denied');
      expect(events.map((line) => (line.data as { key: string }).key).sort()).toEqual([
        'ip:2001:db8:1234::',
        'ip:203.0.113.0',
      ]);
      const text = orch.logs.map((line) => JSON.stringify(line)).join('\n');
      expect(text).not.toContain('203.0.113.77');
      expect(text).not.toContain('5678');
    } finally {
      await orch.close();
    }
  });

  it('anonymises a client connecting over a real IPv6 socket (::1)', async () => {
    const orch = await startOrchestrator(
      { ORCH_POOL_API: 'http://127.0.0.1:9', ORCH_TRUSTED_PROXIES: '::1/128' },
      { host: '::1' },
    );
    try {
      expect(orch.url).toMatch(/^http:\/\/\[::1\]:\d+$/);
      await post(`${orch.url}/route`, ALLOWED, { 'x-correlation-id': 'v6-socket' });
      expect((await waitAccessLine(orch, 'v6-socket')).ip).toBe('0:0:0::');
    } finally {
      await orch.close();
    }
  });

  it('logs full addresses with ORCH_LOG_FULL_IP=1', async () => {
    const orch = await startOrchestrator({ ...env, ORCH_LOG_FULL_IP: '1' });
    try {
      await post(`${orch.url}/route`, ALLOWED, { 'x-forwarded-for': '198.51.100.23', 'x-correlation-id': 'full-1' });
      expect((await waitAccessLine(orch, 'full-1')).ip).toBe('198.51.100.23');
    } finally {
      await orch.close();
    }
  });
});

describe('secrets in logs', () => {
  it('never writes a secret header value or a query string to the log or the ledger, on any path', async () => {
    const backend = await startTestBackend('secrets');
    const orch = await startOrchestrator({
      ORCH_POOL_API: `${backend.url},http://127.0.0.1:9`,
      ORCH_LOG_LEVEL: 'debug',
    });
    const secrets = {
      authorization: 'Bearer sk-live-authorization-7f3a',
      dpop: 'eyJhbGciOiJFUzI1NiJ9.dpop-proof-9c2e.signature-5d1b',
      cookie: 'session=cookie-value-1e8d',
      'x-shieldx-admission': 't=1700000000,n=nonce-4b7c-aaaaaaaaaaaa,v1=admission-mac-2a9f',
      'proxy-authorization': 'Basic proxy-credential-6c0d',
    };
    const leaks = [
      'sk-live',
      'dpop-proof',
      'signature-5d1b',
      'cookie-value',
      'admission-mac',
      'nonce-4b7c',
      'proxy-credential',
      'query-secret',
    ];
    try {
      const base = { ...secrets, 'x-tenant': 'acme', 'x-scope': 'read' };
      await fetch(`${orch.url}/route?token=query-secret`, {
        method: 'POST',
        headers: { ...base, 'content-type': 'application/json' },
        body: JSON.stringify(DENIED),
      });
      await fetch(`${orch.url}/route?token=query-secret`, {
        method: 'POST',
        headers: { ...base, 'content-type': 'application/json' },
        body: '{"broken',
      });
      for (let i = 0; i < 4; i++) await fetch(`${orch.url}/proxy/api/echo?token=query-secret`, { headers: base });
      await fetch(`${orch.url}/health?token=query-secret`, { headers: base });
      await fetch(`${orch.url}/nowhere?token=query-secret`, { headers: base });
      await fetch(`${orch.url}/admin/audit?token=query-secret`, { headers: base });
      // Access lines are written after the answer (onResponse): wait for the nine, not for a fixed time.
      await eventually(() => orch.logs.filter((line) => line.event === 'access').length >= 9, {
        what: 'nine access lines',
      });
      const text = orch.logs.map((line) => JSON.stringify(line)).join('\n');
      await fetch(`${orch.url}/admin/audit?limit=1`); // flushes the ledger
      const ledger = readFileSync(orch.ledgerPath, 'utf8');
      for (const leak of leaks) {
        expect({ leak, inLog: text.includes(leak), inLedger: ledger.includes(leak) }).toEqual({
          leak,
          inLog: false,
          inLedger: false,
        });
      }
    } finally {
      await orch.close();
      await backend.close();
    }
  });
});
