/**
 * Names that callers and operators choose and that become keys (pools, tenants, scopes). Defined beside the
 * configuration, which validates the same names at boot; see `config/names.ts`.
 */
export { SCOPE_PATTERN, SERVICE_PATTERN, TENANT_PATTERN } from '../config/names';
