import { mulberry32 } from '@shieldx/lb';
import { canonicalPath } from '@shieldx/policy';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerService } from '../../src/ledger/ledger.service';
import { post, startOrchestrator, type RunningOrchestrator } from '../harness';
import { rawRequest } from './raw-http';

const CALLER = { 'x-tenant': 'acme', 'x-scope': 'read' };
const SEEDS = [1, 2, 3];
const VARIANTS_PER_SEED = 120;

/** A backend that answers every request with the request target it received. */
async function recordingBackend(): Promise<{ url: string; seen: string[]; server: Server }> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    if (req.url !== '/healthz') seen.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ target: req.url }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server };
}

/**
 * One spelling of `path` an attacker might try: each character may be percent-encoded (either hex case), and `.`
 * segments, empty segments, `..` climbs, `;` parameters, encoded separators, double encoding and overlong UTF-8 may be
 * slipped in between segments.
 */
function variant(path: string, random: () => number): string {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const hex = (c: string) => {
    const h = c.charCodeAt(0).toString(16).padStart(2, '0');
    return `%${random() < 0.5 ? h : h.toUpperCase()}`;
  };
  const insertions = [
    './',
    '%2e/',
    '%2E/',
    '/',
    'x/../',
    'x/%2e%2e/',
    '..;/',
    ';x/',
    '%2f',
    '%252e/',
    '%c0%ae/',
    '.%2e/',
  ];
  let out = '';
  for (const segment of path.split('/').slice(1)) {
    out += '/';
    if (random() < 0.35) out += pick(insertions);
    for (const char of segment) out += random() < 0.3 ? hex(char) : char;
    if (random() < 0.1) out += pick([';v=1', '%3b', '%00', '\\x']);
  }
  return out;
}

/** How a lenient backend might read a target: decode everything, drop `;` parameters, resolve dot segments. */
function lenientReading(target: string): string {
  let decoded = target.split('?')[0] ?? '';
  for (let round = 0; round < 3; round++) {
    try {
      decoded = decodeURIComponent(decoded);
    } catch {
      break;
    }
  }
  decoded = decoded.replace(/\\/g, '/').replace(/;[^/]*/g, '');
  return posix.normalize(decoded);
}

describe('path canonicalisation on /proxy (adversarial)', () => {
  let orch: RunningOrchestrator;
  let backend: Awaited<ReturnType<typeof recordingBackend>>;

  beforeAll(async () => {
    backend = await recordingBackend();
    const dir = mkdtempSync(join(tmpdir(), 'shieldx-adv-path-'));
    writeFileSync(
      join(dir, 'rules.json'),
      JSON.stringify({
        allow_all: true,
        advanced: [{ tenant: '*', scopes: ['*'], path_prefix: '/internal/', action: 'deny', reason: 'internal' }],
      }),
    );
    orch = await startOrchestrator({
      ORCH_POOL_API: backend.url,
      ORCH_POLICY_PATH: join(dir, 'rules.json'),
      ORCH_IP_BURST: '1000000',
      ORCH_TENANT_BURST: '1000000',
      ORCH_PROXY_RETRIES: '0',
    });
  });

  afterAll(async () => {
    await orch.close();
    await new Promise((resolve) => backend.server.close(resolve));
  });

  it('refuses or denies every spelling the review found, and never forwards them', async () => {
    const found = [
      '/%69nternal/',
      '/./internal/',
      '/%2e/internal/',
      '/internal%2fsecret',
      '/internal;x/',
      '/x/..;/internal/',
    ];
    for (const spelling of found) {
      const before = backend.seen.length;
      const res = await rawRequest(orch.url, 'GET', `/proxy/api${spelling}secret`, CALLER);
      expect([400, 403], spelling).toContain(res.status);
      expect(JSON.parse(res.body)).toHaveProperty('correlationId');
      expect(backend.seen.length, spelling).toBe(before);
    }
    expect((await rawRequest(orch.url, 'GET', '/proxy/api/internal/secret', CALLER)).status).toBe(403);
    // The directory itself, which servers answer with its index or a redirect, is under the prefix too.
    for (const spelling of ['/internal', '/internal/', '/%69nternal', '/./internal//']) {
      expect((await rawRequest(orch.url, 'GET', `/proxy/api${spelling}`, CALLER)).status, spelling).toBe(403);
    }
  });

  it('gives every generated variant the verdict of its canonical path, and forwards exactly the canonical path', async () => {
    let allowed = 0;
    let denied = 0;
    let refusedCount = 0;
    for (const seed of SEEDS) {
      const random = mulberry32(seed);
      for (let i = 0; i < VARIANTS_PER_SEED; i++) {
        const base = random() < 0.5 ? '/internal/secret' : '/public/a-b_c~d/file.txt';
        const spelled = variant(base, random);
        const canonical = canonicalPath(spelled);
        const before = backend.seen.length;
        const res = await rawRequest(orch.url, 'GET', `/proxy/api${spelled}?q=1`, CALLER);
        if (!canonical.ok) {
          expect(res.status, spelled).toBe(400);
          // The router refuses what it cannot decode (bad_url) before the path is read; both are 400 JSON.
          expect(['invalid_path', 'bad_url']).toContain((JSON.parse(res.body) as { error: string }).error);
          expect(backend.seen.length, spelled).toBe(before);
          refusedCount++;
          continue;
        }
        // The verdict on the variant is the verdict on its canonical spelling.
        const direct = await rawRequest(orch.url, 'GET', `/proxy/api${canonical.path}?q=1`, CALLER);
        expect(res.status, spelled).toBe(direct.status);
        if (res.status === 200) {
          allowed++;
          expect(backend.seen.slice(before), spelled).toEqual([`${canonical.path}?q=1`, `${canonical.path}?q=1`]);
        } else {
          denied++;
          expect(res.status, spelled).toBe(403);
          expect(backend.seen.length, spelled).toBe(before);
        }
        // Whatever a lenient backend makes of what was forwarded, /internal/ never gets through.
        if (res.status === 200)
          expect(lenientReading(`${canonical.path}`).startsWith('/internal/'), spelled).toBe(false);
      }
    }
    // The generator exercised all three outcomes.
    expect(allowed).toBeGreaterThan(20);
    expect(denied).toBeGreaterThan(20);
    expect(refusedCount).toBeGreaterThan(20);
  });

  it('gives the policy the canonical path on /route, and refuses ..; there', async () => {
    const denied = await post(`${orch.url}/route`, {
      service: 'api',
      tenant: 'acme',
      scope: 'read',
      path: '/%69nternal/x',
    });
    expect(denied.status).toBe(403);
    const dotted = await post(`${orch.url}/route`, {
      service: 'api',
      tenant: 'acme',
      scope: 'read',
      path: '/./internal//x',
    });
    expect(dotted.status).toBe(403);
    // A query or fragment in the path would be judged as part of it (`/internal%3Fx=1`, outside `/internal/`) while a
    // client sending the string as its request target reaches /internal: refused.
    for (const path of [
      '/base/..;/secret',
      '/base/%2e%2e;/secret',
      '/a%2fb',
      '/a;b=1',
      '/internal?x=1',
      '/internal#frag',
      '/internal?/x',
    ]) {
      const res = await post(`${orch.url}/route`, { service: 'api', tenant: 'acme', scope: 'read', path });
      expect([res.status, res.body['error']], path).toEqual([400, 'invalid_request']);
    }
    const allowed = await post(`${orch.url}/route`, {
      service: 'api',
      tenant: 'acme',
      scope: 'read',
      path: '/system/@me',
    });
    expect(allowed.status).toBe(200);
  });

  it('records the canonical path in the ledger entry of a denial', async () => {
    const res = await rawRequest(orch.url, 'GET', '/proxy/api/%2E/%69nternal//ledger-probe', CALLER);
    expect(res.status).toBe(403);
    const correlationId = (JSON.parse(res.body) as { correlationId: string }).correlationId;
    await orch.app.get(LedgerService).flush();
    const line = readFileSync(orch.ledgerPath, 'utf8')
      .split('\n')
      .find((l) => l.includes(correlationId) && l.includes('policy.deny'));
    expect(line).toBeDefined();
    expect(line).toContain('"/internal/ledger-probe"');
  });
});
