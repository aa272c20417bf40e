import type { ClientRequest, IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** A JSON answer: status, headers and the parsed body. */
export interface JsonAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Record<string, unknown>;
}

/** A client certificate, its key and the CA that made the server's certificate. */
export interface TlsClient {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** Sends `payload` on `req` and resolves with its JSON answer (status, headers, parsed body). */
export function jsonAnswer(req: ClientRequest, payload?: string): Promise<JsonAnswer> {
  return new Promise((resolve, reject) => {
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
        }),
      );
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** One HTTPS request with a client certificate, on its own connection; a body is sent as JSON. */
export function tlsCall(
  base: string,
  method: string,
  path: string,
  client: TlsClient,
  body?: unknown,
): Promise<JsonAnswer> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const req = httpsRequest(new URL(path, base), {
    method,
    headers: payload === undefined ? {} : { 'content-type': 'application/json' },
    ...client,
    agent: false,
  });
  return jsonAnswer(req, payload);
}
