// Read by the proxy (the answers it makes itself); next.config.ts sends the same with every response Next.js serves
// (it cannot import this file: a unit test, app/proxy.spec.ts, keeps the two equal).

/**
 * Headers of every response of the UI: no page may be shown in a frame, by another site or by another origin of this
 * one (clickjacking: a framed Rollouts page under a decoy, the operator's click on "Promote"). `frame-ancestors` for
 * browsers that read CSP, `X-Frame-Options` for those that do not. The UI sends no other CSP: extend this one rather
 * than add a second header.
 */
export const SECURITY_HEADERS: readonly { readonly key: string; readonly value: string }[] = [
  { key: 'Content-Security-Policy', value: "frame-ancestors 'none'" },
  { key: 'X-Frame-Options', value: 'DENY' },
];

/** Sets {@link SECURITY_HEADERS} on `headers` (replacing any value they had). */
export function setSecurityHeaders(headers: Headers): void {
  for (const { key, value } of SECURITY_HEADERS) headers.set(key, value);
}
