/** Longest return path kept, characters. */
const MAX_LENGTH = 2000;
// Anything but printable ASCII: controls, spaces and non-ASCII have no place in a path the UI itself made.
const UNSAFE = /[^\x21-\x7e]/;
const ORIGIN = 'http://return-to.invalid';

/**
 * True when `path` is a path of this UI that no browser reads as another site: it starts with one `/`, holds no
 * backslash, control, space or non-ASCII character, encoded or not, and is not under `/auth/` or `/api/` (in any case,
 * encoded or not).
 */
function isSafePath(path: string): boolean {
  if (path.length === 0 || path.length > MAX_LENGTH) return false;
  if (path[0] !== '/' || path[1] === '/' || path.includes('\\') || UNSAFE.test(path)) return false;
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return false;
  }
  if (decoded.startsWith('//') || decoded.includes('\\') || /[\x00-\x20\x7f]/.test(decoded)) return false;
  const lower = decoded.toLowerCase();
  return !(lower === '/auth' || lower.startsWith('/auth/') || lower === '/api' || lower.startsWith('/api/'));
}

/**
 * Where to send a person after sign-in: a path of this UI only, or `/`. Refuses everything a browser could read as
 * another site (`//evil`, `/\evil`, `https:evil`, `/%2F%2Fevil`, `\/evil`, tabs and newlines inside, dot segments
 * that collapse into `//evil`), paths under `/auth/` (no loops through the sign-in routes) and `/api/` (no downloads
 * or calls after sign-in). The path given and the path returned (dot segments resolved) are both checked, so what
 * it returns is always safe by itself.
 */
export function safeReturnTo(raw: string | null | undefined): string {
  if (typeof raw !== 'string' || !isSafePath(raw)) return '/';
  let url: URL;
  try {
    url = new URL(raw, ORIGIN);
  } catch {
    return '/';
  }
  if (url.origin !== ORIGIN) return '/';
  const path = `${url.pathname}${url.search}${url.hash}`;
  return isSafePath(path) ? path : '/';
}
