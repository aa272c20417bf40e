/** Settings of the admin API, and those the admin UI's server reads. */
import { parseFlag } from '../parse';
import { documented, setting, type Section } from '../setting';
import { parseSanList } from './listener';

/** The admin bearer token: at least 16 characters. */
function parseAdminToken(raw: string): string {
  if (raw.trim().length < 16) throw new Error('must be at least 16 characters');
  return raw.trim();
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
    '[Admin UI](admin-api.md#admin-ui-appsadmin-ui).',
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
    ui('ADMISSION_SECRET', "with the orchestrator's admission guard on: the secret to sign each call with"),
    ui('ADMISSION_HEADER', 'with the admission guard on: the header to sign each call with', 'X-ShieldX-Admission'),
  ],
};
