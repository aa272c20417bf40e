// A local OpenID Connect provider for development and tests (`oidc-provider`), on loopback only: `npm start` runs it
// so that signing in to the admin UI is real, and the admin UI's browser tests sign in against it. People sign in with
// a user name and password on a plain form; their `groups` claim (scope `groups`) carries the ShieldX role groups.
// Never for production: accounts, client secret and signing keys live in memory.
//
//   node scripts/dev-oidc.mjs '<json config>'   prints `dev-oidc: issuer <url>` once it answers
//
// Config: {port?, clientId, clientSecret, redirectUris, users: [{sub, username, password, email, name, groups}]}.
import { generateKeyPairSync, randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';
import Provider from 'oidc-provider';

/** The demo people of `npm start`: one viewer, one operator (the credentials are printed in its banner). */
export const DEMO_USERS = [
  {
    sub: 'demo-viewer',
    username: 'viewer',
    password: 'viewer-demo-password',
    email: 'viewer@shieldx.example',
    name: 'Vera Viewer',
    groups: ['shieldx-viewer'],
  },
  {
    sub: 'demo-operator',
    username: 'operator',
    password: 'operator-demo-password',
    email: 'operator@shieldx.example',
    name: 'Otto Operator',
    groups: ['shieldx-operator'],
  },
];

const escape = (text) =>
  String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

function page(title, body) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:24rem;margin:4rem auto;padding:0 1rem}label,input,button{display:block;width:100%;margin:.4rem 0}input{padding:.4rem}button{padding:.5rem}.error{color:#b00020}</style>
</head><body><h1>${escape(title)}</h1>${body}</body></html>`;
}

function loginForm(uid, error) {
  return page(
    'ShieldX dev sign-in',
    `${error ? `<p class="error" role="alert">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login" autocomplete="off">
<label for="username">User name</label><input id="username" name="username" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" required>
<button type="submit">Sign in</button></form>`,
  );
}

function readForm(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      body += chunk;
      if (body.length > 8192) req.destroy(new Error('form too large'));
    });
    req.on('end', () => resolve(new URLSearchParams(body)));
    req.on('error', reject);
  });
}

const digest = (text) => createHash('sha256').update(text).digest();

/**
 * Starts the provider on loopback. Resolves with its issuer URL and a close function.
 * @param {{port?: number, clientId: string, clientSecret: string, redirectUris: string[], users: typeof DEMO_USERS}} config
 */
export async function startDevOidc(config) {
  const server = createServer();
  await new Promise((resolve) => server.listen(config.port ?? 0, '127.0.0.1', () => resolve(undefined)));
  const issuer = `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (server.address()).port}`;
  const users = new Map(config.users.map((user) => [user.sub, user]));
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'dev-oidc', use: 'sig', alg: 'ES256' };

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: config.clientId,
        client_secret: config.clientSecret,
        redirect_uris: config.redirectUris,
        response_types: ['code'],
        grant_types: ['authorization_code'],
        id_token_signed_response_alg: 'ES256',
      },
    ],
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    scopes: ['openid', 'email', 'profile', 'groups'],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    // First-party client: no consent screen, every requested scope is granted.
    async loadExistingGrant(ctx) {
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope(ctx.oidc.params.scope ?? 'openid');
      await grant.save();
      return grant;
    },
    findAccount(_ctx, id) {
      const user = users.get(id);
      if (user === undefined) return undefined;
      return {
        accountId: id,
        claims: () => ({ sub: id, email: user.email, email_verified: true, name: user.name, groups: user.groups }),
      };
    },
    renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = page('Sign-in error', `<p>${escape(out.error)}: ${escape(out.error_description ?? '')}</p>`);
    },
  });
  // The insecure-HTTP warning of oidc-provider is expected on loopback.
  provider.proxy = false;
  const callback = provider.callback();

  /**
   * The login form of an interaction, and its answer: the right password finishes the login, a wrong one shows the
   * form again.
   * @param {import('node:http').IncomingMessage} req
   * @param {import('node:http').ServerResponse} res
   * @param {RegExpExecArray} match
   */
  async function interaction(req, res, match) {
    try {
      const details = await provider.interactionDetails(req, res);
      if (details.uid !== match[1]) throw new Error('interaction mismatch');
      if (match[2] === undefined) {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        return res.end(loginForm(details.uid));
      }
      if (req.method !== 'POST') throw new Error('POST the login form');
      const form = await readForm(req);
      const user = config.users.find((u) => u.username === form.get('username'));
      const given = digest(form.get('password') ?? '');
      if (user === undefined || !timingSafeEqual(given, digest(user.password))) {
        res.writeHead(401, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        return res.end(loginForm(details.uid, 'Wrong user name or password.'));
      }
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId: user.sub } },
        { mergeWithLastSubmission: false },
      );
    } catch (error) {
      res.writeHead(400, { 'content-type': 'text/html; charset=utf-8' });
      res.end(page('Sign-in error', `<p>${escape(error.message)}</p>`));
    }
  }
  server.on('request', (req, res) => {
    const match = /^\/interaction\/([\w-]+)(\/login)?$/.exec(req.url ?? '');
    if (match === null) void callback(req, res);
    else void interaction(req, res, match);
  });

  return {
    issuer,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const config = JSON.parse(process.argv[2] ?? '{}');
  const { issuer, close } = await startDevOidc({ ...config, users: config.users ?? DEMO_USERS });
  process.stdout.write(`dev-oidc: issuer ${issuer}\n`);
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => void close().then(() => process.exit(0)));
}
