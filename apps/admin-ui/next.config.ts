import { fileURLToPath } from 'node:url';
import type { NextConfig } from 'next';

/**
 * The repository's root. The UI's server bundles `@shieldx/security` from `libs/` (a tsconfig path to its source), and
 * Turbopack resolves nothing outside its root; the standalone output keeps the repository's layout, which
 * `shieldx ui` serves from `.next/standalone/apps/admin-ui`.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Sent with every response Next.js serves (pages, API and auth routes, errors, static files): no page may be framed
 * (clickjacking). The same as SECURITY_HEADERS of app/lib/security-headers.ts, which the proxy sets on the answers it
 * makes itself (Next.js loads this file before it can resolve imports of the app; a unit test keeps the two equal).
 */
export const FRAME_HEADERS = [
  { key: 'Content-Security-Policy', value: "frame-ancestors 'none'" },
  { key: 'X-Frame-Options', value: 'DENY' },
];

/** Admin UI: server-rendered; talks to the orchestrator over HTTP only. No external fonts, scripts or images. */
const config: NextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  output: 'standalone',
  outputFileTracingRoot: root,
  turbopack: { root },
  headers: () => Promise.resolve([{ source: '/:path*', headers: FRAME_HEADERS }]),
};

export default config;
