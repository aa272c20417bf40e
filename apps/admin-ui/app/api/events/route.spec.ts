import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Session, newSession as NewSessionOf } from '../../lib/auth/session';
import type { eventStreams as EventStreamsOf } from '../../lib/event-streams';

// Next.js resolves `server-only` itself; outside Next it is a no-op.
vi.mock('server-only', () => ({}));
// The session of the request being served: set by each test (outside Next there is no request to read it from).
let session: Session | undefined;
vi.mock('../../lib/auth/current-user', () => ({
  currentSession: () => Promise.resolve(session),
  currentUser: () => Promise.resolve(session?.user),
}));

/** A fake orchestrator whose `/admin/events` streams until the client goes, or until the test ends it. */
const streams = new Set<ServerResponse>();
let refuseWith: number | undefined;
const reported: string[] = [];
const orchestrator = createServer((req, res) => {
  if (req.url === '/admin/ui-events') {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      reported.push(body);
      res.writeHead(204).end();
    });
    return;
  }
  if (refuseWith !== undefined) {
    res.writeHead(refuseWith, { 'content-type': 'application/json' }).end('{"error":"too_many_streams"}');
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.write('retry: 2000\n\nevent: hello\ndata: {}\n\n');
  streams.add(res);
  req.on('close', () => streams.delete(res));
});

const env = { ...process.env };
const now = Date.now();
/** A session of `sub`, signed in `ago` ms before the tests started. */
const person = (sub: string, ago = 0): Session => ({
  created: now - ago,
  seen: now,
  user: { sub, role: 'viewer', idp: 'https://idp.example.com' },
});

let GET: (request: Request) => Promise<Response>;
let signOut: () => Promise<Response>;
let newSession: typeof NewSessionOf;
let MAX: number;
let eventStreams: typeof EventStreamsOf;

beforeAll(async () => {
  await new Promise<void>((resolve) => orchestrator.listen(0, '127.0.0.1', resolve));
  Object.assign(process.env, {
    ORCH_ADMIN_URL: `http://127.0.0.1:${(orchestrator.address() as AddressInfo).port}`,
    ADMIN_UI_OIDC_ISSUER: 'https://idp.example.com',
    ADMIN_UI_OIDC_CLIENT_ID: 'shieldx',
    ADMIN_UI_OIDC_CLIENT_SECRET: 'client-secret',
    ADMIN_UI_SESSION_SECRET: 'a-session-secret-of-at-least-32-characters',
    ADMIN_UI_PUBLIC_URL: 'http://127.0.0.1:3000',
    ADMIN_UI_USER_KEY: generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
  });
  ({ GET } = await import('./route'));
  ({ POST: signOut } = await import('../../auth/logout/route'));
  ({ newSession } = await import('../../lib/auth/session'));
  ({ eventStreams, MAX_STREAMS_PER_PERSON: MAX } = await import('../../lib/event-streams'));
});

afterAll(async () => {
  process.env = { ...env };
  for (const res of streams) res.destroy();
  orchestrator.closeAllConnections();
  await new Promise((resolve) => orchestrator.close(resolve));
});

/** Opens `/api/events` as `who`; the controller stands for the browser going away. */
async function open(who: Session) {
  session = who;
  const browser = new AbortController();
  const response = await GET(new Request('http://127.0.0.1:3000/api/events', { signal: browser.signal }));
  return { response, browser };
}

async function firstChunk(response: Response): Promise<string> {
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const { value } = await reader.read();
  reader.releaseLock();
  return new TextDecoder().decode(value);
}

describe('GET /api/events', () => {
  it("refuses a person's stream beyond their share with 429, others unaffected, and gives the place back", async () => {
    const vera = person('vera', 2000);
    const open1 = await Promise.all(Array.from({ length: MAX }, () => open(vera)));
    for (const { response } of open1) {
      expect(response.status).toBe(200);
      expect(await firstChunk(response)).toContain('event: hello');
    }
    await expect.poll(() => streams.size).toBe(MAX);
    const refused = await open(vera);
    expect(refused.response.status).toBe(429);
    expect(await refused.response.json()).toMatchObject({ error: 'too_many_streams' });
    expect(streams.size).toBe(MAX);
    // Even from another session (another browser) of the same person.
    expect((await open(person('vera', 1000))).response.status).toBe(429);

    const otto = await open(person('otto'));
    expect(otto.response.status).toBe(200);

    // A tab closes: its upstream stream closes and the place is free again.
    await open1[0].response.body?.cancel();
    await expect.poll(() => eventStreams().count(JSON.stringify(['https://idp.example.com', 'vera']))).toBe(MAX - 1);
    await expect.poll(() => streams.size).toBe(MAX);
    const again = await open(vera);
    expect(again.response.status).toBe(200);

    // The browser going away (the request's signal) frees it too.
    again.browser.abort();
    await expect.poll(() => eventStreams().count(JSON.stringify(['https://idp.example.com', 'vera']))).toBe(MAX - 1);

    for (const { response } of [...open1.slice(1), otto]) await response.body?.cancel();
    await expect.poll(() => streams.size).toBe(0);
    expect(eventStreams().count(JSON.stringify(['https://idp.example.com', 'vera']))).toBe(0);
  });

  it('gives the place back when the orchestrator ends the stream or refuses it', async () => {
    const vera = person('vera');
    const { response } = await open(vera);
    await expect.poll(() => streams.size).toBe(1);
    for (const res of streams) res.end();
    await response.text();
    expect(eventStreams().count(JSON.stringify(['https://idp.example.com', 'vera']))).toBe(0);
    refuseWith = 503;
    try {
      for (let i = 0; i < MAX + 2; i++) expect((await open(vera)).response.status).toBe(503);
    } finally {
      refuseWith = undefined;
    }
    expect(eventStreams().count(JSON.stringify(['https://idp.example.com', 'vera']))).toBe(0);
  });

  it('closes every stream of a person at their sign-out, from all their sessions, upstream included', async () => {
    const key = JSON.stringify(['https://idp.example.com', 'sam']);
    const laptop = person('sam', 60_000);
    const laptopStream = await open(laptop);
    const desktopStream = await open(person('sam', 30_000));
    const otto = await open(person('otto'));
    await expect.poll(() => streams.size).toBe(3);
    expect(eventStreams().count(key)).toBe(2);

    // Sam signs out on the laptop: both streams end cleanly (the browser's reconnect then meets sign-in) and the
    // orchestrator's streams close; Otto's stays open.
    session = laptop;
    const signedOut = await signOut();
    expect(signedOut.status).toBe(303);
    expect(signedOut.headers.get('location')).toBe('http://127.0.0.1:3000/auth/signed-out');
    expect(await laptopStream.response.text()).toContain('event: hello');
    expect(await desktopStream.response.text()).toContain('event: hello');
    await expect.poll(() => streams.size).toBe(1);
    expect(eventStreams().count(key)).toBe(0);
    expect(reported.map((body) => JSON.parse(body) as unknown)).toContainEqual({ event: 'sign_out', reason: 'user' });

    // A session from before the sign-out gets no new stream (even one that got past sign-in just before it); a session
    // started after it, in the same millisecond too, does.
    expect((await open(person('sam', 10_000))).response.status).toBe(401);
    expect(eventStreams().count(key)).toBe(0);
    const again = await open(newSession(laptop.user, Date.now()));
    expect(again.response.status).toBe(200);
    expect(eventStreams().count(key)).toBe(1);
    await again.response.body?.cancel();
    await otto.response.body?.cancel();
    await expect.poll(() => streams.size).toBe(0);
  });

  it('answers 401 without a session', async () => {
    session = undefined;
    const response = await GET(new Request('http://127.0.0.1:3000/api/events'));
    expect(response.status).toBe(401);
  });
});
