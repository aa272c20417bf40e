import { defineCommand } from '../command';
import { loadScript } from '../scripts';

/** `shieldx certs dev <dir>`: development certificates made with openssl (scripts/certs.mjs). */
export const certsCommand = defineCommand({
  name: 'certs',
  summary: `  certs dev <dir> [--client <name>[=spiffe://…]]…
            a dev CA, a server certificate for localhost/127.0.0.1 and client certificates with SPIFFE URI SANs
            (default client: ingress); see shieldx certs help`,
  usage: async ({ root }) => (await loadScript(root, 'certs.mjs')).CERTS_USAGE,
  options: {
    client: 'list',
    'server-san': 'list',
    days: 'string',
    'not-before': 'string',
    'not-after': 'string',
    'no-server': 'boolean',
    'no-clients': 'boolean',
  },
  async run({ args }, { root }) {
    return (await loadScript(root, 'certs.mjs')).certsCommand([...args]);
  },
});
