import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { RouteOptions } from 'fastify';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiPath } from '../src/admin/openapi-document';
import { OpenApiController } from '../src/admin/openapi.controller';
import { createApp } from '../src/app.factory';
import { loadConfig } from '../src/config/config';
import { answersModule, ANSWERS_MODULE } from './openapi-answers';
import { uiTypesModule, UI_TYPES_MODULE } from './openapi-types';
import { startRedis, type RunningRedis } from './redis-harness';

/** `SHIELDX_WRITE_OPENAPI=1` (npm run openapi:generate) writes the generated files instead of comparing them. */
const WRITE = process.env.SHIELDX_WRITE_OPENAPI === '1';
const TOKEN = 'openapi-test-admin-token';

type Json = Record<string, unknown>;
type Document = {
  openapi: string;
  paths: Record<string, Record<string, Json & { responses: Record<string, Json> }>>;
  components: { schemas: Record<string, Json> };
};

// Ajv for JSON Schema 2020-12 (OpenAPI 3.1's dialect), the copy the OpenAPI validator brings.
const fromValidator = createRequire(createRequire(import.meta.url).resolve('@seriousme/openapi-schema-validator'));
const Ajv2020 = (fromValidator('ajv/dist/2020') as { default: new (options: object) => AjvInstance }).default;
interface AjvInstance {
  compile(schema: object): ((data: unknown) => boolean) & { errors?: unknown };
}

/** A copy of `schema` where every object schema with properties refuses other properties (so new fields show). */
function closed(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closed);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Json = {};
  for (const [key, value] of Object.entries(schema))
    out[key] = key === 'properties' ? mapValues(value, closed) : closed(value);
  if ('properties' in out && !('additionalProperties' in out)) out.additionalProperties = false;
  return out;
}

function mapValues(value: unknown, fn: (item: unknown) => unknown): Json {
  return Object.fromEntries(Object.entries(value as Json).map(([key, item]) => [key, fn(item)]));
}

describe(OpenApiController.name, () => {
  let redis: RunningRedis;
  let app: NestFastifyApplication;
  let url: string;
  let ledgerDir: string;
  const routes: RouteOptions[] = [];
  let document: Document;

  const admin = (path: string, init: RequestInit = {}) =>
    fetch(`${url}${path}`, { ...init, headers: { authorization: `Bearer ${TOKEN}`, ...init.headers } });

  beforeAll(async () => {
    redis = await startRedis();
    ledgerDir = mkdtempSync(join(tmpdir(), 'shieldx-openapi-e2e-'));
    const { config } = loadConfig({
      ORCH_ALLOW_INSECURE: '1',
      ORCH_PORT: '0',
      ORCH_LEDGER_PATH: join(ledgerDir, 'ledger.jsonl'),
      ORCH_ADMIN_TOKEN: TOKEN,
      REDIS_ADDR: redis.url,
      ORCH_BACKENDS_JSON: JSON.stringify({ api: ['http://127.0.0.1:9'] }),
      ORCH_LOG_LEVEL: 'error',
    });
    app = await createApp(config, { logDestination: new Writable({ write: (_chunk, _encoding, done) => done() }) });
    // Every route the application registers, Nest's and Fastify's own, from here on (they are added on init).
    app
      .getHttpAdapter()
      .getInstance()
      .addHook('onRoute', (route) => void routes.push(route));
    await app.listen({ port: 0, host: '127.0.0.1' });
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  });

  afterAll(async () => {
    await app?.close();
    await redis?.stop();
    rmSync(ledgerDir, { recursive: true, force: true });
  });

  it('keeps the answer schemas as the handlers’ return types give them', async () => {
    const generated = await answersModule();
    if (WRITE) writeFileSync(ANSWERS_MODULE, generated);
    expect(readFileSync(ANSWERS_MODULE, 'utf8'), 'run npm run openapi:generate').toBe(generated);
  }, 120_000);

  it('serves the document behind the admin guard only', async () => {
    const refused = await fetch(`${url}/admin/openapi.json`);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ error: 'admin_unauthorized', correlationId: expect.any(String) });
    const response = await admin('/admin/openapi.json');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    document = (await response.json()) as Document;
    expect(document.openapi).toBe('3.1.0');
  });

  it('serves a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(document));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('documents every route the application registered', () => {
    expect(routes.length).toBeGreaterThan(30);
    const missing: string[] = [];
    for (const route of routes) {
      const path = document.paths[openApiPath(route.url)];
      for (const method of [route.method].flat()) {
        const key = method.toLowerCase();
        // Fastify answers HEAD for every GET route itself.
        if (key === 'head' && path?.get !== undefined) continue;
        if (path?.[key] === undefined) missing.push(`${method} ${route.url}`);
      }
    }
    expect(missing).toEqual([]);
    for (const path of ['/route', '/proxy/{service}/{path}', '/healthz', '/readyz', '/metrics', '/admin/cluster']) {
      expect(Object.keys(document.paths)).toContain(path);
    }
  });

  it('gives every operation a described success answer, the one error shape and its security', () => {
    const undescribed: string[] = [];
    for (const [path, item] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        const success = Object.entries(operation.responses).find(([code]) => code.startsWith('2'));
        const content = success?.[1].content as Record<string, { schema?: unknown }> | undefined;
        if (content === undefined && !path.startsWith('/proxy/')) undescribed.push(`${method} ${path}`);
        expect(operation.responses['4XX']).toEqual({ $ref: '#/components/responses/Error' });
        expect(operation.security, `${method} ${path}`).toBeDefined();
      }
    }
    expect(undescribed).toEqual([]);
    expect(document.components.schemas.ErrorBody.required).toEqual(
      expect.arrayContaining(['correlationId', 'error', 'message']),
    );
    expect(document.paths['/admin/pools'].get.security).toEqual([{ adminToken: [] }]);
    expect(document.paths['/healthz'].get.security).toEqual([]);
  });

  it('derives request bodies from the class-validator DTOs', () => {
    const body = document.paths['/route'].post.requestBody as Json;
    expect(body).toEqual({
      required: true,
      content: { 'application/json': { schema: { $ref: '#/components/schemas/RouteRequestDto' } } },
    });
    expect(document.components.schemas.RouteRequestDto).toMatchObject({
      additionalProperties: false,
      required: ['service', 'tenant', 'scope', 'path'],
      properties: { candidates: { type: 'array', maxItems: 32, items: { type: 'string', format: 'uri' } } },
    });
    expect(document.components.schemas.PoolEditDto).toMatchObject({ required: ['urls'] });
  });

  it('answers as its schemas say', async () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    const components = closed(document.components) as object;
    // Terminus's indicator results are open by their type (`Record<string, any>` beside `status`).
    const open = document.components as object;
    const checks: [string, string][] = [
      ['/admin/pools', 'PoolsAnswer'],
      ['/admin/breakers', 'BreakersAnswer'],
      ['/admin/policy', 'PolicyStatus'],
      ['/admin/policy/rules', 'RulesReport'],
      ['/admin/policy/shadow', 'ShadowReport'],
      ['/admin/policy/denied', 'DeniedAnswer'],
      ['/admin/metrics', 'MetricsAnswer'],
      ['/admin/audit', 'AuditAnswer'],
      ['/admin/ledger/verify', 'LedgerVerifyAnswer'],
      ['/admin/mirror', 'MirrorAnswer'],
      ['/admin/protection', 'ProtectionView'],
      ['/admin/rollouts', 'RolloutsAnswer'],
      ['/admin/cluster', 'ClusterStatus'],
      ['/admin/cluster/audit', 'StreamAuditPage'],
      ['/health', 'HealthSnapshot'],
    ];
    const openChecks: [string, string][] = [
      ['/healthz', 'HealthCheckAnswer'],
      ['/readyz', 'HealthCheckAnswer'],
    ];
    const problems: unknown[] = [];
    for (const [path, name, schemas] of [
      ...checks.map(([path, name]) => [path, name, components] as const),
      ...openChecks.map(([path, name]) => [path, name, open] as const),
    ]) {
      const response = await admin(path);
      const body: unknown = await response.json();
      const validate = ajv.compile({ components: schemas, $ref: `#/components/schemas/${name}` });
      if (!validate(body)) problems.push({ path, status: response.status, errors: validate.errors });
    }
    const routed = await admin('/route', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ service: 'api', tenant: 'acme', scope: 'read', path: '/x' }),
    });
    const validateError = ajv.compile({ components, $ref: '#/components/schemas/ErrorBody' });
    const answer: unknown = await routed.json();
    const validateRoute = ajv.compile({ components, $ref: '#/components/schemas/RouteAnswer' });
    if (!(routed.status === 200 ? validateRoute(answer) : validateError(answer))) {
      problems.push({ path: '/route', status: routed.status, answer });
    }
    expect(problems).toEqual([]);
  });

  it('keeps the admin UI types as the document gives them', async () => {
    const generated = await uiTypesModule(document);
    if (WRITE) writeFileSync(UI_TYPES_MODULE, generated);
    expect(readFileSync(UI_TYPES_MODULE, 'utf8'), 'run npm run openapi:generate').toBe(generated);
  });
});
