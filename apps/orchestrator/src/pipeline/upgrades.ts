import { ServerResponse, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { rawErrorResponse } from './server-limits';

/** An HTTP/1.1 upgrade request (`Connection: Upgrade`) whose connection a route may take over. */
export interface PendingUpgrade {
  /** The client's connection, no longer read by the HTTP parser. */
  readonly socket: Socket;
  /** Bytes the client sent after the request's header section (usually none). */
  readonly head: Buffer;
  /** Set by the route that took the connection over (after its `101` is written); otherwise it is closed. */
  taken: boolean;
}

/** How long a connection closed after a response may linger half-open before it is destroyed. */
const LINGER_MS = 5_000;

const pending = new WeakMap<IncomingMessage, PendingUpgrade>();

/** The connection of an upgrade request, for the route that takes it over (see {@link installUpgrades}). */
export function pendingUpgrade(request: IncomingMessage): PendingUpgrade | undefined {
  return pending.get(request);
}

/** True for an HTTP/1.1 `GET` asking to become a WebSocket (RFC 6455 §4.1; Node checked `Connection: Upgrade`). */
export function isWebSocketUpgrade(request: IncomingMessage): boolean {
  if (request.method !== 'GET' || request.httpVersion !== '1.1') return false;
  const upgrade = request.headers.upgrade;
  return upgrade !== undefined && upgrade.split(',').some((token) => token.trim().toLowerCase() === 'websocket');
}

/** Ends a connection after its last response, discarding what the client still sends; destroyed if it lingers. */
function closeAfterResponse(socket: Socket): void {
  socket.resume();
  socket.end();
  const timer = setTimeout(() => socket.destroy(), LINGER_MS).unref();
  socket.once('close', () => clearTimeout(timer));
}

/**
 * Node hands every request carrying `Connection: Upgrade` to the server's `upgrade` listeners, with its socket, once
 * one is installed. This one routes it through Fastify like any request — every hook (identity, limits, caller proof,
 * shutdown) and the route's handler — on a response whose connection closes after it. A route that can take the
 * connection over (`/proxy` for a WebSocket) finds it with {@link pendingUpgrade}; every other route answers as
 * usual, ignoring the `Upgrade` header. An upgrade request with a body is refused (400): the body would be read as
 * the upgraded protocol's first bytes.
 */
export function installUpgrades(
  server: Server,
  route: (request: IncomingMessage, response: ServerResponse) => void,
): void {
  server.on('upgrade', (request: IncomingMessage, socket: Socket, head: Buffer) => {
    // Node removed its own handlers from the socket: an error here must not become an uncaught exception.
    socket.on('error', () => socket.destroy());
    const { 'content-length': length, 'transfer-encoding': encoding } = request.headers;
    if ((length !== undefined && length !== '0') || encoding !== undefined) {
      socket.write(rawErrorResponse(400, 'invalid_request', 'an upgrade request must not carry a body'));
      closeAfterResponse(socket);
      return;
    }
    const upgrade: PendingUpgrade = { socket, head, taken: false };
    pending.set(request, upgrade);
    const response = new ServerResponse(request);
    response.shouldKeepAlive = false;
    response.assignSocket(socket);
    response.on('finish', () => {
      response.detachSocket(socket);
      if (!upgrade.taken) closeAfterResponse(socket);
    });
    route(request, response);
  });
}
