import 'server-only';
import { roleFromClaim } from '@shieldx/security';
import * as client from 'openid-client';
import type { SessionUser, SignInState } from './session';
import type { OidcSettings } from './settings';

let discovered: { key: string; config: Promise<client.Configuration> } | undefined;

/**
 * The provider's configuration by discovery from the issuer, kept once it succeeds (a failure is tried again on the
 * next sign-in). ID tokens are checked for issuer, audience, nonce, expiry and their signature (the provider's JWKS),
 * never trusted for having come over TLS alone; plain HTTP only for a provider on loopback.
 */
function configuration(settings: OidcSettings): Promise<client.Configuration> {
  const key = `${settings.issuer.href} ${settings.clientId}`;
  if (discovered?.key !== key) {
    const config = client
      .discovery(settings.issuer, settings.clientId, settings.clientSecret, undefined, {
        execute: [
          client.enableNonRepudiationChecks,
          ...(settings.issuer.protocol === 'http:' ? [client.allowInsecureRequests] : []),
        ],
        timeout: 10,
      })
      .catch((error: unknown) => {
        discovered = undefined;
        throw error;
      });
    discovered = { key, config };
  }
  return discovered.config;
}

/** Starts a sign-in: the provider's authorization URL (code + PKCE S256, state, nonce) and what to keep until the callback. */
export async function startSignIn(
  settings: OidcSettings,
  returnTo: string,
): Promise<{ url: URL; signIn: SignInState }> {
  const config = await configuration(settings);
  const verifier = client.randomPKCECodeVerifier();
  const signIn: SignInState = { state: client.randomState(), nonce: client.randomNonce(), verifier, returnTo };
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: settings.redirectUri,
    scope: settings.scope,
    response_type: 'code',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: signIn.state,
    nonce: signIn.nonce,
  });
  return { url, signIn };
}

/** The outcome of a callback: the person with their role, or why they are not let in. */
export type SignInOutcome =
  | { readonly ok: true; readonly user: SessionUser }
  | {
      readonly ok: false;
      readonly reason: 'no_role' | 'sign_in_failed' | 'provider_error';
      readonly claimed?: { readonly sub?: string; readonly email?: string; readonly idp?: string };
    };

/** A claim by name, or by a dotted path into nested objects (`realm_access.roles`) when no claim has that name. */
function claimAt(claims: Readonly<Record<string, unknown>>, name: string): unknown {
  if (Object.hasOwn(claims, name)) return claims[name];
  let value: unknown = claims;
  for (const part of name.split('.')) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function text(value: unknown, max: number): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= max ? value : undefined;
}

/**
 * Finishes a sign-in at the callback: checks `state`, exchanges the code with the PKCE verifier, validates the ID
 * token (signature, issuer, audience, nonce, expiry), reads the roles claim from the ID token or, when it is not
 * there, from the userinfo endpoint, and maps it to a role.
 */
export async function finishSignIn(
  settings: OidcSettings,
  callbackUrl: URL,
  signIn: SignInState,
): Promise<SignInOutcome> {
  let config: client.Configuration;
  try {
    config = await configuration(settings);
  } catch {
    return { ok: false, reason: 'provider_error' };
  }
  let claims: Record<string, unknown>;
  let accessToken: string;
  try {
    const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier: signIn.verifier,
      expectedState: signIn.state,
      expectedNonce: signIn.nonce,
      idTokenExpected: true,
    });
    claims = { ...(tokens.claims() ?? {}) };
    accessToken = tokens.access_token;
  } catch (error) {
    // The person sees only that sign-in failed; the operator needs why (a clock, a key, a client secret).
    console.error(
      JSON.stringify({
        event: 'oidc_sign_in_failed',
        error: (error as Error).message,
        code: (error as { code?: unknown }).code,
        cause: await describeCause((error as { cause?: unknown }).cause),
      }),
    );
    return { ok: false, reason: 'sign_in_failed' };
  }
  const sub = text(claims.sub, 255);
  if (sub === undefined) return { ok: false, reason: 'sign_in_failed' };
  if (claimAt(claims, settings.rolesClaim) === undefined || claims.email === undefined) {
    try {
      const info = await client.fetchUserInfo(config, accessToken, sub);
      claims = { ...info, ...claims };
      if (claimAt(claims, settings.rolesClaim) === undefined) {
        const roles = claimAt(info, settings.rolesClaim);
        if (roles !== undefined) claims[settings.rolesClaim] = roles;
      }
    } catch {
      // A provider without userinfo: the ID token is all there is.
    }
  }
  const idp = config.serverMetadata().issuer;
  const email = text(claims.email, 320);
  const role = roleFromClaim(claimAt(claims, settings.rolesClaim), settings.roleMap);
  if (role === undefined) {
    return { ok: false, reason: 'no_role', claimed: { sub, idp, ...(email === undefined ? {} : { email }) } };
  }
  const name = text(claims.name, 200);
  return {
    ok: true,
    user: { sub, idp, role, ...(email === undefined ? {} : { email }), ...(name === undefined ? {} : { name }) },
  };
}

/** What an OAuth library error carries as its cause, for the log: a provider's answer (status and body) or text. */
async function describeCause(cause: unknown): Promise<string | undefined> {
  if (cause === undefined) return undefined;
  if (cause instanceof Response) return `${cause.status} ${(await cause.clone().text()).slice(0, 300)}`;
  return cause instanceof Error ? cause.message : JSON.stringify(cause)?.slice(0, 300);
}
