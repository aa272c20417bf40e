import { Injectable, type OnModuleInit } from '@nestjs/common';
import { canonicalPath } from '@shieldx/policy';
import type { FastifyRequest } from 'fastify';
import { RawRoutes, type RawRouteDoc } from '../pipeline/raw-routes';
import { DtoValidationPipe } from '../validation/validation.pipe';
import { RouteRequestDto } from '../routing/route-request.dto';
import { ClientRegions } from '../routing/client-regions';
import { RouteService, type RouteAnswer } from '../routing/route.service';

/** Schema of the 200 answer; {@link serializeAnswer} writes exactly these fields. */
const ANSWER_SCHEMA = {
  title: 'RouteAnswer',
  type: 'object',
  properties: {
    target: { type: 'string' },
    algo: { type: 'string' },
    policy: { type: 'string' },
    healthy: { type: 'boolean' },
    pool: { type: 'string' },
    cached: { type: 'boolean' },
    locality: { type: 'string', enum: ['zone', 'region', 'any'] },
  },
  required: ['target', 'algo', 'policy', 'healthy', 'pool', 'cached'],
} as const;

/** `POST /route` in the OpenAPI document. */
const ROUTE_DOC: RawRouteDoc = {
  operationId: 'route',
  summary: 'Pick a backend for a request',
  description:
    'Admits the caller (admission header, DPoP, client certificate as configured), applies rate limits and the ' +
    'policy, and answers the backend to use. `X-LB-Algo` may override the algorithm.',
  tags: ['data plane'],
  body: RouteRequestDto,
  answer: 'The chosen backend and how it was chosen.',
};

/**
 * Serializer of the 200 answer, written out for {@link ANSWER_SCHEMA} rather than compiled from it at boot: the same
 * output as Fastify's schema compiler, without loading that compiler (and its copy of Ajv). A field of the wrong type
 * is a server error, as with a compiled schema. `locality` is written only when present.
 */
export function serializeAnswer(answer: RouteAnswer): string {
  const { target, algo, policy, healthy, pool, cached, locality } = answer;
  if (
    typeof target !== 'string' ||
    typeof algo !== 'string' ||
    typeof policy !== 'string' ||
    typeof healthy !== 'boolean' ||
    typeof pool !== 'string' ||
    typeof cached !== 'boolean' ||
    (locality !== undefined && locality !== 'zone' && locality !== 'region' && locality !== 'any')
  ) {
    throw new TypeError('the /route answer does not match its schema');
  }
  const head =
    `{"target":${JSON.stringify(target)},"algo":${JSON.stringify(algo)},"policy":${JSON.stringify(policy)},` +
    `"healthy":${healthy},"pool":${JSON.stringify(pool)},"cached":${cached}`;
  return locality === undefined ? `${head}}` : `${head},"locality":"${locality}"}`;
}

/**
 * `POST /route`: maps the routing engine's outcome to HTTP. The route is registered on Fastify directly rather than
 * through a Nest `@Controller`: Nest's router adds a per-request execution context (guards, interceptors, param
 * factories) that showed up as a measurable share of this hot path's CPU time (docs/performance.md), and
 * nothing here needs it. The body is still validated against the class-validator DTO (`RouteRequestDto`), errors
 * still go through the one exception filter, and the service stays framework-free of HTTP details.
 */
@Injectable()
export class RouteController implements OnModuleInit {
  private readonly body = new DtoValidationPipe(RouteRequestDto);

  constructor(
    private readonly routes: RouteService,
    private readonly rawRoutes: RawRoutes,
    private readonly regions: ClientRegions,
  ) {}

  onModuleInit(): void {
    this.rawRoutes.register((scope) => {
      scope.post(
        '/route',
        {
          schema: { response: { 200: ANSWER_SCHEMA } },
          serializerCompiler: () => serializeAnswer,
          config: { openapi: ROUTE_DOC },
        },
        (request) => this.route(request),
      );
    });
  }

  route(request: FastifyRequest): RouteAnswer | Promise<RouteAnswer> {
    const body = this.body.transform(request.body);
    // Validation has checked that the path has a canonical form; the policy and the ledger see that form.
    const canonical = canonicalPath(body.path);
    if (canonical.ok) body.path = canonical.path;
    const algoHeader = request.headers['x-lb-algo'];
    return this.routes.route(body, {
      corrId: request.id,
      method: request.method,
      algoHeader: Array.isArray(algoHeader) ? algoHeader[0] : algoHeader,
      state: request.gateway,
      identity: request.gateway.identity,
      dpopJkt: request.gateway.dpopJkt ?? null,
      userAgent: request.headers['user-agent'],
      clientRegion: this.regions.enabled
        ? this.regions.of(request.socket.remoteAddress, request.gateway.clientIp, request.headers)
        : undefined,
    });
  }
}
