import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestBackend, type TestBackend } from './backends';
import { compileOrchestrator } from './compile';
import { eventually } from './eventually';
import { launchLedgerGateway, type LaunchedGateway } from './ledger-process';

const CALLER = { 'x-tenant': 'acme', 'x-scope': 'read' };

/** True once the gateway refuses new connections (its listener is closed). */
async function refusesConnections(origin: string): Promise<boolean> {
  return fetch(`${origin}/healthz`).then(
    () => false,
    () => true,
  );
}

/**
 * SIGTERM to a built gateway process (docs/http-api.md, "Graceful shutdown"): the listener stops accepting, a request
 * arriving on a connection kept alive from before gets 503 `shutting_down`, in-flight requests finish, whatever is
 * still open after ORCH_SHUTDOWN_GRACE is cut, and the process exits.
 */
describe('SIGTERM to the gateway process', () => {
  let work: string;
  let build: string;
  let backend: TestBackend;
  let gateway: LaunchedGateway | undefined;
  const clients: Client[] = [];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'shieldx-e2e-shutdown-'));
    build = compileOrchestrator('e2e-shutdown-');
    backend = await startTestBackend('backend');
  }, 120_000);

  afterEach(async () => {
    backend.downloadGate = undefined;
    gateway?.process.kill('SIGKILL');
    gateway = undefined;
    await Promise.all(clients.splice(0).map((client) => client.destroy()));
  });

  afterAll(async () => {
    await backend.close();
    rmSync(build, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  function launch(grace: string): Promise<LaunchedGateway> {
    return launchLedgerGateway(build, join(mkdtempSync(join(work, 'ledger-')), 'ledger.jsonl'), {
      ORCH_POOL_API: backend.url,
      ORCH_SHUTDOWN_GRACE: grace,
    });
  }

  /** One connection kept alive, requests sent on it one after the other. */
  function keptAlive(origin: string): Client {
    const client = new Client(origin, { pipelining: 1, keepAliveTimeout: 60_000, keepAliveMaxTimeout: 60_000 });
    clients.push(client);
    return client;
  }

  it('lets the request in flight finish, answers the next one on its connection 503 shutting_down, and exits', async () => {
    gateway = await launch('10s');
    const { process: child, origin, exited } = gateway;
    // The backend sends half of the download, then holds the rest until the test lets it go.
    let release!: () => void;
    backend.downloadGate = new Promise<void>((resolve) => (release = resolve));
    const hitsBefore = backend.hits;
    const kept = keptAlive(origin);
    const first = await kept.request({ method: 'GET', path: '/proxy/api/download?mb=1', headers: CALLER });
    expect(first.statusCode).toBe(200);
    const firstBody = first.body.arrayBuffer();
    // Queued behind the first on the same connection: it goes out once the first is answered, after the close began.
    const second = kept.request({ method: 'GET', path: '/proxy/api/x', headers: CALLER });

    child.kill('SIGTERM');
    const signalled = performance.now();
    await eventually(() => refusesConnections(origin), { what: 'the listener closed' });
    release();

    expect((await firstBody).byteLength).toBe(1024 * 1024);
    const late = await second;
    expect(late.statusCode).toBe(503);
    expect(late.headers['connection']).toBe('close');
    expect(late.headers['retry-after']).toBe('1');
    expect(late.headers['content-type']).toMatch(/^application\/json/);
    const body = (await late.body.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ error: 'shutting_down', correlationId: expect.any(String) });
    expect(late.headers['x-correlation-id']).toBe(body['correlationId']);
    // Nothing is left open, so the process does not wait for the 10 s grace.
    expect(await exited).toBe('SIGTERM');
    expect(performance.now() - signalled).toBeLessThan(10_000);
    expect(backend.hits - hitsBefore).toBe(1);
  });

  it('cuts a request still open when ORCH_SHUTDOWN_GRACE (300ms) is over, then exits', async () => {
    gateway = await launch('300ms');
    const { process: child, origin, exited } = gateway;
    const arrived = new Promise((resolve) => backend.events.once('request', resolve));
    const stuck = keptAlive(origin)
      .request({ method: 'GET', path: '/proxy/api/hang', headers: CALLER })
      .then(
        () => 'answered',
        () => 'cut',
      );
    await arrived;

    const signalled = performance.now();
    child.kill('SIGTERM');
    expect(await stuck).toBe('cut');
    const cutAfter = performance.now() - signalled;
    expect(await exited).toBe('SIGTERM');
    const exitedAfter = performance.now() - signalled;
    // Cut by the grace timer: not before it (the request was still in flight), and not by some later timeout.
    expect(cutAfter).toBeGreaterThanOrEqual(290);
    expect(cutAfter).toBeLessThan(3000);
    expect(exitedAfter).toBeLessThan(5000);
  });
});
