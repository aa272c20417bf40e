/** Parsers for configuration values. Each returns the value or throws an Error whose message explains the problem. */

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `1500ms`, `5s`, `2m`, `1h` → milliseconds. A bare number is refused: a duration needs its unit. */
export function parseDuration(raw: string): number {
  const match = DURATION.exec(raw.trim());
  if (match === null) throw new Error(`'${raw}' is not a duration; write a number with a unit: 1500ms, 5s, 2m, 1h`);
  return Number(match[1]) * UNIT_MS[match[2]];
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
  if (url.username !== '' || url.password !== '') throw new Error(`'${raw}' must not carry credentials`);
  if (url.search !== '' || url.hash !== '') throw new Error(`'${raw}' must not have a query or fragment`);
  return url.href.replace(/\/+$/, '');
}

/** Weights as JSON `{"url": w}` or `url=w,url=w`; URLs are normalised like backend URLs, weights must be > 0. */
export function parseWeights(raw: string): Map<string, number> {
  const weights = new Map<string, number>();
  const text = raw.trim();
  let pairs: [string, unknown][];
  if (text.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error('is not valid JSON');
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new Error('must be a JSON object of url → weight');
    }
    pairs = Object.entries(parsed);
  } else {
    pairs = parseList(text).map((item) => {
      const eq = item.lastIndexOf('=');
      if (eq <= 0) throw new Error(`'${item}' is not url=weight`);
      return [item.slice(0, eq), Number(item.slice(eq + 1))];
    });
  }
  for (const [url, weight] of pairs) {
    if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0) {
      throw new Error(`weight of '${url}' must be a number > 0, got ${JSON.stringify(weight)}`);
    }
    weights.set(parseBackendUrl(url), weight);
  }
  return weights;
}
