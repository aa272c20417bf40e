import { ServerResponse, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { rawErrorResponse } from './server-limits';

/** An HTTP/1.1 upgrade request (`Connection: Upgrade`) whose connection a route may take over. */
export interface PendingUpgrade {
  /** The client's connection, no longer read by the HTTP parser. */
  readonly socket: Socket;
  /** True once the client half-closed its side (FIN) before the connection was taken over: it is gone. */
  readonly ended: boolean;
  /** Calls `listener` once when the client half-closes before the connection is taken over. */
  onEnd(listener: () => void): void;
  /**
   * Takes the connection over (after the route wrote its `101`): stops buffering and returns every byte the client sent
   * after its request's header section. The socket is left paused for the new owner to read.
   */
  take(): Buffer;
  /** Whether a route took the connection over; otherwise it is closed after the response. */
  readonly taken: boolean;
}

/** How long a connection closed after a response may linger half-open before it is destroyed. */
const LINGER_MS = 5_000;
/** Bytes a client may send before its upgrade is answered; beyond, the gateway stops reading until then. */
const MAX_EARLY_BYTES = 64 * 1024;

const pending = new WeakMap<IncomingMessage, PendingUpgrade>();
/** Per server, the connections its `upgrade` listener took from Node and that are still open. */
const upgraded = new WeakMap<Server, Set<Socket>>();

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
  socket.removeAllListeners('data');
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
  const connections = new Set<Socket>();
  upgraded.set(server, connections);
  /** A connection Node handed to a listener: no longer Node's to guard or to close. */
  const takeOver = (socket: Socket): void => {
    // Node removed its own handlers from the socket: an error here must not become an uncaught exception.
    socket.on('error', () => socket.destroy());
    // The socket also left the server's list of connections: it is tracked here until it closes (closeUpgrades).
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
  };
  server.on('upgrade', (request: IncomingMessage, socket: Socket, head: Buffer) => {
    takeOver(socket);
    // Read from now on, so that a client going away (FIN) while earlier responses are written is noticed.
    const upgrade = watch(socket, head);
    afterEarlierResponses(socket, () => upgradeRequest(request, upgrade, route));
  });
  // CONNECT asks for a tunnel to an authority, which a reverse proxy never gives; Node hands such a request to
  // `connect` listeners and, without one, closes the connection without a word. Answered with the documented error.
  server.on('connect', (_request: IncomingMessage, socket: Socket) => {
    takeOver(socket);
    afterEarlierResponses(socket, () => {
      socket.write(
        rawErrorResponse(405, 'method_not_allowed', 'CONNECT is not served: this gateway is not a forward proxy'),
      );
      closeAfterResponse(socket);
    });
  });
}

/**
 * Destroys every connection that went through the `upgrade` or `connect` listener of `server` and is still open — tunnels,
 * refusals being relayed, upgrades waiting for their turn — which `server.closeAllConnections()` does not see.
 * Returns how many there were.
 */
export function closeUpgrades(server: Server): number {
  const connections = upgraded.get(server);
  if (connections === undefined) return 0;
  const count = connections.size;
  for (const socket of [...connections]) socket.destroy();
  return count;
}

/**
 * Runs `start` once no response is bound to `socket`. A pipelining client may send its upgrade while earlier
 * responses on the connection are still being written (one bound, others queued behind it, each bound in turn when
 * the previous finishes): nothing may be written before them, nor a second response bound beside one.
 */
function afterEarlierResponses(socket: Socket, start: () => void): void {
  const earlier = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (earlier === undefined || earlier === null) {
    start();
    return;
  }
  // Node binds the next queued response in its own 'finish' listener, which runs before this one: check again.
  const next = (): void => {
    socket.off('close', cancel);
    if (!socket.destroyed) afterEarlierResponses(socket, start);
  };
  const cancel = (): void => {
    earlier.off('finish', next);
  };
  earlier.once('finish', next);
  socket.once('close', cancel);
}

function upgradeRequest(
  request: IncomingMessage,
  upgrade: PendingUpgrade,
  route: (request: IncomingMessage, response: ServerResponse) => void,
): void {
  const { socket } = upgrade;
  try {
    const { 'content-length': length, 'transfer-encoding': encoding } = request.headers;
    if ((length !== undefined && length !== '0') || encoding !== undefined) {
      socket.write(rawErrorResponse(400, 'invalid_request', 'an upgrade request must not carry a body'));
      closeAfterResponse(socket);
      return;
    }
    pending.set(request, upgrade);
    const response = new ServerResponse(request);
    response.shouldKeepAlive = false;
    response.assignSocket(socket);
    response.on('finish', () => {
      response.detachSocket(socket);
      endRequest(request);
      if (!upgrade.taken) closeAfterResponse(socket);
    });
    // A client gone before its answer aborts the request, as Node aborts an ordinary one (onRequestAbort hooks run).
    socket.once('close', () => {
      if (!response.writableFinished && !request.destroyed) request.destroy();
    });
    route(request, response);
  } catch {
    // Nothing a client sends may take the process down: a connection in a state we cannot serve is closed.
    socket.destroy();
  }
}

/**
 * Ends an upgrade request with its exchange, as Node ends an ordinary one after its response: Node's parser stops at
 * an upgrade request's header section and never ends it, so without this it would never emit `close`, and whatever
 * is released on `close` (the request context, callers' correlation ids, an acting user) would stay for good. Such a
 * request has no body (see {@link upgradeRequest}).
 */
function endRequest(request: IncomingMessage): void {
  if (request.readableEnded || request.destroyed) return;
  request.push(null);
  request.resume();
}

/**
 * Reads the client's connection while its upgrade is routed, so that a client that goes away (FIN) is noticed and
 * what it sends early is kept (at most {@link MAX_EARLY_BYTES}; beyond, reading pauses).
 */
function watch(socket: Socket, head: Buffer): PendingUpgrade {
  const early: Buffer[] = head.length > 0 ? [head] : [];
  let earlyBytes = head.length;
  let ended = false;
  let taken = false;
  const listeners: (() => void)[] = [];
  const onData = (chunk: Buffer): void => {
    early.push(chunk);
    earlyBytes += chunk.length;
    if (earlyBytes > MAX_EARLY_BYTES) socket.pause();
  };
  const onEnd = (): void => {
    ended = true;
    for (const listener of listeners.splice(0)) listener();
  };
  socket.on('data', onData);
  socket.once('end', onEnd);
  if (socket.readableEnded) onEnd();
  return {
    socket,
    get ended() {
      return ended;
    },
    get taken() {
      return taken;
    },
    onEnd(listener) {
      if (ended) listener();
      else listeners.push(listener);
    },
    take() {
      taken = true;
      socket.pause();
      socket.off('data', onData);
      socket.off('end', onEnd);
      listeners.length = 0;
      return early.length === 1 ? early[0] : Buffer.concat(early);
    },
  };
}
