import { Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';

/**
 * The one way an edge registers routes on Fastify directly instead of through a Nest controller (the hot paths
 * `/route` and `/proxy`, where Nest's per-request execution context costs measurable CPU: docs/performance.md). Each
 * call gets its own plugin scope, so an edge may change its content-type parsers without touching the others; the
 * pipeline's hooks, installed on the root before, apply to every scope.
 */
@Injectable()
export class RawRoutes {
  constructor(private readonly adapter: HttpAdapterHost) {}

  /** Registers what `routes` adds to its scope (call from `onModuleInit`). */
  register(routes: (scope: FastifyInstance) => void): void {
    const fastify = this.adapter.httpAdapter.getInstance<FastifyInstance>();
    void fastify.register((scope, _options, done) => {
      routes(scope);
      done();
    });
  }
}
