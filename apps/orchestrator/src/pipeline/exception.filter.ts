import { Catch, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { GatewayMetrics } from '../metrics/gateway-metrics';
import { sendError } from './send-error';

/** The one exception filter: every error thrown in a handler becomes the documented JSON error (docs/http-api.md) body. */
@Catch()
export class GatewayExceptionFilter implements ExceptionFilter {
  constructor(private readonly metrics: GatewayMetrics) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    sendError(http.getRequest<FastifyRequest>(), http.getResponse<FastifyReply>(), exception, this.metrics);
  }
}
