/**
 * Parsers for configuration values, one for each shape a setting can have. Each returns the value or throws an Error
 * whose message explains the problem; the loader prefixes it with the setting's name. Factories (`integerIn`, …)
 * return a parser for the settings table.
 */
import { TENANT_PATTERN } from './names';

/** A value as written, without surrounding blanks: the parser of plain text settings (paths, hosts). */
export function trimmed(raw: string): string {
  return raw.trim();
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `1500ms`, `5s`, `2m`, `1h` → milliseconds. A bare number is refused: a duration needs its unit. */
export function parseDuration(raw: string): number {
  const match = DURATION.exec(raw.trim());
  if (match === null) throw new Error(`'${raw}' is not a duration; write a number with a unit: 1500ms, 5s, 2m, 1h`);
  return Number(match[1]) * UNIT_MS[match[2]];
}

/** A duration longer than zero. */
export function positiveDuration(raw: string): number {
  const ms = parseDuration(raw);
  if (ms <= 0) throw new Error(`'${raw}' must be longer than zero`);
  return ms;
}

/** A parser of durations from zero up to `max` (itself a duration, `10s`), named in the message as written. */
export function durationAtMost(max: string): (raw: string) => number {
  const limit = parseDuration(max);
  return (raw) => {
    const ms = parseDuration(raw);
    if (ms > limit) throw new Error(`'${raw}' must be at most ${max}`);
    return ms;
  };
}

/** A decimal integer within [min, max]. */
export function parseInteger(raw: string, min: number, max: number): number {
  const value = Number(raw.trim());
  if (raw.trim() === '' || !Number.isInteger(value) || value < min || value > max) {
    throw new Error(`'${raw}' is not an integer between ${min} and ${max}`);
  }
  return value;
}

/** A finite number within [min, max]. */
export function parseNumber(raw: string, min: number, max: number): number {
  const value = Number(raw.trim());
  if (raw.trim() === '' || !Number.isFinite(value) || value < min || value > max) {
    throw new Error(`'${raw}' is not a number between ${min} and ${max}`);
  }
  return value;
}

/** A parser of decimal integers within [min, max]. */
export function integerIn(min: number, max: number): (raw: string) => number {
  return (raw) => parseInteger(raw, min, max);
}

/** A parser of finite numbers within [min, max]. */
export function numberIn(min: number, max: number): (raw: string) => number {
  return (raw) => parseNumber(raw, min, max);
}

/** A share in (0, 1]: a part of something that must not be nothing. */
export function parseShare(raw: string): number {
  const share = parseNumber(raw, 0, 1);
  if (share <= 0) throw new Error(`'${raw}' must be a share in (0, 1]`);
  return share;
}

/**
 * A parser of one word out of `values`, trimmed and, unless `caseSensitive`, lower-cased first. Two choices read
 * `must be a or b`, more `is not one of a, b, c`.
 */
export function oneOf<T extends string>(
  values: readonly T[],
  { caseSensitive = false }: { readonly caseSensitive?: boolean } = {},
): (raw: string) => T {
  const problem = values.length === 2 ? `must be ${values[0]} or ${values[1]}` : `is not one of ${values.join(', ')}`;
  return (raw) => {
    const word = caseSensitive ? raw.trim() : raw.trim().toLowerCase();
    if (!(values as readonly string[]).includes(word)) throw new Error(`'${raw}' ${problem}`);
    return word as T;
  };
}

/**
 * A parser of text that must match `pattern` (after trimming, unless `trim` is false); `problem` completes the
 * message `'<value>' …`.
 */
export function textMatching(
  pattern: RegExp,
  problem: string,
  { trim = true }: { readonly trim?: boolean } = {},
): (raw: string) => string {
  return (raw) => {
    const text = trim ? raw.trim() : raw;
    if (!pattern.test(text)) throw new Error(`'${raw}' ${problem}`);
    return text;
  };
}

/** What to do while Redis fails: `open` = go on with in-process state, `closed` = refuse. */
export const parseFailureMode = oneOf(['open', 'closed']);

/** Names that become Redis keys, message fields or span attributes: 1-128 printable characters, no spaces. */
export const PRINTABLE_NAME = /^[\x21-\x7e]{1,128}$/;

/** A {@link PRINTABLE_NAME}. */
export const parsePrintableName = textMatching(PRINTABLE_NAME, 'must be 1-128 printable characters, no spaces');

/** `1`/`true`/`yes`/`on` and `0`/`false`/`no`/`off` (any case). */
export function parseFlag(raw: string): boolean {
  const value = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(value)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(value)) return false;
  throw new Error(`'${raw}' is not a flag; use 1 or 0`);
}

/** A comma-separated list with blanks dropped. */
export function parseList(raw: string): string[] {
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/** A parser of comma lists whose entries `check` vets as a whole (it throws with the message). */
export function checkedList(check: (list: readonly string[]) => void): (raw: string) => string[] {
  return (raw) => {
    const list = parseList(raw);
    check(list);
    return list;
  };
}

/** A byte count: an integer, optionally with a binary unit `k`, `m` or `g` (`64m` = 64 MiB); 0 allowed. */
export function parseByteSize(raw: string): number {
  const match = /^(\d+)\s*([kmg]i?b?)?$/i.exec(raw.trim());
  if (match === null) throw new Error(`'${raw}' is not a size; write bytes or a number with k, m or g (64m)`);
  const unit = (match[2] ?? '').charAt(0).toLowerCase();
  const value = Number(match[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1);
  if (!Number.isSafeInteger(value) || value > 1024 ** 4) throw new Error(`'${raw}' is too large (at most 1024g)`);
  return value;
}

/**
 * A backend URL: `host:port` means `http://host:port`; otherwise http(s) with a host, no credentials, query or
 * fragment. Returned without a trailing slash so `<backend>/<rest>` joins cleanly.
 */
export function parseBackendUrl(raw: string): string {
  const text = raw.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new Error(`'${raw}' is not a backend URL (http://host:port or host:port)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`'${raw}' must use http or https`);
  }
  if (url.hostname === '') throw new Error(`'${raw}' has no host`);
  // Port 0 parses, but nothing can be reached there (it means "any free port" to a listener).
  if (url.port === '0') throw new Error(`'${raw}' has port 0; a backend port is 1 to 65535`);
  if (url.username !== '' || url.password !== '') throw new Error(`'${raw}' must not carry credentials`);
  if (url.search !== '' || url.hash !== '') throw new Error(`'${raw}' must not have a query or fragment`);
  return url.href.replace(/\/+$/, '');
}

/**
 * Key → value pairs written either as a JSON object (`{"k": v}`) or as a list `k=v,k=v` (values kept as text, split
 * at the last `=`). `what` names the pair for messages, e.g. `url=weight`.
 */
export function parsePairs(raw: string, what: string): [string, unknown][] {
  const text = raw.trim();
  if (text.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error('is not valid JSON');
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new Error(`must be a JSON object of ${what.replace('=', ' → ')}`);
    }
    return Object.entries(parsed);
  }
  return parseList(text).map((item) => {
    const eq = item.lastIndexOf('=');
    if (eq <= 0) throw new Error(`'${item}' is not ${what}`);
    return [item.slice(0, eq).trim(), item.slice(eq + 1).trim()];
  });
}

/** Weights as JSON `{"url": w}` or `url=w,url=w`; URLs are normalised like backend URLs, weights must be > 0. */
export function parseWeights(raw: string): Map<string, number> {
  const weights = new Map<string, number>();
  for (const [url, value] of parsePairs(raw, 'url=weight')) {
    const weight = typeof value === 'string' && value !== '' ? Number(value) : value;
    if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0) {
      throw new Error(`weight of '${url}' must be a number > 0, got ${JSON.stringify(value)}`);
    }
    weights.set(parseBackendUrl(url), weight);
  }
  return weights;
}

/**
 * A Redis address: `host:port` (or a bare host, port 6379) means `redis://host:port`; otherwise a `redis://` or
 * `rediss://` (TLS) URL with a host, an optional `user:password@`, an optional database `/<n>`, no query or
 * fragment. Returned normalised. Error messages never repeat the password.
 */
export function parseRedisUrl(raw: string): string {
  const text = raw.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `redis://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new Error(`'${redactUrl(text)}' is not a Redis address (host:port, redis://host:port or rediss://host:port)`);
  }
  const shown = redactUrl(text);
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new Error(`'${shown}' must use redis or rediss`);
  if (url.hostname === '') throw new Error(`'${shown}' has no host`);
  if (url.search !== '' || url.hash !== '') throw new Error(`'${shown}' must not have a query or fragment`);
  if (url.pathname !== '' && url.pathname !== '/' && !/^\/\d{1,5}$/.test(url.pathname)) {
    throw new Error(`'${shown}': the path may only be a database number, like /0`);
  }
  if (url.port === '') url.port = '6379';
  return url.href.replace(/\/$/, '');
}

/** The URL with any password replaced by `***`, for messages and logs. */
export function redactUrl(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/]*:)[^@/]*@/i, '$1***@');
}

const TENANT = TENANT_PATTERN;

/** ORCH_TENANTS: a comma list of tenant names (the `/route` tenant rule); a name listed twice is an error. */
export function parseTenantList(raw: string): ReadonlySet<string> {
  const tenants = new Set<string>();
  for (const tenant of parseList(raw)) {
    if (!TENANT.test(tenant)) throw new Error(`'${tenant}' is not a tenant name (${TENANT.source})`);
    if (tenants.has(tenant)) throw new Error(`'${tenant}' is listed twice`);
    tenants.add(tenant);
  }
  if (tenants.size === 0) throw new Error('must list at least one tenant');
  return tenants;
}

/**
 * ORCH_TENANT_BINDINGS: authenticated identity → tenant, as JSON `{"identity": "tenant"}` or `identity=tenant,…`. An
 * identity is a client-certificate SAN, an admission key id or a DPoP key thumbprint (printable, no spaces or commas).
 */
export function parseTenantBindings(raw: string): Map<string, string> {
  const bindings = new Map<string, string>();
  for (const [identity, tenant] of parsePairs(raw, 'identity=tenant')) {
    if (!/^[\x21-\x7e]{1,2048}$/.test(identity))
      throw new Error(`'${identity}' is not an identity (printable, no spaces)`);
    if (typeof tenant !== 'string' || !TENANT.test(tenant))
      throw new Error(`tenant of '${identity}' must match ${TENANT.source}, got ${JSON.stringify(tenant)}`);
    if (bindings.has(identity)) throw new Error(`'${identity}' is listed twice`);
    bindings.set(identity, tenant);
  }
  return bindings;
}

/**
 * Per-tenant rate figures as JSON `{"tenant": perMinute}` or `tenant=perMinute,…`; tenants follow the `/route`
 * tenant rule, figures are integers from 1 to 1e9, a tenant listed twice is an error.
 */
export function parseTenantLimits(raw: string): Map<string, number> {
  const pairs = parsePairs(raw, 'tenant=perMinute');
  const limits = new Map<string, number>();
  for (const [tenant, value] of pairs) {
    if (!TENANT.test(tenant)) throw new Error(`'${tenant}' is not a tenant name (${TENANT.source})`);
    const rate = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
    if (typeof rate !== 'number' || !Number.isInteger(rate) || rate < 1 || rate > 1e9) {
      throw new Error(`limit of '${tenant}' must be an integer between 1 and 1000000000, got ${JSON.stringify(value)}`);
    }
    if (limits.has(tenant)) throw new Error(`'${tenant}' is listed twice`);
    limits.set(tenant, rate);
  }
  return limits;
}
