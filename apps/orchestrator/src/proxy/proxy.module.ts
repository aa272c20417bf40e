import { Module, type OnModuleInit } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { PipelineModule } from '../pipeline/pipeline.module';
import { PoolsModule } from '../pools/pools.module';
import { RawRoutes, type RawRouteDoc } from '../pipeline/raw-routes';
import { RateLimitModule } from '../ratelimit/rate-limit.module';
import { RoutingModule } from '../routing/routing.module';
import { TracingModule } from '../tracing/tracing.module';
import { UpstreamModule } from '../upstream/upstream.module';
import { GracefulShutdown } from './graceful-shutdown';
import { ProxyService } from './proxy.service';
import { MIRROR_METRIC_PROVIDERS, TrafficMirror } from './traffic-mirror';
import { TUNNEL_METRIC_PROVIDERS, WebSocketTunnels } from './websocket-tunnels';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;

/** `/proxy/<service>/<rest>` in the OpenAPI document. */
const PROXY_DOC: RawRouteDoc = {
  operationId: 'proxy',
  summary: 'Forward a request to a backend of the service',
  description:
    'Admits and routes the request as `POST /route` does, then streams it to the chosen backend (body unread, no ' +
    'size limit of ours) and its answer back; a WebSocket upgrade becomes a tunnel.',
  tags: ['data plane'],
  answer: "The backend's answer, as it gave it (any status, headers and body).",
};

/**
 * `ANY /proxy/<service>/<rest>`. Registered on Fastify directly, in its own plugin scope whose only content-type
 * parser leaves the body unread, so request bodies stream to the backend without buffering or a size limit of ours.
 */
@Module({
  imports: [RoutingModule, RateLimitModule, UpstreamModule, TracingModule, PipelineModule, PoolsModule],
  providers: [
    ...TUNNEL_METRIC_PROVIDERS,
    ...MIRROR_METRIC_PROVIDERS,
    ProxyService,
    WebSocketTunnels,
    TrafficMirror,
    GracefulShutdown,
  ],
  exports: [TrafficMirror],
})
export class ProxyModule implements OnModuleInit {
  constructor(
    private readonly rawRoutes: RawRoutes,
    private readonly proxy: ProxyService,
  ) {}

  onModuleInit(): void {
    const handler = (request: FastifyRequest, reply: FastifyReply) => this.proxy.handle(request, reply);
    this.rawRoutes.register((scope) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', (_request, _payload, parsed) => parsed(null));
      scope.route({ method: [...METHODS], url: '/proxy/:service', handler, config: { openapi: PROXY_DOC } });
      scope.route({ method: [...METHODS], url: '/proxy/:service/*', handler, config: { openapi: PROXY_DOC } });
    });
  }
}
