import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { normalizeIp, type TrustedProxies } from '@shieldx/security';

/** A caller's correlation id is kept when it is a sane token of at most 128 characters. */
const SANE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A request's correlation id, and the one its caller sent when that was not taken as it. */
export interface Correlation {
  /** `request.id`, the `X-Correlation-ID` answer header, the ledger's `corrId`. */
  readonly corrId: string;
  /** The caller's own sane `X-Correlation-ID` when it was not trusted as the correlation id; kept as its own field. */
  readonly callerCorrId?: string;
}

/**
 * Chooses a request's correlation id. A caller's sane `X-Correlation-ID` is the correlation id only when the caller
 * can be held to it: the connection comes from a trusted proxy (ORCH_TRUSTED_PROXIES), or it presented a client
 * certificate the listener verified. Anyone else gets a fresh UUID and their id is kept beside it (`callerCorrId`),
 * so an anonymous caller can never file its records under another request's id.
 */
export function correlate(request: IncomingMessage, trusted: TrustedProxies): Correlation {
  const given = request.headers['x-correlation-id'];
  if (typeof given !== 'string' || !SANE_ID.test(given)) return { corrId: randomUUID() };
  if (heldToItsHeaders(request, trusted)) return { corrId: given };
  return { corrId: randomUUID(), callerCorrId: given };
}

/**
 * Whether the caller of `request` can be held to what its headers say about the request's identity (its correlation
 * id, its trace context): the connection comes from a trusted proxy (ORCH_TRUSTED_PROXIES), or it presented a client
 * certificate the listener verified.
 */
export function heldToItsHeaders(request: IncomingMessage, trusted: TrustedProxies): boolean {
  const socket = request.socket as Partial<TLSSocket>;
  return socket.authorized === true || trusted.has(normalizeIp(socket.remoteAddress ?? ''));
}
