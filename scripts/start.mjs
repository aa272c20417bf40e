#!/usr/bin/env node
// `npm start`: build the orchestrator, run it in insecure dev mode with the built-in demo backends and demo threat and
// quota services (scripts/demo-advisors.mjs), run the admin UI beside it, and drive a gentle demo traffic mix
// (scripts/demo-traffic.mjs; ORCH_DEMO_TRAFFIC=0 turns it off). The orchestrator's log lines are shown pretty
// (pino-pretty; START_LOGS=json shows its JSON lines). Ctrl-C stops them all. Settings in the environment pass
// through (e.g. ORCH_PORT, ORCH_LB_ALGO). People sign in to the admin UI at a local OpenID Connect provider
// (scripts/dev-oidc.mjs) as one of two demo users, printed in the banner; START_SIGN_IN=0 keeps the UI in
// loopback-only mode without sign-in.
import { spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { driveTraffic, startFlakyBackends } from './demo-traffic.mjs';
import { DEMO_USERS, startDevOidc } from './dev-oidc.mjs';
import { gatewayEnv } from './gateway-process.mjs';

/** @type {NodeJS.ProcessEnv} */
const env = {
  ...process.env,
  ORCH_ALLOW_INSECURE: process.env.ORCH_ALLOW_INSECURE ?? '1',
  ORCH_DEMO: process.env.ORCH_DEMO ?? '1',
  // The committed compiled default policy, in shadow mode unless ORCH_OPA_ENFORCE=1: no Go needed.
  ORCH_OPA_POLICY_PATH: process.env.ORCH_OPA_POLICY_PATH ?? 'policies/build/policy.tar.gz',
};
const port = env.ORCH_PORT ?? '8080';
const uiPort = env.ADMIN_UI_PORT ?? '3000';
const orchUrl = `http://127.0.0.1:${port}`;
const uiUrl = `http://127.0.0.1:${uiPort}`;

/**
 * Sign-in for the admin UI: a local provider with the demo users, a fresh client secret, session secret and
 * user-assertion key pair per run (the orchestrator trusts the public half). Undefined with START_SIGN_IN=0.
 */
async function devSignIn() {
  if (env.START_SIGN_IN === '0') return undefined;
  const clientId = 'shieldx-admin-ui';
  const clientSecret = randomBytes(24).toString('base64url');
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const provider = await startDevOidc({
    clientId,
    clientSecret,
    redirectUris: [`${uiUrl}/auth/callback`],
    users: DEMO_USERS,
  });
  return {
    provider,
    orchestratorEnv: { ORCH_ADMIN_USER_KEYS: publicKey.export({ format: 'pem', type: 'spki' }).toString() },
    uiEnv: {
      ADMIN_UI_OIDC_ISSUER: provider.issuer,
      ADMIN_UI_OIDC_CLIENT_ID: clientId,
      ADMIN_UI_OIDC_CLIENT_SECRET: clientSecret,
      ADMIN_UI_SESSION_SECRET: randomBytes(32).toString('base64url'),
      ADMIN_UI_PUBLIC_URL: uiUrl,
      ADMIN_UI_USER_KEY: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    },
  };
}

const build = spawnSync('npx', ['nx', 'run', 'orchestrator:build', '--output-style=stream'], { stdio: 'inherit', env });
if (build.status !== 0) process.exit(build.status ?? 1);

const signIn = await devSignIn();

const children = [];
/** Stops the demo traffic and its backends (set once they run). */
let stopDemo = () => Promise.resolve();
let stopping = false;
function stop(code) {
  if (stopping) return;
  stopping = true;
  void stopDemo();
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  setTimeout(() => process.exit(code), 3000).unref();
  void Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : null))).then(() =>
    process.exit(code),
  );
}
/**
 * Starts a child that stops everything when it exits (unless we are stopping).
 * @param {string} name
 * @param {string} command
 * @param {string[]} args
 * @param {NodeJS.ProcessEnv} extraEnv
 * @param {import('node:child_process').StdioOptions} [stdio]
 */
function run(name, command, args, extraEnv, stdio = 'inherit') {
  const child = spawn(command, args, { stdio, env: { ...env, ...extraEnv } });
  child.once('exit', (code, signal) => {
    if (!stopping) {
      process.stderr.write(`shieldx: ${name} exited (${signal ?? code}); stopping\n`);
      stop(code ?? 1);
    }
  });
  children.push(child);
  return child;
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

// The demo advisors first: the orchestrator reads their URLs at start-up (unless the environment names others).
const advisors = run('demo advisors', process.execPath, ['scripts/demo-advisors.mjs'], {}, [
  'ignore',
  'pipe',
  'inherit',
]);
const advisorsUrl = await new Promise((resolve) => {
  let output = '';
  advisors.stdout.on('data', (chunk) => {
    output += chunk.toString();
    const match = /demo advisors on (http:\/\/\S+)/.exec(output);
    if (match !== null) resolve(match[1]);
  });
  advisors.once('exit', () => resolve(undefined));
});
if (advisorsUrl === undefined) {
  stop(1);
  await new Promise(() => undefined);
}

// The demo traffic's pool `flaky` (one steady backend, one that drops its connections a quarter of the time).
const demoTraffic = env.ORCH_DEMO_TRAFFIC !== '0';
const flaky = demoTraffic && env.ORCH_POOL_FLAKY === undefined ? await startFlakyBackends() : undefined;

/** Fields every line has, or that say nothing to a person reading the console. */
const PLAIN = new Set([
  'level',
  'time',
  'timestamp',
  'pid',
  'hostname',
  'service',
  'context',
  'event',
  'msg',
  'corrId',
]);
/**
 * One console line of a log record: an access line as `METHOD route → status in ms (tenant, action)`, any other as
 * its event and message followed by its fields as `key=value`.
 * @param {Record<string, unknown>} log
 */
function devLine(log) {
  const text = (/** @type {unknown} */ value) => (typeof value === 'string' ? value : JSON.stringify(value));
  if (log.event === 'access') {
    const extra = [log.tenant, log.action, log.backend].filter((v) => v !== undefined).map(text);
    return `${text(log.method)} ${text(log.route)} → ${text(log.status)} in ${text(log.latencyMs)} ms${
      extra.length > 0 ? ` (${extra.join(', ')})` : ''
    }`;
  }
  const fields = Object.entries(log)
    .filter(([key]) => !PLAIN.has(key))
    .map(([key, value]) => `${key}=${text(value)}`)
    .join(' ');
  // The message alone when it already starts with the event's name ("listening on …"), the event alone when equal.
  const title =
    log.msg === undefined || log.msg === log.event
      ? [log.event]
      : typeof log.msg === 'string' && typeof log.event === 'string' && log.msg.startsWith(log.event)
        ? [log.msg]
        : [log.event, log.msg];
  const words = title.filter((v) => v !== undefined).map(text);
  return `${words.join(' ')} ${fields}`.trim().slice(0, 400);
}

// The console is for a person here: pino's pretty lines (START_LOGS=json keeps the JSON lines production writes).
const prettyLogs = env.START_LOGS !== 'json';
const orchestrator = run(
  'orchestrator',
  process.execPath,
  ['dist/orchestrator/apps/orchestrator/src/main.js'],
  {
    ...gatewayEnv(env),
    ...(flaky === undefined ? {} : { ORCH_POOL_FLAKY: flaky.urls.join(',') }),
    ORCH_THREAT_URL: env.ORCH_THREAT_URL ?? `${advisorsUrl}/score`,
    ORCH_QUOTA_URL: env.ORCH_QUOTA_URL ?? `${advisorsUrl}/quota`,
    ORCH_QUOTA_SCOPES: env.ORCH_QUOTA_SCOPES ?? 'write',
    ...signIn?.orchestratorEnv,
  },
  prettyLogs ? ['ignore', 'pipe', 'inherit'] : 'inherit',
);
if (prettyLogs && orchestrator.stdout !== null) {
  const { default: pretty } = await import('pino-pretty');
  orchestrator.stdout.pipe(
    pretty({
      colorize: process.stdout.isTTY === true,
      translateTime: 'SYS:HH:MM:ss.l',
      hideObject: true,
      messageFormat: devLine,
    }),
  );
}

let ready = false;
for (let i = 0; i < 100 && !ready && !stopping; i++) {
  try {
    ready = (await fetch(`${orchUrl}/readyz`)).ok;
  } catch {
    await sleep(200);
  }
}
if (!ready) {
  process.stderr.write(`shieldx: the orchestrator did not become ready on ${orchUrl}\n`);
  stop(1);
} else {
  if (demoTraffic) {
    const stopTraffic = driveTraffic(orchUrl);
    stopDemo = async () => {
      await stopTraffic();
      await flaky?.close();
    };
  }
  run('admin UI', 'npx', ['next', 'dev', 'apps/admin-ui', '-H', '127.0.0.1', '-p', uiPort], {
    NEXT_TELEMETRY_DISABLED: '1',
    ORCH_ADMIN_URL: env.ORCH_ADMIN_URL ?? orchUrl,
    ...signIn?.uiEnv,
  });
  process.stdout.write(
    [
      '',
      `ShieldX Orchestrator (dev, plain HTTP, demo pools api/search/static) on ${orchUrl}`,
      `Admin UI on ${uiUrl}`,
      ...(signIn === undefined
        ? ['  loopback-only mode, no sign-in (START_SIGN_IN=0)']
        : [
            `  sign in at the dev identity provider ${signIn.provider.issuer} (loopback only) as:`,
            ...DEMO_USERS.map((u) => `    ${u.username} / ${u.password}  (${u.groups.join(', ')})`),
          ]),
      'Try:',
      `  curl -s -X POST ${orchUrl}/route -H 'content-type: application/json' \\`,
      `    -d '{"service":"api","tenant":"acme","scope":"read","path":"/v1/items"}'`,
      `  curl -s ${orchUrl}/health`,
      `Demo threat scores and quotas (${advisorsUrl}): scope "write" costs 1 unit, tenant "trial" has 20 a minute;`,
      '  the Protection page of the admin UI shows the scores of recent clients.',
      demoTraffic
        ? 'Demo traffic: about 5 requests a second (allowed, denied, tarpitted, diverted; pool "flaky" loses a ' +
          'backend for 15 s every minute); ORCH_DEMO_TRAFFIC=0 turns it off.'
        : 'Demo traffic: off (ORCH_DEMO_TRAFFIC=0).',
      '',
    ].join('\n') + '\n',
  );
}
