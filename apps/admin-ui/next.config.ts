import { fileURLToPath } from 'node:url';
import type { NextConfig } from 'next';

/**
 * The repository's root. The UI's server bundles `@shieldx/security` from `libs/` (a tsconfig path to its source), and
 * Turbopack resolves nothing outside its root; the standalone output keeps the repository's layout, which
 * `shieldx ui` serves from `.next/standalone/apps/admin-ui`.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));

/** Admin UI: server-rendered; talks to the orchestrator over HTTP only. No external fonts, scripts or images. */
const config: NextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  output: 'standalone',
  outputFileTracingRoot: root,
  turbopack: { root },
};

export default config;
