import { Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, RouteOptions } from 'fastify';

/**
 * What the OpenAPI document says of a raw route beyond its Fastify schema, given as the route's
 * `config: { openapi }` (Fastify ignores it).
 */
export interface RawRouteDoc {
  readonly operationId: string;
  readonly summary: string;
  readonly description?: string;
  readonly tags: readonly string[];
  /** The class-validator DTO the handler checks the JSON body against. */
  readonly body?: abstract new () => object;
  /** What the 200 answer is. */
  readonly answer?: string;
}

/**
 * The one way an edge registers routes on Fastify directly instead of through a Nest controller (the hot paths
 * `/route` and `/proxy`, where Nest's per-request execution context costs measurable CPU: docs/performance.md). Each
 * call gets its own plugin scope, so an edge may change its content-type parsers without touching the others; the
 * pipeline's hooks, installed on the root before, apply to every scope. The routes are kept for the OpenAPI document.
 */
@Injectable()
export class RawRoutes {
  private readonly registered: RouteOptions[] = [];

  constructor(private readonly adapter: HttpAdapterHost) {}

  /** Registers what `routes` adds to its scope (call from `onModuleInit`). */
  register(routes: (scope: FastifyInstance) => void): void {
    const fastify = this.adapter.httpAdapter.getInstance<FastifyInstance>();
    void fastify.register((scope, _options, done) => {
      scope.addHook('onRoute', (options) => {
        this.registered.push(options);
      });
      routes(scope);
      done();
    });
  }

  /** Every route registered so far, with its method(s), URL, schema and config. */
  routes(): readonly RouteOptions[] {
    return this.registered;
  }
}
