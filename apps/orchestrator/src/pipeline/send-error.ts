import type { FastifyReply, FastifyRequest } from 'fastify';
import type { GatewayMetrics } from '../metrics/gateway-metrics';
import { toErrorResponse } from '../errors/error-body';

/** Sends the documented JSON error (docs/http-api.md) for anything thrown while handling `request`; logs the unexpected ones. */
export function sendError(
  request: FastifyRequest,
  reply: FastifyReply,
  error: unknown,
  metrics: GatewayMetrics,
): FastifyReply {
  const response = toErrorResponse(error, request.id);
  if (response.unexpected) request.log.error({ event: 'unhandled_error', err: error }, 'request failed unexpectedly');
  metrics.errored(response.body.error);
  return reply.code(response.status).headers(response.headers).send(response.body);
}
