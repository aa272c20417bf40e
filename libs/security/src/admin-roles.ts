/**
 * The roles of people using the admin API, the one table of what each may do, and the mapping from an identity
 * provider's claim to a role. Read by the orchestrator's admin guard (enforcement) and the admin UI (what it shows
 * and relays), so both always agree.
 */

/** The roles, least to most powerful. */
export const ADMIN_ROLES = ['viewer', 'operator', 'admin'] as const;

/** A person's role: `viewer` reads, `operator` changes traffic (pools, rollouts, policy reload), `admin` everything. */
export type AdminRole = (typeof ADMIN_ROLES)[number];

const RANK: Readonly<Record<AdminRole, number>> = { viewer: 0, operator: 1, admin: 2 };

/** Whether `value` is a role. */
export function isAdminRole(value: unknown): value is AdminRole {
  return typeof value === 'string' && Object.hasOwn(RANK, value);
}

/** Whether `role` may do what needs `required`. */
export function roleAllows(role: AdminRole, required: AdminRole): boolean {
  return RANK[role] >= RANK[required];
}

/** One rule: a method and a route (Fastify route template or a concrete path) that need a role. */
interface RoleRule {
  readonly method: string;
  readonly path: RegExp;
  readonly role: AdminRole;
}

// A segment is `[^/]+`, so a route template (`/admin/pools/:name`) and a concrete path match alike.
const SEGMENT = '[^/]+';
const RULES: readonly RoleRule[] = [
  // Named routes that need more than their method says, or less.
  { method: 'GET', path: /^\/admin\/ledger\/export$/, role: 'admin' },
  { method: 'POST', path: /^\/admin\/config\/reload$/, role: 'admin' },
  { method: 'POST', path: /^\/admin\/policy\/promote$/, role: 'admin' },
  { method: 'POST', path: /^\/admin\/policy\/evaluate$/, role: 'viewer' },
  { method: 'POST', path: /^\/admin\/ui-events$/, role: 'viewer' },
  // Operators change traffic.
  { method: 'PUT', path: new RegExp(`^/admin/pools/${SEGMENT}$`), role: 'operator' },
  { method: 'DELETE', path: new RegExp(`^/admin/pools/${SEGMENT}$`), role: 'operator' },
  { method: 'POST', path: /^\/admin\/policy\/reload$/, role: 'operator' },
  { method: 'POST', path: /^\/admin\/protection\/release$/, role: 'operator' },
  { method: 'PUT', path: new RegExp(`^/admin/rollouts/${SEGMENT}$`), role: 'operator' },
  { method: 'DELETE', path: new RegExp(`^/admin/rollouts/${SEGMENT}$`), role: 'operator' },
  { method: 'POST', path: new RegExp(`^/admin/rollouts/${SEGMENT}/${SEGMENT}$`), role: 'operator' },
];

/**
 * The role a call needs: the rule of its method and route when there is one; else `viewer` to read (GET, HEAD) and
 * `admin` to change anything (a route nobody classified is never open to less than admins). `route` is the Fastify
 * route template (`/admin/pools/:name`), never the raw URL, so no spelling of a path can pick a weaker rule.
 */
export function requiredAdminRole(method: string, route: string): AdminRole {
  const verb = method === 'HEAD' ? 'GET' : method;
  for (const rule of RULES) {
    if (rule.method === verb && rule.path.test(route)) return rule.role;
  }
  return verb === 'GET' ? 'viewer' : 'admin';
}

/**
 * Parses a role map, `group=role` pairs separated by commas (`shieldx-viewer=viewer,shieldx-admin=admin`).
 * @throws Error naming the bad pair
 */
export function parseRoleMap(text: string): ReadonlyMap<string, AdminRole> {
  const map = new Map<string, AdminRole>();
  for (const part of text.split(',')) {
    const pair = part.trim();
    if (pair === '') continue;
    const at = pair.lastIndexOf('=');
    const group = at === -1 ? '' : pair.slice(0, at).trim();
    const role = at === -1 ? '' : pair.slice(at + 1).trim();
    if (group === '' || !isAdminRole(role)) {
      throw new Error(`'${pair}' must be <claim value>=<viewer|operator|admin>`);
    }
    map.set(group, role);
  }
  if (map.size === 0) throw new Error('names no claim value');
  return map;
}

/**
 * The strongest role that a claim's value maps to, or undefined when none does. Providers send the claim as an
 * array of strings, one string, or a space- or comma-separated string; all are read.
 */
export function roleFromClaim(claim: unknown, map: ReadonlyMap<string, AdminRole>): AdminRole | undefined {
  const values: string[] = [];
  if (typeof claim === 'string') values.push(...claim.split(/[\s,]+/));
  else if (Array.isArray(claim)) for (const item of claim) if (typeof item === 'string') values.push(item.trim());
  let best: AdminRole | undefined;
  for (const value of values) {
    const role = value === '' ? undefined : map.get(value);
    if (role !== undefined && (best === undefined || RANK[role] > RANK[best])) best = role;
  }
  return best;
}
