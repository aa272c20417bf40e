import { once } from 'node:events';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOrchestrator, type RunningOrchestrator } from '../harness';

/** Writes `raw` on a fresh connection and returns everything received until the gateway closes it. */
async function exchange(base: string, raw: string): Promise<string> {
  const { hostname, port } = new URL(base);
  const socket = connect(Number(port), hostname);
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  socket.write(raw);
  await once(socket, 'close');
  return received;
}

/** Status, headers (lowercase names) and JSON body of each response in `text`, in order. */
function responses(text: string): { status: number; headers: Record<string, string>; body: Record<string, unknown> }[] {
  const found = [];
  let rest = text;
  while (rest.startsWith('HTTP/1.1 ')) {
    const end = rest.indexOf('\r\n\r\n');
    const [statusLine, ...lines] = rest.slice(0, end).split('\r\n');
    const headers = Object.fromEntries(
      lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
    );
    const length = Number(headers['content-length']);
    const body = rest.slice(end + 4, end + 4 + length);
    found.push({
      status: Number(statusLine.split(' ')[1]),
      headers,
      body: JSON.parse(body) as Record<string, unknown>,
    });
    rest = rest.slice(end + 4 + length);
  }
  return found;
}

/**
 * Requests Node would answer by itself — with an empty body, or by closing the connection without a word — get the
 * documented JSON error with a correlation id (docs/http-api.md) like every other refusal.
 */
describe('requests Node answers before any route', () => {
  let orch: RunningOrchestrator;

  beforeAll(async () => {
    orch = await startOrchestrator({ ORCH_POOL_API: 'http://127.0.0.1:9' });
  });

  afterAll(async () => {
    await orch?.close();
  });

  it('answers CONNECT with 405, in any form and behind a pipelined request', async () => {
    for (const target of ['127.0.0.1:9', 'example.com:443', '/proxy/api/x']) {
      const [answer, ...more] = responses(
        await exchange(orch.url, `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`),
      );
      expect(more, target).toEqual([]);
      expect(answer, target).toMatchObject({
        status: 405,
        body: { error: 'method_not_allowed', correlationId: answer?.headers['x-correlation-id'] },
      });
      expect(answer.headers['connection']).toBe('close');
    }
    const pipelined = responses(
      await exchange(
        orch.url,
        'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nCONNECT 127.0.0.1:9 HTTP/1.1\r\nHost: x\r\n\r\n',
      ),
    );
    expect(pipelined.map((answer) => answer.status)).toEqual([200, 405]);
  });

  it('refuses an HTTP/1.1 request without Host with a JSON 400, and serves HTTP/1.0 without one', async () => {
    for (const raw of [
      'GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n',
      'POST /route HTTP/1.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}',
      'GET /proxy/api/x HTTP/1.1\r\nX-Tenant: acme\r\nX-Scope: read\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n',
    ]) {
      const [answer] = responses(await exchange(orch.url, raw));
      expect(answer, raw).toMatchObject({
        status: 400,
        body: { error: 'invalid_request', message: 'an HTTP/1.1 request must carry a Host header' },
      });
      expect(answer.body['correlationId']).toBe(answer.headers['x-correlation-id']);
    }
    const [old] = responses(await exchange(orch.url, 'GET /healthz HTTP/1.0\r\n\r\n'));
    expect(old?.status).toBe(200);
  });

  it('answers an expectation other than 100-continue with a JSON 417', async () => {
    const [answer] = responses(
      await exchange(
        orch.url,
        'POST /route HTTP/1.1\r\nHost: x\r\nExpect: foo\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}',
      ),
    );
    expect(answer).toMatchObject({ status: 417, body: { error: 'expectation_failed' } });
    expect(answer.body['correlationId']).toBe(answer.headers['x-correlation-id']);
  });
});
