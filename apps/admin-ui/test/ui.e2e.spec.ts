import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AxeResults, RunOptions } from 'axe-core';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS, buildOrchestrator, CHROMIUM, freePort, ROOT, startProcess, stopProcess } from './processes';

/**
 * The admin UI in a real Chromium against a real orchestrator: the orchestrator is built from source and run as a
 * child process in insecure dev mode with its demo backends and an admin token; the UI runs as `shieldx ui` would
 * run it (standalone production server, built when stale) and talks to the orchestrator only over HTTP. Pool `api`
 * is served by two demo-style backends this test owns, so it can kill one.
 */

/** axe-core's browser build, injected into each page (never downloaded). */
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
/** What the test calls of axe-core once its source is in the page. */
interface Axe {
  run(context: Document, options: RunOptions): Promise<AxeResults>;
}
/** The rule sets of WCAG 2.1 level AA. */
const WCAG_AA = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
/** Text of `signAdmission` (@shieldx/security) that minifying keeps: where it is, the lib's signing code is. */
const SIGNING_MARKER = 'signAdmission: the nonce must match';
const TOKEN = 'ui-e2e-admin-token-0123456789abcdef';
const TENANT = 'ui-e2e-tenant';
/** A tenant the active policy allows and the candidate policy (ORCH_SHADOW_POLICY_PATH) denies. */
const CANDIDATE_DENIED = 'ui-e2e-closed';
const LAPTOP = { width: 1366, height: 900 };
const TABLET = { width: 820, height: 1180 };

/**
 * A loopback backend like the built-in demo ones (`/healthz` at once, anything else after a few ms), in a process of
 * its own so that killing it is what killing a demo backend is, and a busy test process never slows its answers.
 */
const BACKEND_SOURCE = `
const { createServer } = require('node:http');
const server = createServer((req, res) => {
  if (req.url.startsWith('/healthz')) return res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
  req.resume();
  setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"backend":"' + process.argv[1] + '"}'), 3);
});
server.listen(0, '127.0.0.1', () => console.log('port ' + server.address().port));
`;

async function demoBackend(name: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['-e', BACKEND_SOURCE, name], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let text = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const match = /port (\d+)/.exec(text);
      if (match !== null) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`backend ${name} exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, child };
}

/**
 * A `redis-server` on a free loopback port without persistence, so the orchestrator runs as one instance of a cluster
 * (shared rate limits, pool sync, the shared audit stream the UI shows).
 */
async function startRedisServer(): Promise<{ addr: string; child: ChildProcess }> {
  const port = await freePort();
  const { child } = await startProcess(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {},
    /Ready to accept connections/,
    15_000,
  );
  return { addr: `127.0.0.1:${port}`, child };
}

async function orchestratorCall(base: string, method: string, path: string, body?: unknown) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as Record<string, unknown>,
  };
}

/** A raw request to the UI with headers `fetch` may not set (Host). */
function rawRequest(url: string, method: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('admin UI in Chromium against a running orchestrator', () => {
  let work: string;
  let orchestrator: { child: ChildProcess; output: () => string } | undefined;
  let ui: { child: ChildProcess; output: () => string } | undefined;
  let redis: { addr: string; child: ChildProcess } | undefined;
  let orchUrl: string;
  let uiUrl: string;
  let browser: Browser;
  let page: Page;
  const backends: { url: string; child: ChildProcess }[] = [];
  // A threat-score service: every client gets 42, with a reason.
  const threatService = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ score: 42, reasons: ['ui-e2e'] }));
  });
  // Scoped to <main>: while a page streams in, React may hold a hidden copy of its content elsewhere in the body.
  const main = () => page.locator('main');
  const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium (.ci/run does)`);
    }
    mkdirSync(ARTIFACTS, { recursive: true });
    work = mkdtempSync(join(tmpdir(), 'shieldx-ui-e2e-'));

    const entry = buildOrchestrator('orchestrator-build');

    backends.push(await demoBackend('api-a'), await demoBackend('api-b'));
    await new Promise<void>((resolve) => threatService.listen(0, '127.0.0.1', resolve));
    const threatUrl = `http://127.0.0.1:${(threatService.address() as AddressInfo).port}/score`;
    redis = await startRedisServer();
    // The candidate policy: the default base rules, and tenant CANDIDATE_DENIED closed first.
    const rules = JSON.parse(readFileSync(join(ROOT, 'policies/shieldx/rules/data.json'), 'utf8')) as {
      advanced: unknown[];
    };
    rules.advanced.unshift({ tenant: CANDIDATE_DENIED, scopes: ['*'], action: 'deny', reason: 'candidate closes it' });
    writeFileSync(join(work, 'candidate.json'), JSON.stringify(rules));
    const orchPort = await freePort();
    orchUrl = `http://127.0.0.1:${orchPort}`;
    orchestrator = await startProcess(
      process.execPath,
      [entry],
      {
        ORCH_ALLOW_INSECURE: '1',
        ORCH_PORT: String(orchPort),
        ORCH_DEMO: '1',
        ORCH_POOL_API: backends.map((b) => b.url).join(','),
        ORCH_ADMIN_TOKEN: TOKEN,
        REDIS_ADDR: redis.addr,
        ORCH_THREAT_URL: threatUrl,
        ORCH_ADAPTIVE: 'shadow',
        ORCH_MIRROR_SEARCH: 'static:100',
        ORCH_THREAT_TIMEOUT: '1s',
        // The compiled default policy in shadow mode, as in npm start: its decision cache has figures to show.
        ORCH_OPA_POLICY_PATH: join(ROOT, 'policies/build/policy.tar.gz'),
        ORCH_SHADOW_POLICY_PATH: join(work, 'candidate.json'),
        // Rate limits are not under test here: the test sends a few hundred requests from one address.
        ORCH_IP_BURST: '100000',
        ORCH_IP_BURST_DEGRADED: '100000',
        ORCH_HEALTH_EVERY: '400ms',
        ORCH_HEALTH_TIMEOUT: '300ms',
        ORCH_CB_FAILS: '2',
        ORCH_CB_OPEN_FOR: '60s',
        ORCH_LEDGER_PATH: join(work, 'ledger/orchestrator.jsonl'),
        ORCH_LOG_LEVEL: 'warn',
      },
      new URL(`${orchUrl}/readyz`),
      30_000,
    );

    const uiPort = await freePort();
    uiUrl = `http://127.0.0.1:${uiPort}`;
    ui = await startProcess(
      process.execPath,
      [join(ROOT, 'packages/cli/shieldx.mjs'), 'ui'],
      {
        ADMIN_UI_PORT: String(uiPort),
        ADMIN_UI_HOST: '127.0.0.1',
        ORCH_ADMIN_URL: orchUrl,
        ORCH_ADMIN_TOKEN: TOKEN,
        NEXT_TELEMETRY_DISABLED: '1',
      },
      /shieldx ui: admin UI on http:\/\/127\.0\.0\.1:\d+/,
      170_000,
    );

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage({ viewport: LAPTOP, colorScheme: 'light' });
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await stopProcess(ui?.child);
    await stopProcess(orchestrator?.child);
    await Promise.all(backends.map((b) => stopProcess(b.child)));
    await stopProcess(redis?.child);
    threatService.closeAllConnections();
    await new Promise((resolve) => threatService.close(resolve));
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it('shows live traffic charts on the overview', async () => {
    await page.goto(uiUrl);
    await expect.poll(() => page.locator('header').getByTestId('live-state').textContent()).toBe('Live');
    // About five seconds of traffic, a few requests denied, so every chart has a line to draw.
    const route = (path: string) =>
      fetch(`${orchUrl}/route`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ service: 'api', tenant: 'acme', scope: 'read', path }),
      });
    const traffic = (async () => {
      for (let i = 0; i < 250; i++) {
        await route(i % 25 === 0 ? '/internal/x' : `/v1/items/${i % 8}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    // The stat tiles and charts follow the metrics event every second, without a reload.
    await expect
      .poll(async () => Number(await main().getByTestId('stat-Requests/s').textContent()), { timeout: 5000 })
      .toBeGreaterThan(0);
    await expect.poll(() => main().getByTestId('stat-p99 latency').textContent()).toMatch(/ms$/);
    expect(await page.locator('.chart canvas').count()).toBeGreaterThanOrEqual(4);
    await expect
      .poll(async () => Number(await main().getByTestId('stat-Denials/s').textContent()), { timeout: 5000 })
      .toBeGreaterThan(0);
    await traffic;
    await expect.poll(() => main().getByTestId('stat-Cache hit rate').textContent()).toMatch(/^\d+ %$/);
    await expect.poll(() => main().getByTestId('stat-Healthy backends').textContent()).toBe('100 %');
    await shot('overview');
  });

  it('lists every pool with health, breaker, EWMA latency, in-flight count and weight', async () => {
    await page.goto(`${uiUrl}/pools`);
    for (const pool of ['api', 'search', 'static']) await main().getByTestId(`pool-${pool}`).waitFor();
    const api = main().getByTestId('pool-api');
    for (const backend of backends) await expect.poll(() => api.textContent()).toContain(backend.url);
    expect(await api.locator('tbody tr').count()).toBe(2);
    expect(await api.locator('tbody tr').first().locator('td').allTextContents()).toEqual([
      backends[0].url,
      'healthy',
      'closed',
      expect.stringMatching(/^\d+\.\d\d ms$/),
      expect.stringMatching(/^\d+$/),
      '1',
      '—',
      '—',
      '—',
    ]);
    await shot('pools');
  });

  it('edits a pool with validation, and the change round-trips through the orchestrator', async () => {
    const card = main().getByTestId('pool-search');
    await card.getByRole('button', { name: 'Edit search' }).click();
    const textarea = card.getByRole('textbox');
    const original = await textarea.inputValue();
    const urls = original.split('\n');
    expect(urls).toHaveLength(2);

    // Checked in the browser first: nothing is sent.
    await textarea.fill(`${original}\nftp://127.0.0.1:21`);
    await card.getByRole('button', { name: 'Save search' }).click();
    await expect.poll(() => card.getByRole('alert').textContent()).toContain('must use http or https');
    // Refused by the orchestrator (SSRF guard), its message shown.
    await textarea.fill(`${original}\nhttp://169.254.169.254`);
    await card.getByRole('button', { name: 'Save search' }).click();
    await expect.poll(() => card.getByRole('alert').textContent()).toContain('cloud instance-metadata endpoint');

    await textarea.fill(`${urls[0]} 3\n${urls[1]}`);
    await card.getByRole('combobox').selectOption('p2c');
    await card.getByRole('button', { name: 'Save search' }).click();
    await expect.poll(() => page.locator('.notice-ok').textContent()).toBe('Saved pool search (2 backends).');
    await expect.poll(() => card.locator('h2').textContent()).toContain('p2c');
    await expect.poll(() => card.locator('tbody tr').first().locator('td').nth(5).textContent()).toBe('3');

    const seen = await orchestratorCall(orchUrl, 'GET', '/admin/pools');
    const search = (
      seen.body['pools'] as { name: string; algo: string; backends: { url: string; weight: number }[] }[]
    ).find((p) => p.name === 'search')!;
    expect(search.algo).toBe('p2c');
    expect(search.backends.map((b) => [b.url, b.weight])).toEqual([
      [urls[0], 3],
      [urls[1], 1],
    ]);
  });

  it('edits zone, region and cost of a backend, and they round-trip through the orchestrator', async () => {
    const card = main().getByTestId('pool-search');
    await card.getByRole('button', { name: 'Edit search' }).click();
    const textarea = card.getByRole('textbox');
    const urls = (await textarea.inputValue()).split('\n').map((line) => line.split(' ')[0]);
    await textarea.fill(`${urls[0]} 3 zone=eu-1a region=eu-1 cost=0.4\n${urls[1]} zone=EU`);
    await card.getByRole('button', { name: 'Save search' }).click();
    await expect.poll(() => card.getByRole('alert').textContent()).toContain('line 2: the zone must be');
    await textarea.fill(`${urls[0]} 3 zone=eu-1a region=eu-1 cost=0.4\n${urls[1]} region=us-1`);
    await card.getByRole('button', { name: 'Save search' }).click();
    await expect.poll(() => page.locator('.notice-ok').textContent()).toBe('Saved pool search (2 backends).');
    const cells = (row: number) => card.locator('tbody tr').nth(row).locator('td');
    await expect.poll(() => cells(0).nth(6).textContent()).toBe('eu-1a / eu-1');
    expect(await cells(0).nth(7).textContent()).toBe('0.4');
    expect(await cells(1).nth(6).textContent()).toBe('— / us-1');
    expect(await cells(1).nth(7).textContent()).toBe('—');

    const seen = await orchestratorCall(orchUrl, 'GET', '/admin/pools');
    const search = (seen.body['pools'] as { name: string; backends: Record<string, unknown>[] }[]).find(
      (p) => p.name === 'search',
    )!;
    expect(search.backends[0]).toMatchObject({ url: urls[0], weight: 3, zone: 'eu-1a', region: 'eu-1', cost: 0.4 });
    expect(search.backends[1]).toMatchObject({ url: urls[1], weight: 1, region: 'us-1' });
    expect(search.backends[1]).not.toHaveProperty('zone');
    // The editor opens with what the orchestrator holds, in its own format.
    await card.getByRole('button', { name: 'Edit search' }).click();
    expect(await card.getByRole('textbox').inputValue()).toBe(
      `${urls[0]} 3 zone=eu-1a region=eu-1 cost=0.4\n${urls[1]} region=us-1`,
    );
    await card.getByRole('button', { name: 'Cancel', exact: true }).first().click();
  });

  it('shows a killed backend’s breaker opening on the Breakers page without a reload', async () => {
    await page.goto(`${uiUrl}/breakers`);
    const row = main().getByTestId('breakers-table').locator('tr', { hasText: backends[1].url });
    await expect.poll(() => row.getAttribute('data-state')).toBe('closed');
    await shot('breakers-before');
    const navigations: string[] = [];
    page.on('framenavigated', (frame) => navigations.push(frame.url()));

    await stopProcess(backends[1].child);
    await expect.poll(() => row.getAttribute('data-state'), { timeout: 10_000 }).toBe('open');
    await expect.poll(() => row.locator('td').nth(3).textContent()).toMatch(/^in \d/);
    const transitions = main().getByTestId('transitions-table');
    await expect.poll(() => transitions.locator('tbody tr').first().textContent()).toContain(backends[1].url);
    expect(navigations).toEqual([]);
    await shot('breakers');
  });

  it('shows the threat score of a client that just called on the Protection page', async () => {
    const answer = await fetch(`${orchUrl}/route`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ service: 'api', tenant: TENANT, scope: 'read', path: '/v1/items' }),
    });
    expect(answer.status).toBe(200);
    await page.goto(`${uiUrl}/protection`);
    const row = main().getByTestId('threat-table').locator('tbody tr', { hasText: '127.0.0.0' });
    await expect.poll(() => row.textContent()).toContain('42');
    expect(await row.textContent()).toContain('ui-e2e');
    expect(await main().getByTestId('threat-summary').textContent()).toContain('closed');
    expect(await main().textContent()).toContain('No client IP or tenant is tightened now (mode shadow)');
    await shot('protection');
  });

  it('shows how the copies of a mirrored pool compared on the Mirroring page', async () => {
    for (let i = 0; i < 3; i++) {
      const answer = await fetch(`${orchUrl}/proxy/search/q/${i}`, {
        headers: { 'x-tenant': TENANT, 'x-scope': 'read' },
      });
      expect(answer.status).toBe(200);
      await answer.arrayBuffer();
    }
    await page.goto(`${uiUrl}/mirror`);
    const card = main().getByTestId('mirror-search');
    await expect.poll(() => card.locator('h2').textContent()).toContain('static');
    await expect.poll(() => card.getByTestId('mirror-summary').textContent()).toMatch(/^[1-9]\d* compared/);
    await shot('mirror');
  });

  it('shows a rollout live and pauses and aborts it with the buttons', async () => {
    const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
    const pools = (await (await fetch(`${orchUrl}/admin/pools`, { headers: auth })).json()) as {
      pools: { name: string; backends: { url: string }[] }[];
    };
    const [stable, canary] = pools.pools.find((pool) => pool.name === 'static')!.backends.map((b) => b.url);
    const started = await fetch(`${orchUrl}/admin/rollouts/static`, {
      method: 'PUT',
      headers: auth,
      body: JSON.stringify({
        stable: [stable],
        canary: [canary],
        steps: [50, 100],
        interval: '1h',
        maxErrorRate: 0.5,
        maxP99Ratio: 10,
        minRequests: 1000,
      }),
    });
    expect(started.status).toBe(200);
    await page.goto(`${uiUrl}/rollouts`);
    const card = main().getByTestId('rollout-static');
    await expect.poll(() => card.getAttribute('data-state')).toBe('running');
    expect(await card.locator('h2').textContent()).toContain('canary at 50');
    await card.getByRole('button', { name: 'Pause' }).click();
    await expect.poll(() => card.getAttribute('data-state')).toBe('paused');
    await shot('rollouts');
    await card.getByRole('button', { name: 'Abort' }).click();
    await expect.poll(() => card.getAttribute('data-state')).toBe('aborted');
    expect(await card.getByTestId('rollout-history').textContent()).toContain('paused');
  });

  it('shows the policy and reloads it with the button', async () => {
    await page.goto(`${uiUrl}/policy`);
    const version = Number(await main().getByTestId('policy-version').textContent());
    await page.getByRole('button', { name: 'Reload policy' }).click();
    await expect
      .poll(() => main().getByTestId('reload-outcome').textContent())
      .toBe(`Reloaded: now version ${version + 1}.`);
    await expect.poll(() => main().getByTestId('policy-version').textContent()).toBe(String(version + 1));
    await shot('policy');
  });

  it('shows the rules, the candidate-vs-active matrix, and answers the what-if form', async () => {
    const routed = await fetch(`${orchUrl}/route`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ service: 'api', tenant: CANDIDATE_DENIED, scope: 'read', path: '/v1/items' }),
    });
    expect(routed.status, 'the candidate decides nothing').toBe(200);
    await page.goto(`${uiUrl}/policy`);
    const rules = main().getByTestId('active-rules-table');
    expect(await rules.locator('tbody tr').first().textContent()).toContain('/internal/');
    expect(await main().getByTestId('candidate-rules-table').locator('tbody tr').first().textContent()).toContain(
      CANDIDATE_DENIED,
    );
    const divergent = main().getByTestId('shadow-matrix').locator('tr[data-active="allow"] td[data-shadow="deny"]');
    await expect.poll(() => divergent.textContent()).not.toBe('0');
    await expect.poll(() => main().getByTestId('shadow-samples').textContent()).toContain(CANDIDATE_DENIED);

    await main().getByTestId('whatif-tenant').fill(CANDIDATE_DENIED);
    await main().getByTestId('whatif-path').fill('/v1/orders');
    await main().getByRole('button', { name: 'Evaluate' }).click();
    await expect.poll(() => main().getByTestId('whatif-candidate').textContent()).toContain('deny');
    expect(await main().getByTestId('whatif-active').textContent()).toContain('allow');
    expect(await main().getByTestId('whatif-candidate').textContent()).toContain('candidate closes it');

    await main().getByTestId('whatif-threat').fill('101');
    await main().getByRole('button', { name: 'Evaluate' }).click();
    await expect.poll(() => main().getByTestId('whatif-error').textContent()).toContain('threatScore');
    await shot('policy-candidate');
  });

  it('shows a denial caused by the test in the audit table, filtered by tenant, with the chain verified', async () => {
    const denied = await fetch(`${orchUrl}/route`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ service: 'api', tenant: TENANT, scope: 'read', path: '/internal/secrets' }),
    });
    expect(denied.status).toBe(403);
    const corrId = denied.headers.get('x-correlation-id')!;

    await page.goto(`${uiUrl}/audit`);
    await expect
      .poll(() => main().getByTestId('chain-status').textContent())
      .toMatch(/^Chain intact: \d+ entries verified/);
    // While Next streams the page, its final markup can sit in a hidden node beside the shell: wait for one form.
    await expect.poll(() => page.getByLabel('Tenant').count()).toBe(1);
    await main().getByLabel('Tenant').fill(TENANT);
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/\/audit\?tenant=ui-e2e-tenant$/);
    const row = main().getByTestId('audit-table').locator('tbody tr').first();
    await expect.poll(() => row.getAttribute('data-type'), { timeout: 5000 }).toBe('policy.deny');
    expect(await row.locator('td').nth(3).textContent()).toBe(TENANT);
    expect(await row.locator('td').nth(4).textContent()).toBe(corrId);
    await shot('audit');

    // Filtering by the correlation id finds exactly that entry.
    await page.goto(`${uiUrl}/audit?corrId=${encodeURIComponent(corrId)}`);
    await expect.poll(() => main().getByTestId('audit-table').locator('tbody tr').count()).toBe(1);
  });

  it('downloads a range of the ledger for auditors from the Audit page', async () => {
    await page.goto(`${uiUrl}/audit`);
    const form = main().getByRole('form', { name: 'Export for auditors' });
    await form.getByLabel('From seq').fill('1');
    await form.getByLabel('To seq').fill('3');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      form.getByRole('button', { name: 'Download export' }).click(),
    ]);
    const path = await download.path();
    const [header, ...entries] = readFileSync(path, 'utf8').trim().split('\n');
    expect(JSON.parse(header)).toMatchObject({ shieldxLedgerExport: 1, fromSeq: 1 });
    expect(entries.length).toBeGreaterThanOrEqual(3);
    await expect.poll(() => form.getByTestId('export-status').textContent()).toMatch(/^Downloaded /);
  });

  it('shows the shared audit stream of every instance, each entry with its instance', async () => {
    const cluster = await orchestratorCall(orchUrl, 'GET', '/admin/cluster');
    expect(cluster.status).toBe(200);
    const instance = cluster.body.instanceId as string;
    const denied = await fetch(`${orchUrl}/route`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ service: 'api', tenant: `${TENANT}-cluster`, scope: 'read', path: '/internal/keys' }),
    });
    expect(denied.status).toBe(403);
    const corrId = denied.headers.get('x-correlation-id')!;

    await page.goto(`${uiUrl}/audit`);
    await page.getByRole('link', { name: 'All instances' }).click();
    await page.waitForURL(/\/audit\/cluster$/);
    // The entry reaches the stream shortly after the ledger; the page follows new entries.
    const row = main().getByTestId('cluster-audit-table').locator('tbody tr', { hasText: corrId });
    await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(1);
    expect(await row.getAttribute('data-type')).toBe('policy.deny');
    expect(await row.getAttribute('data-instance')).toBe(instance);
    expect(await row.locator('td').nth(1).textContent()).toBe(`${instance}this instance`);
    expect(await row.locator('td').nth(4).textContent()).toBe(`${TENANT}-cluster`);
    await shot('audit-cluster');
  });

  it('works at tablet width and in dark mode, and by keyboard alone', async () => {
    await page.setViewportSize(TABLET);
    for (const path of ['/', '/pools', '/breakers', '/audit']) {
      await page.goto(`${uiUrl}${path}`);
      await page.locator('main h1').waitFor();
      const overflow = await page.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      );
      expect({ path, overflow }).toEqual({ path, overflow: 0 });
    }
    await page.goto(`${uiUrl}/pools`);
    await main().getByTestId('pool-api').waitFor();
    await shot('pools-tablet');

    await page.setViewportSize(LAPTOP);
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.goto(uiUrl);
    await expect.poll(() => page.locator('header').getByTestId('live-state').textContent()).toBe('Live');
    await expect.poll(() => main().locator('.chart canvas').count()).toBeGreaterThanOrEqual(4);
    await shot('overview-dark');
    await page.emulateMedia({ colorScheme: 'light' });

    // Skip link first, then the navigation; Enter follows a link.
    await page.goto(uiUrl);
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    const order: string[] = [];
    for (let i = 0; i < 8; i++) {
      await page.keyboard.press('Tab');
      order.push((await page.evaluate(() => document.activeElement?.textContent)) ?? '');
    }
    expect(order).toEqual(['Overview', 'Pools', 'Breakers', 'Protection', 'Mirroring', 'Rollouts', 'Policy', 'Audit']);
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/policy$/);
    expect(await page.locator('nav a[aria-current="page"]').textContent()).toBe('Policy');
  });

  it('has no serious or critical WCAG 2.1 AA violation on any page, light or dark (axe-core)', async () => {
    // Every page with its real content in place (the earlier tests left pools, an open breaker and audit entries),
    // plus the states that bring colours of their own: a pool editor refusing its input, a reload's outcome.
    const states: { name: string; path: string; ready: () => Promise<void> }[] = [
      {
        name: 'overview',
        path: '/',
        ready: async () => {
          await expect.poll(() => main().getByTestId('stat-Requests/s').textContent()).toMatch(/^\d/);
          await expect.poll(() => main().locator('.chart canvas').count()).toBeGreaterThanOrEqual(4);
        },
      },
      {
        name: 'pools',
        path: '/pools',
        ready: async () => {
          const api = main().getByTestId('pool-api');
          await expect.poll(() => api.locator('tbody tr').count()).toBe(2);
          // The killed backend unhealthy (its breaker open, or half-open on a trial), the other healthy.
          await expect.poll(() => api.locator('.badge-bad').count()).toBe(1);
          await expect.poll(() => api.locator('.badge-ok').count()).toBe(1);
        },
      },
      {
        name: 'pools, an edit refused',
        path: '/pools',
        ready: async () => {
          const card = main().getByTestId('pool-static');
          await card.getByRole('button', { name: 'Edit static' }).click();
          await card.getByRole('textbox').fill('ftp://127.0.0.1:21');
          await card.getByRole('button', { name: 'Save static' }).click();
          await expect.poll(() => card.getByRole('alert').textContent()).toContain('must use http or https');
        },
      },
      {
        name: 'breakers',
        path: '/breakers',
        ready: async () => {
          const row = main().getByTestId('breakers-table').locator('tr', { hasText: backends[1].url });
          await expect.poll(() => row.getAttribute('data-state')).toMatch(/^(open|half_open)$/);
          await expect
            .poll(() => main().getByTestId('transitions-table').locator('tbody tr').count())
            .toBeGreaterThan(0);
        },
      },
      {
        name: 'protection',
        path: '/protection',
        ready: async () => {
          await main().getByTestId('threat-table').waitFor();
        },
      },
      {
        name: 'mirroring',
        path: '/mirror',
        ready: async () => {
          await main().getByTestId('mirror-search').waitFor();
        },
      },
      {
        name: 'rollouts',
        path: '/rollouts',
        ready: async () => {
          await main().getByTestId('rollout-static').waitFor();
        },
      },
      {
        name: 'policy, reloaded',
        path: '/policy',
        ready: async () => {
          await main().getByTestId('policy-version').waitFor();
          await page.getByRole('button', { name: 'Reload policy' }).click();
          await expect.poll(() => main().getByTestId('reload-outcome').textContent()).toMatch(/^Reloaded/);
        },
      },
      {
        name: 'audit',
        path: '/audit',
        ready: async () => {
          await expect.poll(() => main().getByTestId('chain-status').textContent()).toMatch(/^Chain intact/);
          await expect.poll(() => main().getByTestId('audit-table').locator('tbody tr').count()).toBeGreaterThan(0);
        },
      },
      {
        name: 'audit, all instances',
        path: '/audit/cluster',
        ready: async () => {
          const rows = main().getByTestId('cluster-audit-table').locator('tbody tr');
          await expect.poll(() => rows.count()).toBeGreaterThan(0);
          await expect.poll(() => main().locator('.cell-note').count()).toBeGreaterThan(0);
        },
      },
      {
        name: 'not found',
        path: '/no-such-page',
        ready: async () => {
          await expect.poll(() => main().locator('h1').textContent()).toBe('Not found');
        },
      },
    ];
    const found: string[] = [];
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const state of states) {
        await page.goto(`${uiUrl}${state.path}`);
        await page.locator('main h1').waitFor();
        await state.ready();
        await page.addScriptTag({ content: AXE_SOURCE });
        const violations = await page.evaluate(async (tags) => {
          const { axe } = window as unknown as { axe: Axe };
          const result = await axe.run(document, {
            runOnly: { type: 'tag', values: tags },
            resultTypes: ['violations'],
          });
          return result.violations.map((v) => ({
            id: v.id,
            impact: v.impact ?? null,
            targets: v.nodes.map((n) => n.target.join(' ')),
          }));
        }, WCAG_AA);
        for (const v of violations) {
          if (v.impact !== 'serious' && v.impact !== 'critical') continue;
          const more = v.targets.length > 5 ? ` and ${v.targets.length - 5} more` : '';
          found.push(
            `${scheme} ${state.name} (${state.path}): ${v.id} (${v.impact}) at ${v.targets.slice(0, 5).join(', ')}${more}`,
          );
        }
      }
    }
    await page.emulateMedia({ colorScheme: 'light' });
    expect(found, `serious or critical violations:\n${found.join('\n')}`).toEqual([]);
  }, 90_000);

  it('keeps the admission signing of @shieldx/security out of what the browser loads', () => {
    const next = join(ROOT, 'apps/admin-ui/.next');
    const scripts = (dir: string) =>
      readdirSync(dir, { recursive: true, encoding: 'utf8' })
        .filter((file) => file.endsWith('.js'))
        .map((file) => join(dir, file));
    const signs = (file: string) => readFileSync(file, 'utf8').includes(SIGNING_MARKER);
    // Present in the server's chunks, so its absence from the browser's is not a marker gone missing.
    expect(scripts(join(next, 'server')).some(signs)).toBe(true);
    const client = scripts(join(next, 'static'));
    expect(client.length).toBeGreaterThan(0);
    expect(client.filter(signs)).toEqual([]);
  });

  it('never hands the admin token to the browser, and refuses foreign hosts and cross-site writes', async () => {
    for (const path of ['/', '/pools', '/breakers', '/protection', '/mirror', '/rollouts', '/policy', '/audit']) {
      const html = await (await fetch(`${uiUrl}${path}`)).text();
      expect(html).not.toContain(TOKEN);
    }
    const scripts = await page.evaluate(() => [...document.scripts].map((s) => s.src).filter((src) => src !== ''));
    for (const src of scripts) expect(await (await fetch(src)).text()).not.toContain(TOKEN);
    // Nothing is loaded from another origin (no web fonts, no CDNs).
    const origins = await page.evaluate(() =>
      performance.getEntriesByType('resource').map((entry) => new URL(entry.name).origin),
    );
    expect(new Set(origins)).toEqual(new Set([uiUrl]));

    // No answer may be framed (clickjacking): pages, API routes, errors, static files, the proxy's own refusals.
    const answers = [
      ...['/', '/rollouts', '/api/admin/pools', '/no-such-page', '/auth/login'].map((path) => `${uiUrl}${path}`),
      scripts[0],
    ];
    for (const url of answers) {
      const response = await fetch(url, { redirect: 'manual' });
      await response.body?.cancel();
      expect(response.headers.get('content-security-policy'), url).toBe("frame-ancestors 'none'");
      expect(response.headers.get('x-frame-options'), url).toBe('DENY');
    }
    const refused = await fetch(`${uiUrl}/api/admin/policy/reload`, {
      method: 'POST',
      headers: { origin: 'http://evil.example' },
    });
    expect(refused.status).toBe(403);
    expect(refused.headers.get('content-security-policy')).toBe("frame-ancestors 'none'");
    expect(refused.headers.get('x-frame-options')).toBe('DENY');

    expect(await rawRequest(`${uiUrl}/pools`, 'GET', { host: 'rebound.example:3000' })).toBe(421);
    expect(await rawRequest(`${uiUrl}/api/admin/policy/reload`, 'POST', { origin: 'http://evil.example' })).toBe(403);
    expect(
      await rawRequest(`${uiUrl}/api/admin/policy/reload`, 'POST', {
        origin: 'http://evil.example',
        'sec-fetch-site': 'cross-site',
      }),
    ).toBe(403);
  });
});
