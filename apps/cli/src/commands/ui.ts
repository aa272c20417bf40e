import { defineCommand } from '../command';
import { loadScript } from '../scripts';

/** `shieldx ui`: serves the built admin UI (scripts/ui.mjs, shared with the UI's browser tests). */
export const uiCommand = defineCommand({
  name: 'ui',
  summary: `  ui [--build]
            serve the admin UI (building it when needed) on ADMIN_UI_PORT (3000) / ADMIN_UI_HOST (127.0.0.1),
            reading the orchestrator at ORCH_ADMIN_URL with ORCH_ADMIN_TOKEN; see shieldx ui --help`,
  usage: async ({ root }) => (await loadScript(root, 'ui.mjs')).UI_USAGE,
  options: { build: 'boolean' },
  async run({ args }, { root }) {
    return (await loadScript(root, 'ui.mjs')).uiCommand([...args]);
  },
});
