// `shieldx ui`: serves the built admin UI (Next.js standalone server) on ADMIN_UI_PORT (3000) and ADMIN_UI_HOST
// (127.0.0.1), reading the orchestrator at ORCH_ADMIN_URL with ORCH_ADMIN_TOKEN. Builds the UI first when there is no
// build, or when a source file is newer than the build (or with --build).
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const app = join(root, 'apps/admin-ui');
const next = join(app, '.next');
const standalone = join(next, 'standalone/apps/admin-ui');

export const UI_USAGE = `usage: shieldx ui [--build]

Serves the admin UI in production mode. Settings (environment):
  ADMIN_UI_PORT           port (default 3000)
  ADMIN_UI_HOST           address to bind (default 127.0.0.1). Without sign-in the UI acts with the admin
                          credentials for anyone who can reach it: keep it on loopback then
  ADMIN_UI_ALLOWED_HOSTS  extra host names the UI answers to (comma list; loopback names and ADMIN_UI_HOST always)
  ORCH_ADMIN_URL          the orchestrator (default http://127.0.0.1:8080)
  ORCH_ADMIN_TOKEN        its admin bearer token (ORCH_ADMIN_TOKEN of the orchestrator)
  ORCH_ADMIN_CA_FILE, ORCH_ADMIN_CERT_FILE, ORCH_ADMIN_KEY_FILE
                          for an https orchestrator with mTLS: CA to trust, client certificate and key to present
  ADMISSION_SECRET, ADMISSION_HEADER
                          sign each call when the orchestrator's admission guard is on
  ADMIN_UI_OIDC_ISSUER, ADMIN_UI_OIDC_CLIENT_ID, ADMIN_UI_OIDC_CLIENT_SECRET, ADMIN_UI_PUBLIC_URL,
  ADMIN_UI_SESSION_SECRET, ADMIN_UI_USER_KEY
                          sign-in with OpenID Connect (all six); roles from ADMIN_UI_OIDC_ROLES_CLAIM through
                          ADMIN_UI_OIDC_ROLE_MAP; see docs/admin-api.md#signing-in
--build rebuilds the UI even when the build looks current.
`;

/** Newest modification time (ms) of the UI's sources, ignoring build output and tests. */
function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (['.next', 'node_modules', 'test'].includes(entry.name)) continue;
    const path = join(dir, entry.name);
    const time = entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs;
    if (time > newest) newest = time;
  }
  return newest;
}

function needsBuild() {
  const marker = join(standalone, 'server.js');
  if (!existsSync(marker) || !existsSync(join(next, 'BUILD_ID'))) return true;
  // The UI's server bundles @shieldx/security from its source: a change there needs a new build too.
  const newest = Math.max(newestSource(app), newestSource(join(app, '../../libs/security/src')));
  return newest > statSync(join(next, 'BUILD_ID')).mtimeMs;
}

/** Runs the UI server until it exits or a signal stops it; resolves with the exit code. */
export async function uiCommand(args) {
  if (args.includes('help') || args.includes('--help')) {
    process.stdout.write(UI_USAGE);
    return 0;
  }
  const unknown = args.filter((a) => a !== '--build');
  if (unknown.length > 0) {
    process.stderr.write(`shieldx ui: unknown argument ${unknown[0]}\n\n${UI_USAGE}`);
    return 2;
  }
  const port = process.env.ADMIN_UI_PORT ?? '3000';
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) {
    process.stderr.write(`shieldx ui: ADMIN_UI_PORT '${port}' is not a port\n`);
    return 2;
  }
  const host = process.env.ADMIN_UI_HOST ?? '127.0.0.1';
  const orchestrator = process.env.ORCH_ADMIN_URL ?? 'http://127.0.0.1:8080';
  const env = { ...process.env, NEXT_TELEMETRY_DISABLED: '1' };

  if (args.includes('--build') || needsBuild()) {
    process.stdout.write('shieldx ui: building the admin UI (next build apps/admin-ui)…\n');
    const build = spawnSync('npx', ['next', 'build', 'apps/admin-ui'], { cwd: root, stdio: 'inherit', env });
    if (build.status !== 0) return build.status ?? 1;
  }
  // The standalone server serves its own copy of the static assets (Next leaves copying them to the deployer).
  cpSync(join(next, 'static'), join(standalone, '.next/static'), { recursive: true });
  if (existsSync(join(app, 'public'))) cpSync(join(app, 'public'), join(standalone, 'public'), { recursive: true });

  if (!['127.0.0.1', 'localhost', '::1'].includes(host) && (process.env.ADMIN_UI_OIDC_ISSUER ?? '') === '') {
    process.stderr.write(
      `shieldx ui: warning: listening on ${host} without sign-in; the UI acts with the admin credentials for anyone ` +
        'who reaches it. Configure sign-in (ADMIN_UI_OIDC_*, docs/admin-api.md#signing-in) or keep it on loopback.\n',
    );
  }
  const server = spawn(process.execPath, [join(standalone, 'server.js')], {
    cwd: standalone,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...env, NODE_ENV: 'production', PORT: port, HOSTNAME: host, ADMIN_UI_HOST: host },
  });
  for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) process.on(signal, () => server.kill(signal));

  const shown = host.includes(':') ? `[${host}]` : host;
  const url = `http://${shown}:${port}`;
  const exited = new Promise((resolve) =>
    server.once('exit', (code, signal) => resolve(signal === null ? (code ?? 1) : 0)),
  );
  // Say where it is once it answers, so a script can wait for this line.
  for (let i = 0; i < 150 && server.exitCode === null; i++) {
    try {
      await fetch(`${url}/`, { method: 'HEAD', signal: AbortSignal.timeout(1000) });
      process.stdout.write(`shieldx ui: admin UI on ${url} (orchestrator ${orchestrator})\n`);
      break;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  return exited;
}
