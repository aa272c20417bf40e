import { connect } from 'node:net';

/** A response read off a raw socket. */
export interface RawResponse {
  readonly status: number;
  /** The header fields in order, names lower-cased (repeated fields kept). */
  readonly fields: readonly (readonly [string, string])[];
  /** The same fields by name (the last of a repeated one). */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** Header lines to send: by name, or in order as pairs (repeats and any spelling kept). */
export type RawHeaders = Readonly<Record<string, string>> | readonly (readonly [string, string])[];

/**
 * Sends one HTTP/1.1 request with the request target and header lines exactly as given (no client-side
 * normalisation; the target is written as UTF-8), from `localAddress` when given, and reads the whole response (the
 * connection is closed after it).
 */
export function rawRequest(
  base: string,
  method: string,
  target: string,
  headers: RawHeaders = {},
  localAddress?: string,
): Promise<RawResponse> {
  const { hostname, port } = new URL(base);
  const host = hostname.replace(/^\[|\]$/g, '');
  const lines = [`${method} ${target} HTTP/1.1`, `host: ${hostname}:${port}`];
  for (const [name, value] of Array.isArray(headers) ? headers : Object.entries(headers))
    lines.push(`${name}: ${value}`);
  lines.push('connection: close');
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port: Number(port), localAddress });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const head = (split === -1 ? text : text.slice(0, split)).split('\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head[0] ?? '')?.[1] ?? 0);
      const fields: (readonly [string, string])[] = [];
      for (const line of head.slice(1)) {
        const colon = line.indexOf(':');
        if (colon > 0) fields.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]);
      }
      const byName = Object.fromEntries(fields);
      let body = split === -1 ? '' : text.slice(split + 4);
      if (byName['transfer-encoding'] === 'chunked') body = unchunk(body);
      resolve({ status, fields, headers: byName, body });
    });
    socket.write(Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8'));
  });
}

function unchunk(text: string): string {
  let out = '';
  let at = 0;
  for (;;) {
    const lineEnd = text.indexOf('\r\n', at);
    if (lineEnd === -1) return out;
    const size = parseInt(text.slice(at, lineEnd), 16);
    if (!(size > 0)) return out;
    out += text.slice(lineEnd + 2, lineEnd + 2 + size);
    at = lineEnd + 2 + size + 2;
  }
}
