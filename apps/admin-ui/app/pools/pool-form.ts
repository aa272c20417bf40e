/**
 * The pool editor's text format: one backend per line, `url`, optionally followed by a weight and by `zone=…`,
 * `region=…`, `cost=…` in any order; blank lines and `#` comments ignored.
 */

/** Zone, region and cost of one backend, as `PUT /admin/pools/<name>` takes them in `meta`. */
export interface BackendMeta {
  zone?: string;
  region?: string;
  cost?: number;
}

/** What the form sends: the body of `PUT /admin/pools/<name>` (`meta` only when some backend has any). */
export interface PoolBody {
  urls: string[];
  algo: string;
  weights: Record<string, number>;
  meta?: Record<string, BackendMeta>;
}

/** A backend as the editor writes it: URL, weight, and zone, region and cost when set. */
export interface BackendLine extends BackendMeta {
  url: string;
  weight: number;
}

/** Balancing algorithms the orchestrator knows. */
export const ALGOS = ['ewma', 'p2c', 'round_robin', 'least_conn', 'rendezvous', 'cost'] as const;

/** Pool names (the orchestrator's rule for services). */
export const POOL_NAME = /^[a-z0-9_-]{1,64}$/;

/** Zone and region names (the orchestrator's rule): a lowercase DNS label. */
export const LOCALITY_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Writes a pool's backends in the editor's format. */
export function toLines(backends: readonly BackendLine[]): string {
  return backends
    .map((b) => {
      const parts = [b.url];
      if (b.weight !== 1) parts.push(String(b.weight));
      if (b.zone !== undefined) parts.push(`zone=${b.zone}`);
      if (b.region !== undefined) parts.push(`region=${b.region}`);
      if (b.cost !== undefined) parts.push(`cost=${b.cost}`);
      return parts.join(' ');
    })
    .join('\n');
}

/** Reads the `key=value` words after a URL into `meta`; returns the problem of the first bad one. */
function readMeta(words: readonly string[], meta: BackendMeta): string | undefined {
  for (const word of words) {
    const eq = word.indexOf('=');
    const key = word.slice(0, eq);
    const value = word.slice(eq + 1);
    if (key === 'zone' || key === 'region') {
      if (meta[key] !== undefined) return `${key} is given twice`;
      if (!LOCALITY_NAME.test(value)) return `the ${key} must be 1–63 of a–z, 0–9 and - (not at either end)`;
      meta[key] = value;
    } else if (key === 'cost') {
      if (meta.cost !== undefined) return 'cost is given twice';
      const cost = value === '' ? NaN : Number(value);
      if (!Number.isFinite(cost) || cost < 0) return 'the cost must be a number ≥ 0';
      meta.cost = cost;
    } else {
      return `unknown "${word}": write zone=…, region=… or cost=…`;
    }
  }
  return undefined;
}

/**
 * Reads the editor's text, checking what the browser can (URL shape, http/https, a host, weights > 0, zone and
 * region names, costs ≥ 0, no duplicates; the orchestrator checks again and also refuses SSRF targets). Returns the
 * body or one message per bad line.
 */
export function parseLines(
  text: string,
  algo: string,
): { ok: true; body: PoolBody } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  const urls: string[] = [];
  const weights: Record<string, number> = {};
  const meta: Record<string, BackendMeta> = {};
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const [address, ...words] = line.split(/\s+/);
    const weightText = words.length > 0 && !words[0].includes('=') ? words.shift() : undefined;
    const where = `line ${index + 1}`;
    if (words.some((word) => !word.includes('='))) {
      problems.push(`${where}: write "url", "url weight", then zone=…, region=…, cost=… if needed`);
      return;
    }
    const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(address) ? address : `http://${address}`;
    let url: URL;
    try {
      url = new URL(withScheme);
    } catch {
      problems.push(`${where}: '${address}' is not a URL`);
      return;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      problems.push(`${where}: '${address}' must use http or https`);
      return;
    }
    if (url.hostname === '') {
      problems.push(`${where}: '${address}' has no host`);
      return;
    }
    const normal = url.href.replace(/\/+$/, '');
    if (urls.includes(normal)) {
      problems.push(`${where}: '${address}' is listed twice`);
      return;
    }
    urls.push(normal);
    if (weightText !== undefined) {
      const weight = Number(weightText);
      if (!Number.isFinite(weight) || weight <= 0) problems.push(`${where}: the weight must be a number > 0`);
      else if (weight !== 1) weights[normal] = weight;
    }
    const place: BackendMeta = {};
    const problem = readMeta(words, place);
    if (problem !== undefined) problems.push(`${where}: ${problem}`);
    else if (Object.keys(place).length > 0) meta[normal] = place;
  });
  if (urls.length === 0 && problems.length === 0) problems.push('a pool needs at least one backend');
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, body: Object.keys(meta).length === 0 ? { urls, algo, weights } : { urls, algo, weights, meta } };
}
