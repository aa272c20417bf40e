/** Settings of the admin API, and those the admin UI's server reads. */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { parseFlag, parsePrintableName } from '../parse';
import { documented, setting, type Section } from '../setting';
import { parseSanList } from './listener';

/** The admin bearer token: at least 16 characters. */
function parseAdminToken(raw: string): string {
  if (raw.trim().length < 16) throw new Error('must be at least 16 characters');
  return raw.trim();
}

const PEM_BLOCK = /-----BEGIN [A-Z ]+-----[\s\S]*?-----END [A-Z ]+-----/g;

/**
 * ORCH_ADMIN_USER_KEYS: one or more PEM public keys (SPKI), Ed25519 or EC P-256, one after the other (several while a
 * key is rotated); `\n` escapes in a one-line value are turned into newlines. Messages never repeat the value.
 */
export function parseUserKeys(raw: string): KeyObject[] {
  const blocks = raw.replace(/\\n/g, '\n').match(PEM_BLOCK) ?? [];
  if (blocks.length === 0) throw new Error('expected one or more PEM public keys (-----BEGIN PUBLIC KEY-----)');
  return blocks.map((pem, i) => {
    if (!pem.startsWith('-----BEGIN PUBLIC KEY-----')) throw new Error(`key ${i + 1} is not a PEM public key`);
    let key: KeyObject;
    try {
      key = createPublicKey(pem);
    } catch {
      throw new Error(`key ${i + 1} is not a valid PEM public key`);
    }
    const ok = key.asymmetricKeyType === 'ed25519' || key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
    if (!ok) throw new Error(`key ${i + 1} must be Ed25519 or EC P-256 (EdDSA or ES256)`);
    return key;
  });
}

/** Admin API. */
export const ADMIN: Section = {
  title: 'Admin API',
  lead: 'Behaviour: [Admin API](admin-api.md#admin-api).',
  settings: [
    setting({
      key: 'ORCH_ADMIN_TOKEN',
      at: 'admin.token',
      parse: parseAdminToken,
      fallback: undefined,
      doc: 'bearer token (at least 16 characters): `Authorization: Bearer <token>`, compared in constant time over SHA-256 digests',
    }),
    setting({
      key: 'ORCH_ADMIN_SANS',
      at: 'admin.sans',
      parse: parseSanList,
      fallback: () => [],
      doc:
        'with TLS: client-certificate URI/DNS SANs admitted as admins, matched like ' +
        '`ORCH_ALLOWED_CLIENT_SAN_PREFIXES` (exact, or under an entry ending in `/`); without TLS it has no effect ' +
        '(a warning says so)',
    }),
    setting({
      key: 'ORCH_ADMIN_USER_KEYS',
      at: 'admin.userKeys',
      parse: parseUserKeys,
      fallback: () => [],
      doc:
        'PEM public keys (Ed25519 or EC P-256, several while rotating) that verify the user assertions of the admin ' +
        'UI (`X-ShieldX-User`, a JWT of at most 5 minutes): the named user and role act, and the role is enforced',
      see: [{ title: 'People and roles', href: 'admin-api.md#people-and-roles' }],
    }),
    setting({
      key: 'ORCH_ADMIN_USER_ISSUER',
      at: 'admin.userIssuer',
      parse: parsePrintableName,
      default: 'shieldx-admin-ui',
      doc: 'the `iss` a user assertion must carry (`ADMIN_UI_USER_ISSUER` of the UI)',
    }),
    setting({
      key: 'ORCH_ADMIN_USER_AUDIENCE',
      at: 'admin.userAudience',
      parse: parsePrintableName,
      default: 'shieldx-orchestrator',
      doc: 'the `aud` a user assertion must carry (`ADMIN_UI_USER_AUDIENCE` of the UI)',
    }),
    setting({
      key: 'ORCH_ADMIN_REQUIRE_USER',
      at: 'admin.requireUser',
      parse: parseFlag,
      fallback: false,
      doc:
        '`1` = every admin call must carry a valid user assertion (needs `ORCH_ADMIN_USER_KEYS`); `0` = a call ' +
        'with the token or an admin certificate and no assertion acts as that credential, with every right',
    }),
    setting({
      key: 'ORCH_ADMIN_ALLOW_PRIVATE',
      at: 'admin.allowPrivate',
      parse: parseFlag,
      fallback: false,
      doc: '`1` = pool edits may point anywhere, including link-local and metadata addresses',
      see: [{ title: 'Where a pool may point', href: 'admin-api.md#where-a-pool-may-point-ssrf-guard' }],
    }),
  ],
};

/** A variable of the admin UI's server, with its default as written when it has one. */
function ui(key: string, doc: string, value?: string) {
  return documented({ key, doc, reader: 'admin-ui', ...(value === undefined ? {} : { default: value }) });
}

/** Admin UI: read by `npx shieldx ui`, not by the orchestrator. */
export const ADMIN_UI: Section = {
  title: 'Admin UI',
  lead:
    "Read by the admin UI's server (`npx shieldx ui`), not by the orchestrator. Behaviour: " +
    '[Admin UI](admin-api.md#admin-ui-appsadmin-ui), [Signing in](admin-api.md#signing-in).',
  settings: [
    ui('ADMIN_UI_PORT', 'port where `npx shieldx ui` serves the admin UI', '3000'),
    ui('ADMIN_UI_HOST', 'address where `npx shieldx ui` serves the admin UI', '127.0.0.1'),
    ui(
      'ADMIN_UI_ALLOWED_HOSTS',
      'host names the UI answers to besides loopback names and `ADMIN_UI_HOST` (comma list)',
    ),
    ui('ORCH_ADMIN_URL', 'the orchestrator whose admin API the UI reads', 'http://127.0.0.1:8080'),
    ui('ORCH_ADMIN_TOKEN', "the orchestrator's admin bearer token"),
    ui('ORCH_ADMIN_CA_FILE', 'for an `https` orchestrator: the CA to trust'),
    ui(
      'ORCH_ADMIN_CERT_FILE',
      'for an `https` orchestrator with client certificates: a client certificate with an `ORCH_ADMIN_SANS` identity',
    ),
    ui('ORCH_ADMIN_KEY_FILE', 'the key of `ORCH_ADMIN_CERT_FILE`'),
    ui(
      'ADMIN_UI_OIDC_ISSUER',
      'OpenID Connect issuer (https; http only on loopback), found by discovery. Set it and the five below to ' +
        'make people sign in; with none of them the UI is loopback-only and says so on every page',
    ),
    ui('ADMIN_UI_OIDC_CLIENT_ID', "the UI's client id at the provider (a confidential client, code flow with PKCE)"),
    ui('ADMIN_UI_OIDC_CLIENT_SECRET', "the UI's client secret"),
    ui(
      'ADMIN_UI_PUBLIC_URL',
      'the origin people reach the UI at; register `<ADMIN_UI_PUBLIC_URL>/auth/callback` as the redirect URI. ' +
        'https makes the cookies `Secure` and `__Host-`',
    ),
    ui('ADMIN_UI_SESSION_SECRET', 'at least 32 characters: encrypts the session and sign-in cookies'),
    ui(
      'ADMIN_UI_USER_KEY',
      'Ed25519 or EC P-256 private key (PEM, or the path of a PEM file) that signs user assertions; its public half ' +
        'goes into `ORCH_ADMIN_USER_KEYS`',
    ),
    ui(
      'ADMIN_UI_OIDC_ROLES_CLAIM',
      'the claim that carries groups or roles (ID token, else userinfo; an array, or a space- or comma-separated ' +
        'string; a dotted path such as `realm_access.roles` reads a nested one)',
      'groups',
    ),
    ui(
      'ADMIN_UI_OIDC_ROLES_SCOPE',
      'the scope asked for beside `openid email profile` to get the roles claim; empty = none (default: the ' +
        "claim's name)",
    ),
    ui(
      'ADMIN_UI_OIDC_ROLE_MAP',
      '`<claim value>=<viewer|operator|admin>` pairs; the strongest match wins, a person with none is refused',
      'shieldx-viewer=viewer,shieldx-operator=operator,shieldx-admin=admin',
    ),
    ui(
      'ADMIN_UI_SESSION_IDLE',
      'a session ends after this long without a request (its idle clock is renewed every quarter of it, at most 60 s)',
      '30m',
    ),
    ui('ADMIN_UI_SESSION_MAX', 'a session ends this long after sign-in, however active', '8h'),
    ui('ADMIN_UI_USER_ISSUER', 'the `iss` of user assertions (`ORCH_ADMIN_USER_ISSUER`)', 'shieldx-admin-ui'),
    ui('ADMIN_UI_USER_AUDIENCE', 'the `aud` of user assertions (`ORCH_ADMIN_USER_AUDIENCE`)', 'shieldx-orchestrator'),
    ui('ADMISSION_SECRET', "with the orchestrator's admission guard on: the secret to sign each call with"),
    ui('ADMISSION_HEADER', 'with the admission guard on: the header to sign each call with', 'X-ShieldX-Admission'),
  ],
};
