import { spawnSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signUserAssertion, USER_ASSERTION_HEADER } from '@shieldx/security';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sealSession, sessionCookieName, type Session } from '../app/lib/auth/session';
import { readAuthSettings, type OidcSettings } from '../app/lib/auth/settings';
import { ARTIFACTS, buildOrchestrator, CHROMIUM, freePort, ROOT, startProcess, stopProcess } from './processes';

/**
 * Signing in to the admin UI in a real Chromium, against a real OpenID Connect provider on loopback
 * (scripts/dev-oidc.mjs, `oidc-provider`) and a real orchestrator (built from source) that trusts only calls made
 * for a signed-in person (ORCH_ADMIN_REQUIRE_USER=1): passwords, roles from the provider's groups claim (an array,
 * or a space-separated string), the person in the audit ledger, sessions that expire or are tampered with,
 * cross-site writes and return URLs that try to leave the UI.
 */

const TOKEN = 'identity-e2e-admin-token-0123456789';
const CLIENT_ID = 'shieldx-admin-ui-e2e';
const CLIENT_SECRET = randomBytes(24).toString('base64url');
const SESSION_SECRET = randomBytes(32).toString('base64url');
const assertionKeys = generateKeyPairSync('ed25519');

const USERS = [
  {
    sub: 'e2e-viewer',
    username: 'vera',
    password: 'vera-password-1',
    email: 'vera@e2e.example',
    name: 'Vera Viewer',
    groups: ['shieldx-viewer'],
  },
  {
    sub: 'e2e-operator',
    username: 'otto',
    password: 'otto-password-1',
    email: 'otto@e2e.example',
    name: 'Otto Operator',
    groups: ['other', 'shieldx-operator'],
  },
  // Some providers send the groups claim as one space-separated string.
  {
    sub: 'e2e-admin',
    username: 'ada',
    password: 'ada-password-1',
    email: 'ada@e2e.example',
    name: 'Ada Admin',
    groups: 'staff shieldx-admin',
  },
  {
    sub: 'e2e-nobody',
    username: 'nemo',
    password: 'nemo-password-1',
    email: 'nemo@e2e.example',
    name: 'Nemo',
    groups: ['staff'],
  },
] as const;
type DemoUser = (typeof USERS)[number];
const [VIEWER, OPERATOR, ADMIN, NOBODY] = USERS;

type Entry = { seq: number; type: string; data: Record<string, unknown> };

describe('admin UI sign-in with OpenID Connect', () => {
  let work: string;
  let orchestrator: { child: ChildProcess; output: () => string } | undefined;
  let provider: { child: ChildProcess; output: () => string } | undefined;
  let ui: { child: ChildProcess; output: () => string } | undefined;
  let orchUrl: string;
  let uiUrl: string;
  let issuer: string;
  let ledgerPath: string;
  let settings: OidcSettings;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  // A page of another site (another origin on loopback) that tries to make the signed-in browser write.
  const evil = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    // Another origin of the same site (127.0.0.1, another port: the session cookie goes along) framing a UI page.
    const framed = new URL(req.url ?? '/', 'http://evil.invalid').searchParams.get('frame');
    if (framed !== null) {
      res.end(`<!doctype html><title>evil</title><iframe title="decoy" src="${encodeURI(framed)}"></iframe>`);
      return;
    }
    res.end(`<!doctype html><title>evil</title><script>
      window.attack = (ui) => Promise.all([
        fetch(ui + '/api/admin/pools/evil', { method: 'PUT', mode: 'no-cors', credentials: 'include',
          headers: { 'content-type': 'text/plain' }, body: '{"urls":["http://127.0.0.1:9"]}' }).catch(() => null),
        fetch(ui + '/auth/logout', { method: 'POST', mode: 'no-cors', credentials: 'include' }).catch(() => null),
      ]);
    </script>`);
  });
  let evilUrl: string;

  /** Reads the orchestrator's audit ledger as an admin the test makes up (the orchestrator wants a person). */
  async function audit(type: string): Promise<Entry[]> {
    const assertion = await signUserAssertion(
      { sub: 'e2e-auditor', role: 'admin' },
      { key: assertionKeys.privateKey, issuer: 'shieldx-admin-ui', audience: 'shieldx-orchestrator' },
    );
    const response = await fetch(`${orchUrl}/admin/audit?type=${type}&limit=200`, {
      headers: { authorization: `Bearer ${TOKEN}`, [USER_ASSERTION_HEADER]: assertion },
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { entries: Entry[] }).entries;
  }

  async function newPage(): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    contexts.push(context);
    return context.newPage();
  }

  /** Fills the provider's login form (the page must show it). */
  async function login(page: Page, user: { readonly username: string; readonly password: string }): Promise<void> {
    await page.getByLabel('User name').fill(user.username);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  /** Opens `path` of the UI, signs in at the provider as `user` and waits until the UI shows them. */
  async function signedIn(user: DemoUser, path = '/pools'): Promise<Page> {
    const page = await newPage();
    await page.goto(`${uiUrl}${path}`);
    await page.waitForURL((url) => url.href.startsWith(`${issuer}/interaction/`));
    await login(page, user);
    await page.waitForURL((url) => url.href.startsWith(uiUrl) && !url.pathname.startsWith('/auth/'));
    await expect.poll(() => page.getByTestId('account-name').textContent()).toBe(user.name);
    return page;
  }

  function sessionCookie(page: Page) {
    return page
      .context()
      .cookies(uiUrl)
      .then((cookies) => cookies.find((c) => c.name === sessionCookieName(settings)));
  }

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium (.ci/run does)`);
    }
    mkdirSync(ARTIFACTS, { recursive: true });
    work = mkdtempSync(join(tmpdir(), 'shieldx-identity-e2e-'));
    ledgerPath = join(work, 'ledger/orchestrator.jsonl');

    const entry = buildOrchestrator('identity-orchestrator-build');

    const orchPort = await freePort();
    orchUrl = `http://127.0.0.1:${orchPort}`;
    orchestrator = await startProcess(
      process.execPath,
      [entry],
      {
        ORCH_ALLOW_INSECURE: '1',
        ORCH_PORT: String(orchPort),
        ORCH_POOL_API: 'http://127.0.0.1:9',
        ORCH_ADMIN_TOKEN: TOKEN,
        ORCH_ADMIN_USER_KEYS: assertionKeys.publicKey.export({ format: 'pem', type: 'spki' }).toString(),
        ORCH_ADMIN_REQUIRE_USER: '1',
        ORCH_LEDGER_PATH: ledgerPath,
        ORCH_LEDGER_FLUSH_INTERVAL: '5ms',
        ORCH_LOG_LEVEL: 'warn',
      },
      new URL(`${orchUrl}/readyz`),
      30_000,
    );

    const uiPort = await freePort();
    uiUrl = `http://127.0.0.1:${uiPort}`;
    provider = await startProcess(
      process.execPath,
      [
        join(ROOT, 'scripts/dev-oidc.mjs'),
        JSON.stringify({
          clientId: CLIENT_ID,
          clientSecret: CLIENT_SECRET,
          redirectUris: [`${uiUrl}/auth/callback`],
          users: USERS,
        }),
      ],
      {},
      /dev-oidc: issuer http:\/\/127\.0\.0\.1:\d+/,
      15_000,
    );
    issuer = /dev-oidc: issuer (\S+)/.exec(provider.output())?.[1] as string;

    const uiEnv = {
      ADMIN_UI_OIDC_ISSUER: issuer,
      ADMIN_UI_OIDC_CLIENT_ID: CLIENT_ID,
      ADMIN_UI_OIDC_CLIENT_SECRET: CLIENT_SECRET,
      ADMIN_UI_SESSION_SECRET: SESSION_SECRET,
      ADMIN_UI_PUBLIC_URL: uiUrl,
      ADMIN_UI_USER_KEY: assertionKeys.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    };
    const read = readAuthSettings(uiEnv);
    if (read.mode !== 'oidc') throw new Error(`test settings: ${JSON.stringify(read)}`);
    settings = read;
    ui = await startProcess(
      process.execPath,
      [join(ROOT, 'packages/cli/shieldx.mjs'), 'ui'],
      {
        ...uiEnv,
        ADMIN_UI_PORT: String(uiPort),
        ADMIN_UI_HOST: '127.0.0.1',
        ORCH_ADMIN_URL: orchUrl,
        ORCH_ADMIN_TOKEN: TOKEN,
        NEXT_TELEMETRY_DISABLED: '1',
      },
      /shieldx ui: admin UI on http:\/\/127\.0\.0\.1:\d+/,
      200_000,
    );
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    evilUrl = `http://127.0.0.1:${(evil.address() as AddressInfo).port}`;

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'],
    });
  }, 240_000);

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close();
    await stopProcess(ui?.child);
    await stopProcess(provider?.child);
    await stopProcess(orchestrator?.child);
    evil.closeAllConnections();
    await new Promise((resolve) => evil.close(resolve));
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it('refuses a wrong password at the provider, then signs in and returns to the page asked for', async () => {
    const page = await newPage();
    await page.goto(`${uiUrl}/pools?from=test`);
    await page.waitForURL((url) => url.href.startsWith(`${issuer}/interaction/`));
    expect(await sessionCookie(page)).toBeUndefined();
    await login(page, { username: OPERATOR.username, password: 'not-the-password' });
    await expect.poll(() => page.getByRole('alert').textContent()).toBe('Wrong user name or password.');
    await page.screenshot({ path: join(ARTIFACTS, 'identity-wrong-password.png') });
    expect(page.url().startsWith(issuer)).toBe(true);
    await login(page, OPERATOR);
    await page.waitForURL(`${uiUrl}/pools?from=test`);
    await expect.poll(() => page.getByTestId('account-name').textContent()).toBe('Otto Operator');
    expect(await page.getByTestId('account-role').textContent()).toBe('operator');
    // The pools page renders its controls once its data is in: wait for the operator's button rather than count early.
    await expect.poll(() => page.getByRole('button', { name: 'New pool' }).count()).toBe(1);
    const cookie = await sessionCookie(page);
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
    // Encrypted: nothing of the person can be read from it.
    expect(cookie?.value).not.toContain('otto');
    expect(Buffer.from(cookie?.value.split('.')[1] ?? '', 'base64url').toString()).not.toContain('operator');
  });

  it("records the operator's pool edit under the operator's name in the audit ledger, which verifies", async () => {
    const page = await signedIn(OPERATOR);
    const card = page.locator('main').getByTestId('pool-api');
    await card.getByRole('button', { name: 'Edit api' }).click();
    await card.getByRole('textbox').fill('http://127.0.0.1:9 2');
    await card.getByRole('button', { name: 'Save api' }).click();
    await expect.poll(() => page.locator('.notice-ok').textContent()).toContain('Saved pool api');
    await expect
      .poll(async () => (await audit('pool.changed')).find((e) => e.data.pool === 'api')?.data.actor)
      .toBe('user:e2e-operator');
    const entry = (await audit('pool.changed')).find((e) => e.data.pool === 'api') as Entry;
    expect(entry.data.user).toMatchObject({
      sub: 'e2e-operator',
      email: 'otto@e2e.example',
      role: 'operator',
      idp: issuer,
    });
    // The Audit page shows the entry with the person, and `shieldx ledger verify` checks the chain that holds it.
    await page.goto(`${uiUrl}/audit`);
    await expect.poll(() => page.locator('main').textContent()).toContain('otto@e2e.example');
    const verify = spawnSync(
      process.execPath,
      [join(ROOT, 'packages/cli/shieldx.mjs'), 'ledger', 'verify', ledgerPath],
      {
        cwd: ROOT,
        encoding: 'utf8',
      },
    );
    expect(verify.status, verify.stdout + verify.stderr).toBe(0);
    const signIns = (await audit('admin.session')).filter((e) => e.data.event === 'sign_in');
    expect(signIns.map((e) => (e.data.user as { email: string }).email)).toContain('otto@e2e.example');
  });

  it("hides a viewer's edit controls, and refuses and audits the edit when the viewer calls the relay anyway", async () => {
    const page = await signedIn(VIEWER);
    await page.locator('main').getByTestId('pool-api').waitFor();
    expect(await page.getByRole('button', { name: 'New pool' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Edit api' }).count()).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, 'identity-viewer-pools.png') });
    const answer = await page.evaluate(async () => {
      const response = await fetch('/api/admin/pools/viewer-made', {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ urls: ['http://127.0.0.1:9'] }),
      });
      return { status: response.status, body: (await response.json()) as { error: string } };
    });
    expect(answer).toMatchObject({ status: 403, body: { error: 'admin_role_refused' } });
    // The same with curl and the viewer's cookie.
    const cookie = (await sessionCookie(page))!;
    const curl = await fetch(`${uiUrl}/api/admin/pools/viewer-made`, {
      method: 'DELETE',
      headers: { cookie: `${cookie.name}=${cookie.value}`, origin: uiUrl },
    });
    expect(curl.status).toBe(403);
    await expect
      .poll(async () => (await audit('admin.session')).filter((e) => e.data.event === 'action_refused').length)
      .toBe(2);
    const refused = (await audit('admin.session')).find((e) => e.data.event === 'action_refused') as Entry;
    expect(refused.data).toMatchObject({
      path: '/admin/pools/viewer-made',
      user: { sub: 'e2e-viewer', role: 'viewer' },
    });
    const pools = await page.evaluate(() =>
      fetch('/api/admin/pools').then((r) => r.json() as Promise<{ pools: { name: string }[] }>),
    );
    expect(pools.pools.map((p) => p.name)).not.toContain('viewer-made');
    // The export for auditors is an admin's.
    await page.goto(`${uiUrl}/audit`);
    await page.locator('main').getByRole('heading', { level: 1 }).waitFor();
    expect(await page.getByRole('form', { name: 'Export for auditors' }).count()).toBe(0);
  });

  it('reads the role from a space-separated groups claim, and refuses a person without a mapped role', async () => {
    const admin = await signedIn(ADMIN, '/audit');
    expect(await admin.getByTestId('account-role').textContent()).toBe('admin');
    await admin.getByRole('form', { name: 'Export for auditors' }).waitFor();

    const page = await newPage();
    await page.goto(`${uiUrl}/`);
    await page.waitForURL((url) => url.href.startsWith(`${issuer}/interaction/`));
    await login(page, NOBODY);
    await page.waitForURL(`${uiUrl}/auth/error?reason=no_role`);
    expect(await page.getByTestId('sign-in-error').textContent()).toContain('none of the groups');
    await page.screenshot({ path: join(ARTIFACTS, 'identity-no-role.png') });
    expect(await sessionCookie(page)).toBeUndefined();
    // Signed in at the provider but not here: every page sends them through sign-in, which refuses them again.
    await page.goto(`${uiUrl}/pools`);
    await page.waitForURL(`${uiUrl}/auth/error?reason=no_role`);
    expect(await sessionCookie(page)).toBeUndefined();
    await expect
      .poll(async () => (await audit('admin.session')).find((e) => e.data.event === 'sign_in_refused')?.data)
      .toMatchObject({ reason: 'no_role', actor: 'token', claimed: { sub: 'e2e-nobody', email: 'nemo@e2e.example' } });
  });

  it('sends an expired, idle, tampered or foreign session back to sign-in', async () => {
    const now = Date.now();
    const user = { sub: 'e2e-operator', role: 'operator' as const, idp: issuer, name: 'Otto Operator' };
    const seal = (session: Session, over: Partial<OidcSettings> = {}) => sealSession(session, { ...settings, ...over });
    const valid = await seal({ user, created: now - 60_000, seen: now - 1000 });
    const foreignKey = new Uint8Array(32).fill(7);
    const cases: Record<string, string> = {
      'idle for longer than 30 minutes': await seal({ user, created: now - 40 * 60_000, seen: now - 31 * 60_000 }),
      'older than 8 hours': await seal({ user, created: now - 9 * 3_600_000, seen: now - 1000 }),
      'sealed with another secret, as an admin': await seal(
        { user: { ...user, role: 'admin' }, created: now, seen: now },
        { sessionKey: foreignKey },
      ),
      'edited ciphertext': valid.slice(0, -8) + (valid.endsWith('AAAAAAAA') ? 'BBBBBBBB' : 'AAAAAAAA'),
      'not a session at all': 'eyJhbGciOiJub25lIn0.eyJyb2xlIjoiYWRtaW4ifQ.',
    };
    for (const [name, value] of Object.entries(cases)) {
      const page = await newPage();
      await page.context().addCookies([{ name: sessionCookieName(settings), value, url: uiUrl }]);
      await page.goto(`${uiUrl}/pools`);
      await page.waitForURL((url) => url.href.startsWith(`${issuer}/interaction/`), { timeout: 10_000 });
      expect(page.url(), name).toContain('/interaction/');
      const status = await page
        .evaluate((ui) => fetch(`${ui}/api/admin/pools`).then((r) => r.status), uiUrl)
        .catch(() => 0);
      expect([0, 401], name).toContain(status);
    }
    // The one made the same way but still valid is let in: the refusals above are the expiry and the tampering.
    const page = await newPage();
    await page.context().addCookies([{ name: sessionCookieName(settings), value: valid, url: uiUrl }]);
    await page.goto(`${uiUrl}/pools`);
    await expect.poll(() => page.getByTestId('account-name').textContent()).toBe('Otto Operator');
  });

  it('refuses writes and sign-out from another site, and keeps return URLs inside the UI', async () => {
    const page = await signedIn(OPERATOR, '/');
    await page.goto(evilUrl);
    await page.evaluate((ui) => (window as unknown as { attack(ui: string): Promise<unknown> }).attack(ui), uiUrl);
    const cookie = (await sessionCookie(page))!;
    const jar = `${cookie.name}=${cookie.value}`;
    const crossSite = await fetch(`${uiUrl}/api/admin/pools/evil`, {
      method: 'PUT',
      headers: { cookie: jar, origin: evilUrl, 'content-type': 'application/json' },
      body: JSON.stringify({ urls: ['http://127.0.0.1:9'] }),
    });
    expect(crossSite.status).toBe(403);
    const logout = await fetch(`${uiUrl}/auth/logout`, {
      method: 'POST',
      headers: { cookie: jar, origin: evilUrl },
      redirect: 'manual',
    });
    expect(logout.status).toBe(403);
    const pools = await fetch(`${uiUrl}/api/admin/pools`, { headers: { cookie: jar } });
    expect(((await pools.json()) as { pools: { name: string }[] }).pools.map((p) => p.name)).not.toContain('evil');

    // Signed in at the provider already: each sign-in comes straight back, to the UI's home for every bad target.
    for (const target of [
      '//evil.example',
      '/\\evil.example',
      'https:evil.example',
      '/%2F%2Fevil.example',
      `${evilUrl}/x`,
      '/auth/logout',
    ]) {
      await page.goto(`${uiUrl}/auth/login?returnTo=${encodeURIComponent(target)}`);
      await page.waitForURL((url) => url.origin === uiUrl && !url.pathname.startsWith('/auth/'));
      expect(new URL(page.url()).pathname, target).toBe('/');
    }
    await page.goto(`${uiUrl}/auth/login?returnTo=${encodeURIComponent('/breakers?x=1')}`);
    await page.waitForURL(`${uiUrl}/breakers?x=1`);
  });

  it('refuses to be framed, by another origin of the same site too, on every kind of answer', async () => {
    const page = await signedIn(OPERATOR, '/rollouts');
    const cookie = (await sessionCookie(page))!;
    const jar = `${cookie.name}=${cookie.value}`;
    const answers: [string, string, Record<string, string>][] = [
      ['page', '/rollouts', { cookie: jar }],
      ['API route', '/api/admin/pools', { cookie: jar }],
      ['API route without a session', '/api/admin/pools', {}],
      ['page without a session (sent to sign-in)', '/rollouts', {}],
      ['sign-in route', '/auth/login', {}],
      ['signed-out page', '/auth/signed-out', {}],
      ['error page', '/auth/error?reason=no_role', {}],
      ['missing page', '/no-such-page', { cookie: jar }],
    ];
    for (const [name, path, headers] of answers) {
      const response = await fetch(`${uiUrl}${path}`, { headers, redirect: 'manual' });
      await response.body?.cancel();
      expect(response.headers.get('content-security-policy'), name).toBe("frame-ancestors 'none'");
      expect(response.headers.get('x-frame-options'), name).toBe('DENY');
    }
    // In the browser: the signed-in operator's Rollouts page, framed by a page of another port on 127.0.0.1, is
    // refused, so no decoy can sit over its Promote button.
    const refusals: string[] = [];
    page.on('console', (message) => {
      if (message.text().includes('frame-ancestors')) refusals.push(message.text());
    });
    await page.goto(`${evilUrl}/?frame=${encodeURIComponent(`${uiUrl}/rollouts`)}`);
    await expect.poll(() => refusals.length).toBeGreaterThan(0);
    const frame = page.frames().find((f) => f !== page.mainFrame());
    const framedText = await frame?.evaluate(() => document.body?.innerText ?? '').catch(() => '');
    expect(framedText ?? '').not.toContain('Rollouts');
  });

  it('gives each person at most four live event streams, and a place back when one ends', async () => {
    // The pages of the tests before hold streams of the same people: close them.
    for (const context of contexts.splice(0)) await context.close();
    const page = await signedIn(VIEWER, '/breakers');
    const cookie = (await sessionCookie(page))!;
    // The page's own stream ends when it leaves.
    await page.goto('about:blank');
    const open = async () => {
      const controller = new AbortController();
      const response = await fetch(`${uiUrl}/api/events`, {
        headers: { cookie: `${cookie.name}=${cookie.value}`, accept: 'text/event-stream' },
        signal: controller.signal,
      });
      return { response, controller };
    };
    // Four streams at once, once the page's has been given back.
    let held: Awaited<ReturnType<typeof open>>[] = [];
    await expect
      .poll(async () => {
        for (const stream of held) stream.controller.abort();
        held = [];
        for (let i = 0; i < 4; i++) held.push(await open());
        return held.map((stream) => stream.response.status);
      })
      .toEqual([200, 200, 200, 200]);
    const fifth = await open();
    expect(fifth.response.status).toBe(429);
    expect(await fifth.response.json()).toMatchObject({ error: 'too_many_streams' });
    // Another person is not held up.
    const other = await signedIn(OPERATOR, '/breakers');
    await expect.poll(() => other.locator('header').getByTestId('live-state').textContent()).toBe('Live');
    // A stream that ends gives its place back.
    held[0].controller.abort();
    await expect
      .poll(async () => {
        const again = await open();
        again.controller.abort();
        return again.response.status;
      })
      .toBe(200);
    for (const stream of held) stream.controller.abort();
  });

  it("spends a sign-in once: a replayed callback is refused; sign-out ends the person's sessions and is audited", async () => {
    // The same person signed in from another browser before the sign-out (its page closed, so its event stream does
    // not count against the person's four below).
    const other = await signedIn(VIEWER, '/pools');
    const otherCookie = (await sessionCookie(other))!;
    const elsewhere = `${otherCookie.name}=${otherCookie.value}`;
    await other.close();
    expect((await fetch(`${uiUrl}/api/admin/pools`, { headers: { cookie: elsewhere } })).status).toBe(200);
    const page = await newPage();
    let callback: string | undefined;
    page.on('request', (request) => {
      if (request.url().startsWith(`${uiUrl}/auth/callback?`)) callback = request.url();
    });
    await page.goto(`${uiUrl}/breakers`);
    await page.waitForURL((url) => url.href.startsWith(`${issuer}/interaction/`));
    await login(page, VIEWER);
    await page.waitForURL(`${uiUrl}/breakers`);
    expect(callback).toBeDefined();
    await page.goto(callback as string);
    await page.waitForURL(`${uiUrl}/auth/error?reason=no_sign_in`);

    await page.goto(`${uiUrl}/breakers`);
    // A copy of the session cookie (another browser, a script), with an event stream open.
    const cookie = (await sessionCookie(page))!;
    const copy = `${cookie.name}=${cookie.value}`;
    expect((await fetch(`${uiUrl}/api/admin/pools`, { headers: { cookie: copy } })).status).toBe(200);
    const stream = await fetch(`${uiUrl}/api/events`, { headers: { cookie: copy, accept: 'text/event-stream' } });
    expect(stream.status).toBe(200);
    const streamEnded = Promise.race([
      stream.text().then(
        () => true,
        () => true,
      ),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), 10_000)),
    ]);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${uiUrl}/auth/signed-out`);
    expect(await sessionCookie(page)).toBeUndefined();
    const status = await page.evaluate(() => fetch('/api/admin/pools').then((r) => r.status));
    expect(status).toBe(401);
    // Sign-out ended the session itself: the copy no longer works, not even to renew itself, and its stream ended.
    expect(await streamEnded).toBe(true);
    const copied = await fetch(`${uiUrl}/api/admin/pools`, { headers: { cookie: copy } });
    expect(copied.status).toBe(401);
    expect(copied.headers.get('set-cookie')).toMatch(new RegExp(`^${cookie.name}=;`));
    const copiedPage = await fetch(`${uiUrl}/breakers`, { headers: { cookie: copy }, redirect: 'manual' });
    expect(copiedPage.status).toBe(303);
    expect(copiedPage.headers.get('location')).toContain('/auth/login?returnTo=');
    // Sign-out ends every session of the person here: the other browser is signed out too.
    expect((await fetch(`${uiUrl}/api/admin/pools`, { headers: { cookie: elsewhere } })).status).toBe(401);
    // Signing in again (at once: the provider's session is still there) gives a session that works; the copy stays out.
    await page.goto(`${uiUrl}/breakers`);
    await page.waitForURL(`${uiUrl}/breakers`);
    await expect.poll(() => page.getByTestId('account-name').textContent()).toBe(VIEWER.name);
    expect(await page.evaluate(() => fetch('/api/admin/pools').then((r) => r.status))).toBe(200);
    expect((await fetch(`${uiUrl}/api/admin/pools`, { headers: { cookie: copy } })).status).toBe(401);
    await expect
      .poll(async () => (await audit('admin.session')).find((e) => e.data.event === 'sign_out')?.data.user)
      .toMatchObject({ sub: 'e2e-viewer', email: 'vera@e2e.example' });
  });
});
