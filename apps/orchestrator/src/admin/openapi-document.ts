import { HTTP_CODE_METADATA, GUARDS_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import type { INestApplication } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import type { RouteOptions } from 'fastify';
import type { OrchestratorConfig } from '../config/config';
import type { JsonSchema } from '../openapi/dto-schema';
import type { RawRouteDoc } from '../pipeline/raw-routes';
import { AdminGuard } from './admin.guard';

/** An OpenAPI 3.1 document, as plain data. */
export type OpenApiDocument = { openapi: string; paths: Record<string, Record<string, Operation>> } & JsonSchema;

type Operation = {
  operationId?: string;
  parameters?: JsonSchema[];
  requestBody?: JsonSchema;
  responses: Record<string, JsonSchema>;
  security?: Record<string, string[]>[];
  tags?: string[];
} & JsonSchema;

type Controller = abstract new (...args: never[]) => object;

/** What the document builder reads from the running application. */
export interface OpenApiSources {
  readonly app: INestApplication;
  readonly config: OrchestratorConfig;
  /** Routes registered on Fastify directly (`/route`, `/proxy`), with their schemas. */
  readonly rawRoutes: readonly RouteOptions[];
  /** True when client certificates are checked (mTLS with a SAN allowlist). */
  readonly clientIdentities: boolean;
}

const ERROR = { $ref: '#/components/responses/Error' };
const json = (schema: JsonSchema): JsonSchema => ({ 'application/json': { schema } });
const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
const query = (name: string, schema: JsonSchema, description: string): JsonSchema => ({
  name,
  in: 'query',
  required: false,
  schema,
  description,
});
const SEQ = { type: 'integer', minimum: 1 };
const STREAM_ID = { type: 'string', pattern: '^\\d{1,20}(-\\d{1,20})?$' };
const ISO_TIME = { type: 'string', format: 'date-time' };

/** Answers that are not JSON, by handler (`Class.method`). */
const NOT_JSON: Readonly<Record<string, JsonSchema>> = {
  'AdminController.events': {
    description: 'Server-sent events: hello, pool, breaker, policy, audit and metrics (every second).',
    content: { 'text/event-stream': { schema: { type: 'string' } } },
  },
  'LedgerController.export': {
    description: 'The export of the range as an attachment, one JSON line per entry, verifiable offline.',
    content: { 'application/x-ndjson': { schema: { type: 'string' } } },
  },
  'OpenApiController.document': {
    description: 'This document: OpenAPI 3.1, generated from the code.',
    content: { 'application/json': { schema: { type: 'object' } } },
  },
  'PrometheusController.index': {
    description: 'Every metric in the Prometheus text exposition format.',
    content: { 'text/plain': { schema: { type: 'string' } } },
  },
};

/** Answers besides the success and the shared errors, by handler. */
const OTHER_ANSWERS: Readonly<Record<string, Readonly<Record<string, JsonSchema>>>> = {
  'HealthController.poolHealth': {
    '503': {
      description: 'The healthy share of backends is under ORCH_HEALTH_DEGRADED_RATIO.',
      content: json(ref('HealthSnapshot')),
    },
  },
  'HealthController.readiness': {
    '503': { description: 'A check failed; `details` names it.', content: json(ref('ErrorBody')) },
  },
  'LedgerController.verify': {
    '409': {
      description: '`ledger_broken`: the ledger does not verify; `details` is the verification failure.',
      content: json({ allOf: [ref('ErrorBody'), { properties: { details: ref('VerifyFailure') } }] }),
    },
  },
  'ConfigController.reload': {
    '422': {
      description: '`config_invalid`: nothing changed; `details.problems` lists why.',
      content: json(ref('ErrorBody')),
    },
  },
};

/** Query parameters, by handler (the handlers validate the raw query themselves and refuse unknown keys). */
const QUERIES: Readonly<Record<string, readonly JsonSchema[]>> = {
  'LedgerController.audit': [
    query('after', { type: 'integer', minimum: 0 }, 'Entries after this seq, oldest first.'),
    query('before', SEQ, 'Entries below this seq, newest first.'),
    query('limit', { type: 'integer', minimum: 1, maximum: 500, default: 100 }, 'Entries per page.'),
    query('type', { type: 'string', pattern: '^[a-z0-9_.-]{1,64}$' }, 'Only entries of this type.'),
    query('order', { type: 'string', enum: ['asc', 'desc'] }, 'Newest first (desc, default) or oldest first.'),
  ],
  'LedgerController.export': [
    query('fromSeq', SEQ, 'First seq of the range (with toSeq).'),
    query('toSeq', SEQ, 'Last seq of the range (with fromSeq).'),
    query('since', ISO_TIME, 'Start of the time range, ISO-8601 UTC (with until).'),
    query('until', ISO_TIME, 'End of the time range, ISO-8601 UTC (with since).'),
  ],
  'ClusterController.streamPage': [
    query('after', STREAM_ID, 'Entries after this stream id, oldest first.'),
    query('before', STREAM_ID, 'Entries before this stream id, newest first.'),
    query('limit', { type: 'integer', minimum: 1, maximum: 500, default: 100 }, 'Entries per page.'),
  ],
};

/** Path parameters whose values are a closed set, by handler and name. */
const PARAM_ENUMS: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>> = {
  'RolloutsController.act': { action: ['pause', 'resume', 'promote', 'abort'] },
};

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch'] as const;

/** The OpenAPI path of a Fastify route URL: `:name` → `{name}`, a trailing `*` → `{path}`. */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\*$/, '{path}');
}

function pathParameters(path: string, enums: Readonly<Record<string, readonly string[]>> = {}): JsonSchema[] {
  return [...path.matchAll(/\{([^}]+)\}/g)].map(([, name]) => ({
    name,
    in: 'path',
    required: true,
    schema: enums[name] === undefined ? { type: 'string' } : { type: 'string', enum: [...enums[name]] },
    ...(name === 'path' ? { description: 'The rest of the path, sent to the backend (may contain /).' } : {}),
  }));
}

/** The security requirements of the caller proof (admission header, DPoP) as configured, ANDed with `with`. */
function proofRequirement(config: OrchestratorConfig, identities: boolean, with_: Record<string, string[]> = {}) {
  return {
    ...with_,
    ...(config.admission.secrets.length > 0 ? { admission: [] } : {}),
    ...(config.dpop.required ? { dpop: [] } : {}),
    ...(identities ? { clientCertificate: [] } : {}),
  };
}

function securitySchemes(config: OrchestratorConfig): JsonSchema {
  return {
    adminToken: {
      type: 'http',
      scheme: 'bearer',
      description: 'The admin API: `Authorization: Bearer <ORCH_ADMIN_TOKEN>`.',
    },
    adminCertificate: {
      type: 'mutualTLS',
      description: 'The admin API: a verified client certificate with a SAN in ORCH_ADMIN_SANS.',
    },
    clientCertificate: {
      type: 'mutualTLS',
      description: 'A verified client certificate with a SAN in ORCH_ALLOWED_CLIENT_SAN_PREFIXES (probes exempt).',
    },
    admission: {
      type: 'apiKey',
      in: 'header',
      name: config.admission.header,
      description:
        'HMAC admission header (ADMISSION_SECRET): a signature over the request with a timestamp and a one-time ' +
        'nonce; required on every request except /healthz, /readyz and /metrics when configured.',
    },
    dpop: {
      type: 'apiKey',
      in: 'header',
      name: 'DPoP',
      description:
        'DPoP proof (RFC 9449): checked whenever sent; required with ORCH_DPOP_REQUIRED=1 or `Authorization: DPoP`.',
    },
  };
}

/**
 * Builds the OpenAPI 3.1 document of the running application: the Nest controllers as `@nestjs/swagger` scans them,
 * with request bodies from their class-validator DTOs, answers from the schemas generated from the handlers' return
 * types (src/openapi/answers.generated.ts), the routes registered on Fastify directly with their route schemas, the
 * one error shape, and the security schemes as configured. Loads `@nestjs/swagger` only when called.
 */
export async function buildOpenApiDocument(sources: OpenApiSources): Promise<OpenApiDocument> {
  const [{ DocumentBuilder, SwaggerModule }, { ANSWER_SCHEMAS, OPERATION_ANSWERS }, { dtoSchema }] = await Promise.all([
    import('@nestjs/swagger'),
    import('../openapi/answers.generated'),
    import('../openapi/dto-schema'),
  ]);
  const { app, config, clientIdentities } = sources;
  const controllers = new Map<string, Controller>();
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      if (typeof wrapper.metatype === 'function')
        controllers.set(wrapper.metatype.name, wrapper.metatype as Controller);
    }
  }
  const base = new DocumentBuilder()
    .setTitle('ShieldX Orchestrator')
    .setDescription(
      'Zero-trust L7 routing gateway: the data plane (`/route`, `/proxy`), health and metrics, and the admin API. ' +
        'Every error answers `{error, message, correlationId}` (docs/http-api.md).',
    )
    .setVersion('1')
    .setOpenAPIVersion('3.1.0')
    .build();
  const scanned = SwaggerModule.createDocument(app, base, {
    operationIdFactory: (controller, method) => `${controller}.${method}`,
  }) as unknown as OpenApiDocument;

  const schemas: Record<string, JsonSchema> = { ...ANSWER_SCHEMAS };
  const adminSecurity = [
    ...(config.admin.token === undefined ? [] : [proofRequirement(config, clientIdentities, { adminToken: [] })]),
    ...(config.admin.sans.length === 0 ? [] : [proofRequirement(config, false, { adminCertificate: [] })]),
  ];
  const callerSecurity = [proofRequirement(config, clientIdentities)];
  const bodySchema = (dto: Controller): JsonSchema => {
    // A body declared without a DTO class (`object`, `unknown`): any JSON object, checked by the handler.
    if ((dto as unknown) === Object || dto === undefined) return { type: 'object' };
    schemas[dto.name] ??= dtoSchema(dto);
    return ref(dto.name);
  };
  const answer = (name: string | null | undefined): JsonSchema =>
    name === null || name === undefined
      ? { description: 'The answer (not described).' }
      : {
          description: typeof ANSWER_SCHEMAS[name]?.description === 'string' ? ANSWER_SCHEMAS[name].description : name,
          content: json(ref(name)),
        };

  const paths: OpenApiDocument['paths'] = {};
  for (const [path, item] of Object.entries(scanned.paths)) {
    for (const method of METHODS) {
      const operation = item[method];
      if (operation === undefined) continue;
      const id = operation.operationId ?? '';
      const [className, handlerName] = id.split('.');
      const controller = controllers.get(className);
      const handler = (controller?.prototype as Record<string, unknown> | undefined)?.[handlerName];
      if (controller === undefined || typeof handler !== 'function') throw new Error(`no handler for ${id}`);
      const code =
        (Reflect.getMetadata(HTTP_CODE_METADATA, handler) as number | undefined) ?? (method === 'post' ? 201 : 200);
      const guards = [
        ...((Reflect.getMetadata(GUARDS_METADATA, controller) as unknown[] | undefined) ?? []),
        ...((Reflect.getMetadata(GUARDS_METADATA, handler) as unknown[] | undefined) ?? []),
      ];
      const admin = guards.includes(AdminGuard);
      const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, handlerName) ?? {}) as Record<
        string,
        { index: number }
      >;
      const types =
        (Reflect.getMetadata('design:paramtypes', controller.prototype as object, handlerName) as
          Controller[] | undefined) ?? [];
      const body = Object.entries(args).find(([key]) => key.startsWith(`${RouteParamtypes.BODY}:`));
      const exempt = path === '/healthz' || path === '/readyz' || path === '/metrics';
      const responses: Record<string, JsonSchema> = {
        [String(code)]: id in NOT_JSON ? NOT_JSON[id] : answer(OPERATION_ANSWERS[id]),
        ...OTHER_ANSWERS[id],
        ...(admin ? { '401': ERROR, '403': ERROR } : {}),
        '4XX': ERROR,
        '5XX': ERROR,
      };
      (paths[path] ??= {})[method] = {
        operationId: id,
        ...(operation.summary === undefined ? {} : { summary: operation.summary }),
        tags: operation.tags ?? [],
        parameters: [...pathParameters(path, PARAM_ENUMS[id]), ...(QUERIES[id] ?? [])],
        ...(body === undefined
          ? {}
          : { requestBody: { required: true, content: json(bodySchema(types[body[1].index])) } }),
        responses,
        security: exempt ? [] : admin ? adminSecurity : callerSecurity,
      };
    }
  }

  for (const route of sources.rawRoutes) {
    const path = openApiPath(route.url);
    const routeConfig: { openapi?: RawRouteDoc } | undefined = route.config;
    const doc = routeConfig?.openapi;
    const schema = (route.schema ?? {}) as { response?: Record<string, JsonSchema & { title?: string }> };
    const success = schema.response?.['200'];
    if (success?.title !== undefined) schemas[success.title] = success;
    for (const method of [route.method].flat()) {
      const key = method.toLowerCase();
      if (!(METHODS as readonly string[]).includes(key)) continue;
      (paths[path] ??= {})[key] = {
        // Unique per path: `/proxy/{service}` and `/proxy/{service}/{path}` share one description.
        operationId: `${doc?.operationId ?? path}.${key}${path.endsWith('{path}') ? 'Path' : ''}`,
        summary: doc?.summary,
        description: doc?.description,
        tags: [...(doc?.tags ?? [])],
        parameters: pathParameters(path),
        ...(doc?.body === undefined ? {} : { requestBody: { required: true, content: json(bodySchema(doc.body)) } }),
        responses: {
          '200':
            success === undefined
              ? { description: doc?.answer ?? 'The answer.' }
              : {
                  description: doc?.answer ?? 'The answer.',
                  content: json(success.title === undefined ? success : ref(success.title)),
                },
          '4XX': ERROR,
          '5XX': ERROR,
        },
        security: callerSecurity,
      };
    }
  }

  return {
    openapi: '3.1.0',
    info: scanned.info,
    paths: Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b))),
    components: {
      schemas: Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => a.localeCompare(b))),
      responses: {
        Error: {
          description:
            'The one error shape: a stable code, a message, the correlation id (and details for some codes).',
          content: json(ref('ErrorBody')),
        },
      },
      securitySchemes: securitySchemes(config),
    },
  };
}
