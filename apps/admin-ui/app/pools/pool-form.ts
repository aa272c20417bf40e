/** The pool editor's text format: one backend per line, `url` or `url weight`; blank lines and `#` comments ignored. */

/** What the form sends: the body of `PUT /admin/pools/<name>`. */
export interface PoolBody {
  urls: string[];
  algo: string;
  weights: Record<string, number>;
}

/** Balancing algorithms the orchestrator knows. */
export const ALGOS = ['ewma', 'p2c', 'round_robin', 'least_conn', 'rendezvous'] as const;

/** Pool names (the orchestrator's rule for services). */
export const POOL_NAME = /^[a-z0-9_-]{1,64}$/;

/** Writes a pool's backends in the editor's format. */
export function toLines(backends: readonly { url: string; weight: number }[]): string {
  return backends.map((b) => (b.weight === 1 ? b.url : `${b.url} ${b.weight}`)).join('\n');
}

/**
 * Reads the editor's text, checking what the browser can (URL shape, http/https, a host, weights > 0, no duplicates;
 * the orchestrator checks again and also refuses SSRF targets). Returns the body or one message per bad line.
 */
export function parseLines(
  text: string,
  algo: string,
): { ok: true; body: PoolBody } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  const urls: string[] = [];
  const weights: Record<string, number> = {};
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const [address, weightText, ...rest] = line.split(/\s+/);
    const where = `line ${index + 1}`;
    if (rest.length > 0) {
      problems.push(`${where}: write "url" or "url weight"`);
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
  });
  if (urls.length === 0 && problems.length === 0) problems.push('a pool needs at least one backend');
  return problems.length > 0 ? { ok: false, problems } : { ok: true, body: { urls, algo, weights } };
}
