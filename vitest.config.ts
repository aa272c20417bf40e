import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const alias = {
  '@shieldx/collections': fileURLToPath(new URL('./libs/collections/src/index.ts', import.meta.url)),
  '@shieldx/lb': fileURLToPath(new URL('./libs/lb/src/index.ts', import.meta.url)),
  '@shieldx/security': fileURLToPath(new URL('./libs/security/src/index.ts', import.meta.url)),
  '@shieldx/policy': fileURLToPath(new URL('./libs/policy/src/index.ts', import.meta.url)),
  '@shieldx/ledger': fileURLToPath(new URL('./libs/ledger/src/index.ts', import.meta.url)),
};

const lib = (name: string) => ({
  extends: true as const,
  test: { name, root: `libs/${name}`, include: ['src/**/*.spec.ts'] },
});

/** One Vitest run, one project per Nx project; e2e tests live apart so CI can order unit before e2e. */
export default defineConfig({
  resolve: { alias },
  test: {
    environment: 'node',
    env: { TZ: 'UTC' },
    projects: [
      lib('collections'),
      lib('lb'),
      lib('security'),
      lib('policy'),
      lib('ledger'),
      {
        extends: true,
        test: { name: 'orchestrator', root: 'apps/orchestrator', include: ['src/**/*.spec.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'orchestrator-e2e',
          root: 'apps/orchestrator',
          include: ['test/**/*.e2e.spec.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
      {
        extends: true,
        test: { name: 'admin-ui', root: 'apps/admin-ui', include: ['app/**/*.spec.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'admin-ui-e2e',
          root: 'apps/admin-ui',
          include: ['test/**/*.e2e.spec.ts'],
          testTimeout: 30_000,
          hookTimeout: 240_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
