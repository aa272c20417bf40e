/** Settings of where a request's tenant comes from and which tenants are served. */
import { normalizeDnsName, normalizeUri } from '@shieldx/security';
import { oneOf, parseTenantBindings, parseTenantList } from '../parse';
import { setting, type ReadContext, type Section } from '../setting';
import { TENANT_SOURCES } from '../types';

const THREAT_MODEL = { title: 'threat-model.md', href: 'threat-model.md#tenants-routingtenant-bindingts' };

/** Where a request's tenant comes from. */
export const TENANT_FROM = setting({
  key: 'ORCH_TENANT_FROM',
  at: 'tenant.from',
  parse: oneOf(TENANT_SOURCES),
  default: 'claimed',
  doc:
    "where a request's tenant comes from: `claimed` = what the caller writes (the per-tenant limit holds only for " +
    'honest callers); `san`, `dpop`, `admission` = the tenant `ORCH_TENANT_BINDINGS` gives that proven identity. ' +
    '`san` needs TLS (the `ORCH_TLS_*` files), `admission` needs `ADMISSION_SECRET`',
  see: [THREAT_MODEL],
});

/**
 * With ORCH_TENANT_FROM=san, binding keys are SANs: written as the guards compare them (a URI with its scheme and host
 * lower-cased, a DNS name lower-cased), so `SPIFFE://TD/sa/x` binds what the certificate's `spiffe://td/sa/x` proves.
 */
function sanBindings(bindings: ReadonlyMap<string, string>, ctx: ReadContext): Map<string, string> {
  const normalised = new Map<string, string>();
  for (const [san, tenant] of bindings) {
    const key = san.includes(':') ? normalizeUri(san) : normalizeDnsName(san);
    if (key === undefined) ctx.problem(`ORCH_TENANT_BINDINGS: '${san}' is neither a URI nor a DNS name SAN`);
    else normalised.set(key, tenant);
  }
  return normalised;
}

/** Tenants. */
export const TENANTS: Section = {
  title: 'Tenants',
  lead: 'Behaviour: [threat model: tenants](threat-model.md#tenants-routingtenant-bindingts).',
  settings: [
    TENANT_FROM,
    setting({
      key: 'ORCH_TENANT_BINDINGS',
      at: 'tenant.bindings',
      parse: parseTenantBindings,
      fallback: () => new Map<string, string>(),
      resolve: (bindings, ctx) => (ctx.get(TENANT_FROM) === 'san' ? sanBindings(bindings, ctx) : bindings),
      doc:
        'identity → tenant, JSON `{"spiffe://td/sa/billing":"acme"}` or `identity=tenant,…`: a client-certificate ' +
        'URI/DNS SAN (compared with scheme, host and DNS names lower-cased), a DPoP key thumbprint or an admission ' +
        'key id. With `ORCH_TENANTS` set, every tenant bound here must be listed there',
    }),
    setting({
      key: 'ORCH_TENANTS',
      at: 'tenant.known',
      parse: parseTenantList,
      fallback: undefined,
      shownDefault: 'unset (any)',
      doc: 'comma list of the tenants served; any other gets 403 `unknown_tenant`',
    }),
  ],
};
