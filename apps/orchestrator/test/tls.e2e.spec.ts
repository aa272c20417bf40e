import { execFileSync, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type SecureVersion, type TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import type { PolicyEngine, PolicyInput } from '@shieldx/policy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { startDemoBackend, type RunningDemoBackend } from '../src/demo/demo-backends';
import { POLICY_ENGINE } from '../src/policy/policy.module';
import { TlsService } from '../src/tls/tls.service';
import { startOrchestrator, type RunningOrchestrator } from './harness';

const CLI = fileURLToPath(new URL('../../../packages/cli/shieldx.mjs', import.meta.url));
const INGRESS = 'spiffe://shieldx.local/ns/default/sa/ingress';
const VALID = { service: 'api', tenant: 'acme', scope: 'read', path: '/v1/items' };

/** Certificates made by the project's own `shieldx certs dev`. */
function certsDev(dir: string, ...args: string[]): void {
  execFileSync(process.execPath, [CLI, 'certs', 'dev', dir, ...args], { stdio: 'pipe' });
}

/** A directory holding a copy of `from`'s CA, so `certs dev` issues new certificates from the same CA. */
function sameCa(from: string, dir: string): string {
  mkdirSync(dir, { mode: 0o700 });
  for (const file of ['ca.pem', 'ca.key']) copyFileSync(join(from, file), join(dir, file));
  return dir;
}

/** Replaces `to` by `from` with a rename, as secret mounts and careful deploy tools do. */
function replace(from: string, to: string): void {
  const tmp = `${to}.incoming`;
  copyFileSync(from, tmp);
  renameSync(tmp, to);
}

interface Client {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly minVersion?: SecureVersion;
  readonly maxVersion?: SecureVersion;
  readonly rejectUnauthorized?: boolean;
}

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
  /** SHA-256 fingerprint of the certificate the server presented on this connection. */
  readonly serverFingerprint: string | undefined;
  readonly protocol: string | null;
  /** Client port of the connection: equal ports mean the same (kept-alive) connection. */
  readonly localPort: number | undefined;
}

/** One HTTPS request with a client certificate over a real socket. */
function call(
  base: string,
  path: string,
  client: Client,
  options: { agent?: Agent; body?: unknown } = {},
): Promise<Answer> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      new URL(path, base),
      {
        method: payload === undefined ? 'GET' : 'POST',
        headers: payload === undefined ? {} : { 'content-type': 'application/json' },
        ...client,
        agent: options.agent ?? false,
      },
      (res) => {
        // Read now: a keep-alive agent takes the socket back when the response ends.
        const socket = res.socket as TLSSocket;
        const connection = {
          serverFingerprint: socket.getPeerX509Certificate()?.fingerprint256,
          protocol: socket.getProtocol(),
          localPort: socket.localPort,
        };
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            body: (text.startsWith('{') ? JSON.parse(text) : { text }) as Record<string, unknown>,
            ...connection,
          });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * Connects, sends a request once the client side of the handshake is done, and reports how the connection ended:
 * the server's refusal of a client certificate arrives as a TLS alert after the client's half of a TLS 1.3 handshake.
 */
function attempt(
  url: string,
  client: Client,
): Promise<{ handshake: boolean; error: string | undefined; response: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    let handshake = false;
    let response = '';
    let error: string | undefined;
    const socket = connect({ host: hostname, port: Number(port), ...client });
    socket.on('secureConnect', () => {
      handshake = true;
      socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    });
    socket.on('data', (chunk: Buffer) => (response += chunk.toString('utf8')));
    socket.on('error', (err: NodeJS.ErrnoException) => (error = err.code ?? err.message));
    socket.on('close', () => resolve({ handshake, error, response }));
  });
}

describe('TLS 1.3 with client certificates over real sockets', () => {
  let root: string;
  let pki: string;
  let live: string;
  let backend: RunningDemoBackend;
  let echo: WebSocketServer;
  /** WebSocket connections the echo backend accepted. */
  let echoed = 0;
  let orch: RunningOrchestrator;
  let tls: TlsService;
  const seen: PolicyInput['identity'][] = [];
  const file = (dir: string, name: string): Buffer => readFileSync(join(dir, name));
  const as = (name: string, dir = pki): Client => ({
    ca: file(pki, 'ca.pem'),
    cert: file(dir, `client-${name}.pem`),
    key: file(dir, `client-${name}.key`),
  });
  const authFailures = (): Record<string, unknown>[] =>
    orch.logs.filter((line) => line['event'] === 'auth.failed' && line['context'] === 'security');

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'shieldx-tls-e2e-'));
    pki = join(root, 'pki');
    certsDev(
      pki,
      '--client',
      'ingress',
      '--client',
      `evil=${INGRESS}-evil`,
      '--client',
      'other=spiffe://shieldx.local/ns/other/sa/reporter',
      '--client',
      'web=dns:web.internal',
    );
    certsDev(join(root, 'rogue'));
    // The orchestrator serves from `live`, which the rotation tests rewrite.
    live = join(root, 'live');
    mkdirSync(live, { mode: 0o700 });
    for (const name of ['server.pem', 'server.key', 'ca.pem']) copyFileSync(join(pki, name), join(live, name));

    backend = await startDemoBackend({ name: 'a', delayMs: 0, jitterMs: 0 });
    // A WebSocket backend that echoes, for wss:// through /proxy.
    echo = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(echo, 'listening');
    echo.on('connection', (ws) => {
      echoed++;
      ws.on('message', (data: Buffer) => ws.send(`echo:${data.toString()}`));
    });
    orch = await startOrchestrator({
      ORCH_POOL_WS: `http://127.0.0.1:${(echo.address() as { port: number }).port}`,
      ORCH_TLS_CERT_FILE: join(live, 'server.pem'),
      ORCH_TLS_KEY_FILE: join(live, 'server.key'),
      ORCH_TLS_CLIENT_CA_FILE: join(live, 'ca.pem'),
      ORCH_ALLOWED_CLIENT_SAN_PREFIXES: `${INGRESS},web.internal`,
      ORCH_POOL_API: backend.url,
    });
    tls = orch.app.get(TlsService);
    // Observe (not replace) the policy engine, to see the identity in its input.
    const engine = orch.app.get<PolicyEngine>(POLICY_ENGINE);
    const decide = engine.decide.bind(engine);
    engine.decide = (input) => {
      seen.push(input.identity);
      return decide(input);
    };
  });

  afterAll(async () => {
    await orch?.close();
    await backend?.close();
    for (const client of echo?.clients ?? []) client.terminate();
    echo?.close();
    if (root !== undefined) rmSync(root, { recursive: true, force: true });
  });

  it('serves https over TLS 1.3 and answers an allowed SPIFFE identity with 200, giving it to the policy', async () => {
    expect(orch.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    seen.length = 0;
    const res = await call(orch.url, '/route', as('ingress'), { body: VALID });
    expect(res.status).toBe(200);
    expect(res.protocol).toBe('TLSv1.3');
    expect(res.body).toMatchObject({ policy: 'allow', pool: 'api', target: backend.url });
    expect(seen).toEqual([{ uris: [INGRESS], dns: [] }]);
  });

  it('admits a DNS SAN on the list and gives it to the policy as dns', async () => {
    seen.length = 0;
    const res = await call(orch.url, '/route', as('web'), { body: VALID });
    expect(res.status).toBe(200);
    expect(seen).toEqual([{ uris: [], dns: ['web.internal'] }]);
  });

  it('refuses a TLS 1.2 client in the handshake', async () => {
    const result = await attempt(orch.url, { ...as('ingress'), minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
    expect(result.handshake).toBe(false);
    expect(result.error).toBe('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
  });

  it('refuses a client without a certificate in the handshake', async () => {
    const result = await attempt(orch.url, { ca: file(pki, 'ca.pem') });
    expect(result.response).toBe('');
    expect(result.error).toMatch(/^(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED|ECONNRESET)$/);
  });

  it('refuses a client certificate from another CA at the handshake, even with an allowed SAN', async () => {
    // Node verifies the chain when the handshake completes and closes the connection before reading any request.
    const rogue = as('ingress', join(root, 'rogue'));
    const result = await attempt(orch.url, rogue);
    expect(result.response).toBe('');
    expect(result.error ?? 'closed').toMatch(/^(closed|ECONNRESET|ERR_SSL_TLSV1_ALERT_UNKNOWN_CA)$/);
  });

  it('answers a SAN outside the list with 403 client_identity_refused, one auth.failed event per connection', async () => {
    const before = authFailures().length;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await call(orch.url, '/route', as('other'), { agent, body: VALID });
      const second = await call(orch.url, '/route', as('other'), { agent, body: VALID });
      for (const res of [first, second]) {
        expect(res.status).toBe(403);
        expect(res.body).toMatchObject({ error: 'client_identity_refused', correlationId: expect.any(String) });
      }
      expect(second.localPort).toBe(first.localPort);
      const events = authFailures().slice(before);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        corrId: first.body['correlationId'],
        data: {
          mechanism: 'mtls',
          reason: 'client_san_not_allowed',
          presentedSans: ['URI:spiffe://shieldx.local/ns/other/sa/reporter'],
        },
      });
      // Probes and scrapes stay reachable for a verified certificate outside the list.
      expect((await call(orch.url, '/healthz', as('other'), { agent })).status).toBe(200);
    } finally {
      agent.destroy();
    }
  });

  it('tunnels wss:// through /proxy for an allowed identity, and refuses one outside the list before the backend', async () => {
    const target = `${orch.url.replace('https:', 'wss:')}/proxy/ws/chat`;
    const headers = { 'x-tenant': 'acme', 'x-scope': 'read' };
    const allowed = new WebSocket(target, { ...as('ingress'), headers });
    await once(allowed, 'open');
    allowed.send('over tls');
    const [answer] = (await once(allowed, 'message')) as [Buffer];
    expect(answer.toString()).toBe('echo:over tls');
    allowed.close();
    await once(allowed, 'close');

    const handshakes = echoed;
    const refused = new WebSocket(target, { ...as('other'), headers });
    const [, response] = (await once(refused, 'unexpected-response')) as [unknown, IncomingMessage];
    let body = '';
    for await (const chunk of response) body += (chunk as Buffer).toString();
    expect(response.statusCode).toBe(403);
    expect(JSON.parse(body)).toMatchObject({ error: 'client_identity_refused' });
    expect(echoed).toBe(handshakes);
  });

  it('refuses …/sa/ingress-evil when …/sa/ingress is allowed', async () => {
    const res = await call(orch.url, '/route', as('evil'), { body: VALID });
    expect(res.status).toBe(403);
    expect(res.body['error']).toBe('client_identity_refused');
    expect(authFailures().at(-1)).toMatchObject({ data: { presentedSans: [`URI:${INGRESS}-evil`] } });
  });

  it('reports the serving certificate in /readyz and ratls_cert_expiry_seconds', async () => {
    const ready = await call(orch.url, '/readyz', as('ingress'));
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ info: { tls: { status: 'up', secondsLeft: expect.any(Number) } } });
    const metrics = await call(orch.url, '/metrics', as('ingress'));
    const seconds = Number(/^ratls_cert_expiry_seconds (\S+)$/m.exec(String(metrics.body['text']))?.[1]);
    expect(seconds).toBeGreaterThan(364 * 86_400);
    expect(seconds).toBeLessThanOrEqual(365 * 86_400);
  });

  it('rotates the server certificate for new connections while a kept-alive connection keeps working', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const before = await call(orch.url, '/healthz', as('ingress'), { agent });
      expect(before.serverFingerprint).toBe(tls.current?.fingerprint256);

      const staging = sameCa(pki, join(root, 'rotation'));
      certsDev(staging, '--no-clients');
      const reloaded = tls.nextReload();
      replace(join(staging, 'server.key'), join(live, 'server.key'));
      replace(join(staging, 'server.pem'), join(live, 'server.pem'));
      const outcome = await reloaded;
      expect(outcome.status).toBe('loaded');
      const rotated = tls.current?.fingerprint256;
      expect(rotated).not.toBe(before.serverFingerprint);

      const fresh = await call(orch.url, '/route', as('ingress'), { body: VALID });
      expect(fresh.status).toBe(200);
      expect(fresh.serverFingerprint).toBe(rotated);

      // The same TCP connection, so the same TLS session with the certificate it was set up with (TLS 1.3 has no
      // renegotiation). Node's client forgets the peer certificate once session tickets arrive, so the port says it.
      const old = await call(orch.url, '/route', as('ingress'), { agent, body: VALID });
      expect(old.status).toBe(200);
      expect(old.localPort).toBe(before.localPort);
      expect(orch.logs).toContainEqual(expect.objectContaining({ event: 'tls.reloaded', context: 'security' }));
    } finally {
      agent.destroy();
    }
  });

  it('rejects a broken rotation (key of another certificate, then an expired certificate) and keeps serving', async () => {
    const serving = tls.current?.fingerprint256;
    const rejected = tls.nextReload();
    replace(join(root, 'rogue', 'server.key'), join(live, 'server.key'));
    expect(await rejected).toMatchObject({
      status: 'rejected',
      file: join(live, 'server.key'),
      reason: expect.stringMatching(/does not belong to the certificate/),
    });
    const during = await call(orch.url, '/route', as('ingress'), { body: VALID });
    expect(during.status).toBe(200);
    expect(during.serverFingerprint).toBe(serving);

    const expired = sameCa(pki, join(root, 'expired'));
    certsDev(expired, '--no-clients', '--not-before', '2020-01-01T00:00:00Z', '--not-after', '2021-01-01T00:00:00Z');
    const rejectedAgain = tls.nextReload();
    replace(join(expired, 'server.key'), join(live, 'server.key'));
    replace(join(expired, 'server.pem'), join(live, 'server.pem'));
    expect(await rejectedAgain).toMatchObject({ status: 'rejected', reason: expect.stringMatching(/expired on 2021/) });
    expect((await call(orch.url, '/healthz', as('ingress'))).serverFingerprint).toBe(serving);

    expect(orch.logs).toContainEqual(
      expect.objectContaining({ level: 'error', event: 'tls_reload_rejected', file: join(live, 'server.pem') }),
    );
    expect(orch.logs).toContainEqual(
      expect.objectContaining({
        event: 'tls.rejected',
        context: 'security',
        data: expect.objectContaining({ keptFingerprint: serving }),
      }),
    );
  });
});

describe('TLS certificate expiry', () => {
  let root: string;
  let orch: RunningOrchestrator;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'shieldx-tls-expiry-'));
    certsDev(join(root, 'pki'));
    // A server certificate from the same CA that expires four seconds from now.
    const short = sameCa(join(root, 'pki'), join(root, 'short'));
    const notAfter = new Date(Math.ceil(Date.now() / 1000) * 1000 + 4000).toISOString();
    certsDev(short, '--no-clients', '--not-after', notAfter);
    orch = await startOrchestrator({
      ORCH_TLS_CERT_FILE: join(short, 'server.pem'),
      ORCH_TLS_KEY_FILE: join(short, 'server.key'),
      ORCH_TLS_CLIENT_CA_FILE: join(root, 'pki', 'ca.pem'),
    });
  });

  afterAll(async () => {
    await orch?.close();
    if (root !== undefined) rmSync(root, { recursive: true, force: true });
  });

  it('fails /readyz and shows no seconds left once the serving certificate has expired', async () => {
    const pki = join(root, 'pki');
    const client: Client = {
      ca: readFileSync(join(pki, 'ca.pem')),
      cert: readFileSync(join(pki, 'client-ingress.pem')),
      key: readFileSync(join(pki, 'client-ingress.key')),
    };
    const tls = orch.app.get(TlsService);
    const expired = tls.nextExpiry();
    expect((await call(orch.url, '/readyz', client)).status).toBe(200);
    await expired;
    // The certificate the server presents has expired: a probe that does not verify it still gets an answer.
    const probe: Client = { ...client, rejectUnauthorized: false };
    const ready = await call(orch.url, '/readyz', probe);
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({
      error: 'unavailable',
      details: { tls: { status: 'down', secondsLeft: expect.any(Number) } },
    });
    const metrics = await call(orch.url, '/metrics', probe);
    expect(Number(/^ratls_cert_expiry_seconds (\S+)$/m.exec(String(metrics.body['text']))?.[1])).toBeLessThanOrEqual(0);
  });
});

describe('shieldx certs dev', () => {
  it('refuses at once a directory it cannot make (under a dangling link), where recursive mkdir would spin', () => {
    const dir = mkdtempSync(join(tmpdir(), 'shieldx-certs-dangling-'));
    try {
      symlinkSync(join(dir, 'not-mounted'), join(dir, 'data'));
      const run = spawnSync(process.execPath, [CLI, 'certs', 'dev', join(dir, 'data', 'certs')], {
        encoding: 'utf8',
        timeout: 10_000,
      });
      expect(run.signal).toBeNull();
      expect(run.status).toBe(1);
      expect(run.stderr).toMatch(/cannot make the directory .*: cannot create directory/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
