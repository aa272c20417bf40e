// Read by the proxy (middleware) and the server: no `server-only` import here, and nothing that reaches the browser.
import { createPrivateKey, hkdfSync, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseRoleMap, userAssertionAlgorithm, type AdminRole } from '@shieldx/security';

/** The default of `ADMIN_UI_OIDC_ROLE_MAP`. */
export const DEFAULT_ROLE_MAP = 'shieldx-viewer=viewer,shieldx-operator=operator,shieldx-admin=admin';

/** How the UI lets people in: signed in with OpenID Connect, or (without sign-in settings) loopback only. */
export type AuthSettings =
  { readonly mode: 'loopback' } | { readonly mode: 'invalid'; readonly problems: readonly string[] } | OidcSettings;

/** Sign-in with OpenID Connect, and how the UI tells the orchestrator who acts. */
export interface OidcSettings {
  readonly mode: 'oidc';
  readonly issuer: URL;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Where people reach the UI; the redirect URI is `<publicUrl>/auth/callback`. */
  readonly publicUrl: URL;
  readonly redirectUri: string;
  /** `openid email profile` and the roles claim's scope. */
  readonly scope: string;
  readonly rolesClaim: string;
  readonly roleMap: ReadonlyMap<string, AdminRole>;
  readonly idleMs: number;
  readonly maxMs: number;
  /** Keys of the session cookie and of the sign-in cookie (HKDF of `ADMIN_UI_SESSION_SECRET`). */
  readonly sessionKey: Uint8Array;
  readonly signInKey: Uint8Array;
  /** Cookies are `Secure` (and `__Host-` prefixed) when the public URL is https. */
  readonly secureCookies: boolean;
  /** Signs the user assertions sent to the orchestrator. */
  readonly userKey: KeyObject;
  readonly userIssuer: string;
  readonly userAudience: string;
}

const DURATION = /^(\d{1,7})(s|m|h)$/;
const UNIT_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000 };

function duration(
  env: Readonly<Record<string, string | undefined>>,
  key: string,
  fallback: string,
  problems: string[],
): number {
  const text = (env[key] ?? fallback).trim();
  const match = DURATION.exec(text);
  if (match === null || Number(match[1]) === 0) {
    problems.push(`${key}: '${text}' must be a duration such as 90s, 30m or 8h`);
    return 0;
  }
  return Number(match[1]) * UNIT_MS[match[2]];
}

function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || hostname.startsWith('127.');
}

/** Reads the private key of `ADMIN_UI_USER_KEY`: a PEM (`\n` escapes allowed) or the path of a PEM file. */
function userKey(raw: string): KeyObject {
  const pem = raw.includes('-----BEGIN') ? raw.replace(/\\n/g, '\n') : readFileSync(raw.trim(), 'utf8');
  const key = createPrivateKey(pem);
  userAssertionAlgorithm(key);
  return key;
}

/** Reads the sign-in settings from `env`; every problem is listed, nothing is half-enabled. */
export function readAuthSettings(env: Readonly<Record<string, string | undefined>>): AuthSettings {
  const keys = [
    'ADMIN_UI_OIDC_ISSUER',
    'ADMIN_UI_OIDC_CLIENT_ID',
    'ADMIN_UI_OIDC_CLIENT_SECRET',
    'ADMIN_UI_SESSION_SECRET',
    'ADMIN_UI_PUBLIC_URL',
    'ADMIN_UI_USER_KEY',
  ] as const;
  const given = keys.filter((key) => (env[key] ?? '').trim() !== '');
  if (given.length === 0) return { mode: 'loopback' };
  const problems: string[] = [];
  for (const key of keys) if (!given.includes(key)) problems.push(`${key}: required for sign-in`);
  const url = (key: string): URL | undefined => {
    const text = env[key]?.trim() ?? '';
    if (text === '') return undefined;
    try {
      const parsed = new URL(text);
      if (parsed.protocol === 'https:' || (parsed.protocol === 'http:' && isLoopbackHost(parsed.hostname))) {
        return parsed;
      }
      problems.push(`${key}: must be https (plain http only on loopback)`);
    } catch {
      problems.push(`${key}: '${text}' is not a URL`);
    }
    return undefined;
  };
  const issuer = url('ADMIN_UI_OIDC_ISSUER');
  const publicUrl = url('ADMIN_UI_PUBLIC_URL');
  if (publicUrl !== undefined && (publicUrl.pathname !== '/' || publicUrl.search !== '' || publicUrl.hash !== '')) {
    problems.push('ADMIN_UI_PUBLIC_URL: give the origin only, such as https://admin.example.com');
  }
  const secret = env.ADMIN_UI_SESSION_SECRET ?? '';
  if (secret !== '' && secret.length < 32) problems.push('ADMIN_UI_SESSION_SECRET: must be at least 32 characters');
  let roleMap: ReadonlyMap<string, AdminRole> = new Map();
  try {
    roleMap = parseRoleMap(env.ADMIN_UI_OIDC_ROLE_MAP ?? DEFAULT_ROLE_MAP);
  } catch (error) {
    problems.push(`ADMIN_UI_OIDC_ROLE_MAP: ${(error as Error).message}`);
  }
  let key: KeyObject | undefined;
  if ((env.ADMIN_UI_USER_KEY ?? '').trim() !== '') {
    try {
      key = userKey(env.ADMIN_UI_USER_KEY as string);
    } catch {
      problems.push('ADMIN_UI_USER_KEY: must be an Ed25519 or EC P-256 private key (PEM, or the path of a PEM file)');
    }
  }
  const idleMs = duration(env, 'ADMIN_UI_SESSION_IDLE', '30m', problems);
  const maxMs = duration(env, 'ADMIN_UI_SESSION_MAX', '8h', problems);
  const rolesClaim = (env.ADMIN_UI_OIDC_ROLES_CLAIM ?? 'groups').trim() || 'groups';
  const rolesScope = (env.ADMIN_UI_OIDC_ROLES_SCOPE ?? rolesClaim).trim();
  if (rolesScope !== '' && !/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(rolesScope)) {
    problems.push('ADMIN_UI_OIDC_ROLES_SCOPE: must be one scope token');
  }
  if (problems.length > 0 || issuer === undefined || publicUrl === undefined || key === undefined) {
    return { mode: 'invalid', problems };
  }
  const derive = (info: string) => new Uint8Array(hkdfSync('sha256', secret, 'shieldx-admin-ui', info, 32));
  return {
    mode: 'oidc',
    issuer,
    clientId: (env.ADMIN_UI_OIDC_CLIENT_ID as string).trim(),
    clientSecret: env.ADMIN_UI_OIDC_CLIENT_SECRET as string,
    publicUrl,
    redirectUri: new URL('/auth/callback', publicUrl).href,
    scope: ['openid', 'email', 'profile', ...(rolesScope === '' ? [] : [rolesScope])].join(' '),
    rolesClaim,
    roleMap,
    idleMs,
    maxMs,
    sessionKey: derive('session'),
    signInKey: derive('sign-in'),
    secureCookies: publicUrl.protocol === 'https:',
    userKey: key,
    userIssuer: (env.ADMIN_UI_USER_ISSUER ?? 'shieldx-admin-ui').trim(),
    userAudience: (env.ADMIN_UI_USER_AUDIENCE ?? 'shieldx-orchestrator').trim(),
  };
}

let cached: AuthSettings | undefined;

/** The settings of this process's environment, read once. */
export function authSettings(): AuthSettings {
  cached ??= readAuthSettings(process.env);
  return cached;
}
