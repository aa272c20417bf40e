import { Module, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RouteModule } from '../route/route.module';
import { GracefulShutdown } from './graceful-shutdown';
import { OutlierDetector } from './outlier-detector';
import { ProxyService } from './proxy.service';
import { Upstreams } from './upstreams';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;

/**
 * `ANY /proxy/<service>/<rest>`. Registered on Fastify directly, in its own plugin scope whose only content-type
 * parser leaves the body unread, so request bodies stream to the backend without buffering or a size limit of ours.
 */
@Module({
  imports: [RouteModule],
  providers: [Upstreams, OutlierDetector, ProxyService, GracefulShutdown],
  exports: [Upstreams, OutlierDetector, ProxyService],
})
export class ProxyModule implements OnModuleInit {
  constructor(
    private readonly adapter: HttpAdapterHost,
    private readonly proxy: ProxyService,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapter.httpAdapter.getInstance<FastifyInstance>();
    const handler = (request: FastifyRequest, reply: FastifyReply) => this.proxy.handle(request, reply);
    void fastify.register((scope, _options, done) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', (_request, _payload, parsed) => parsed(null));
      scope.route({ method: [...METHODS], url: '/proxy/:service', handler });
      scope.route({ method: [...METHODS], url: '/proxy/:service/*', handler });
      done();
    });
  }
}
