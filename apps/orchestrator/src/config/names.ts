/**
 * Names that callers and operators choose and that become keys (pools, tenants, scopes). None may be a name objects
 * already carry (`__proto__`, `constructor`, `prototype`): a pool called `__proto__` once served traffic while
 * missing from `/health` and `/admin/pools`, because assigning it to a plain object set the object's prototype.
 */
const NOT_AN_OBJECT_KEY = '(?!(?:__proto__|constructor|prototype)$)';

/** Service (pool) names: also the `ORCH_POOL_<NAME>` names, lowercased. */
export const SERVICE_PATTERN = new RegExp(`^${NOT_AN_OBJECT_KEY}[a-z0-9_-]{1,64}$`);
/** Tenant identifiers. */
export const TENANT_PATTERN = new RegExp(`^${NOT_AN_OBJECT_KEY}[A-Za-z0-9._-]{1,128}$`);
/** Scopes such as `read`, `orders:write`. */
export const SCOPE_PATTERN = new RegExp(`^${NOT_AN_OBJECT_KEY}[a-z0-9:_-]{1,64}$`);
