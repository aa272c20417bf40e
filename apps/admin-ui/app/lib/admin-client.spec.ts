import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AdmissionVerifier, MemoryReplayStore } from '@shieldx/security';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

// Next.js resolves `server-only` itself; outside Next it is a no-op.
vi.mock('server-only', () => ({}));

const { adminFetch } = await import('./admin-client');

/** The wall clock of these tests (only `Date` is faked: the sockets keep their real timers). */
const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);

/** What the fake orchestrator received. */
interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

describe(adminFetch.name, () => {
  let server: Server;
  const seen: Seen[] = [];
  const env = { ...process.env };

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  afterEach(() => {
    vi.useRealTimers();
    process.env = { ...env };
    seen.length = 0;
  });

  function target(): void {
    process.env.ORCH_ADMIN_URL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    process.env.ORCH_ADMIN_TOKEN = 'admin-token';
  }

  it('signs each call so the orchestrator’s admission verifier accepts it, with the first secret of the list', async () => {
    target();
    process.env.ADMISSION_SECRET = ' first-secret , second-secret';
    process.env.ADMISSION_HEADER = 'X-Test-Admission';
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(NOW);

    await adminFetch('/admin/pools/api?dry=1', { method: 'PUT', body: '{}' });
    await adminFetch('/admin/breakers');

    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual(['PUT /admin/pools/api?dry=1', 'GET /admin/breakers']);
    for (const s of seen) expect(s.headers.authorization).toBe('Bearer admin-token');
    const verify = (secrets: string[], s: Seen, now = NOW) =>
      new AdmissionVerifier({ secrets, replay: new MemoryReplayStore() }).verify(
        { header: s.headers['x-test-admission'], method: s.method, pathWithQuery: s.url },
        now,
      );
    expect(seen.map((s) => verify(['first-secret'], s))).toEqual([
      expect.objectContaining({ ok: true, keyIndex: 0 }),
      expect.objectContaining({ ok: true, keyIndex: 0 }),
    ]);
    // Bound to the secret: the second one of the list did not sign it.
    expect(verify(['second-secret'], seen[0])).toEqual(
      expect.objectContaining({ ok: false, code: 'admission_invalid' }),
    );
    // Bound to the request: the same header does not pass for another path.
    expect(verify(['first-secret'], { ...seen[0], url: '/admin/pools/api' })).toEqual(
      expect.objectContaining({ ok: false, code: 'admission_invalid' }),
    );
    // Stamped with the time of the call: past the verifier's 60 s skew it has expired.
    expect(verify(['first-secret'], seen[0], NOW + 61_000)).toEqual(
      expect.objectContaining({ ok: false, code: 'admission_expired' }),
    );
  });

  it('sends no admission header when no secret is set', async () => {
    target();
    delete process.env.ADMISSION_SECRET;

    await adminFetch('/admin/pools');

    expect(seen).toHaveLength(1);
    expect(Object.keys(seen[0].headers).filter((name) => name.includes('admission'))).toEqual([]);
  });

  it('refuses a path outside the admin API without calling the orchestrator', async () => {
    target();
    await expect(adminFetch('/route')).rejects.toThrow('not an admin path: /route');
    expect(seen).toEqual([]);
  });
});
