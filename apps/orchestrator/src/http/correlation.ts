import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** A caller's correlation id is kept when it is a sane token of at most 128 characters. */
const SANE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Fastify `genReqId`: the caller's `X-Correlation-ID` when sane, else a new UUID. */
export function correlationId(request: IncomingMessage): string {
  const given = request.headers['x-correlation-id'];
  return typeof given === 'string' && SANE_ID.test(given) ? given : randomUUID();
}
