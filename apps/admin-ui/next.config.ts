import type { NextConfig } from 'next';

/** Admin UI: server-rendered; talks to the orchestrator over HTTP only. No external fonts, scripts or images. */
const config: NextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  output: 'standalone',
};

export default config;
