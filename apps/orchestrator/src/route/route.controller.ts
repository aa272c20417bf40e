import { Body, Controller, Headers, HttpCode, Post, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { DtoValidationPipe } from '../validation/validation.pipe';
import { RouteRequestDto } from './route-request.dto';
import { RouteService, type RouteAnswer } from './route.service';

const routeBody = new DtoValidationPipe(RouteRequestDto);

/** `POST /route`: maps the routing engine's outcome to HTTP. */
@Controller()
export class RouteController {
  constructor(private readonly routes: RouteService) {}

  @Post('route')
  @HttpCode(200)
  route(
    @Body(routeBody) body: RouteRequestDto,
    @Headers('x-lb-algo') algoHeader: string | undefined,
    @Req() request: FastifyRequest,
  ): RouteAnswer | Promise<RouteAnswer> {
    return this.routes.route(body, {
      corrId: request.id,
      method: request.method,
      algoHeader,
      state: request.gateway,
      identity: request.gateway.identity,
      dpopJkt: request.gateway.dpopJkt ?? null,
      userAgent: request.headers['user-agent'],
    });
  }
}
