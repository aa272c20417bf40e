/** Longest return path kept, characters. */
const MAX_LENGTH = 2000;
// Anything but printable ASCII: controls, spaces and non-ASCII have no place in a path the UI itself made.
const UNSAFE = /[^\x21-\x7e]/;
const ORIGIN = 'http://return-to.invalid';

/**
 * Where to send a person after sign-in: a path of this UI only, or `/`. Refuses everything a browser could read as
 * another site (`//evil`, `/\evil`, `https:evil`, `/%2F%2Fevil`, `\/evil`, tabs and newlines inside), paths under
 * `/auth/` (no loops through the sign-in routes) and `/api/` (no downloads or calls after sign-in).
 */
export function safeReturnTo(raw: string | null | undefined): string {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_LENGTH) return '/';
  if (raw[0] !== '/' || raw[1] === '/' || raw[1] === '\\' || raw.includes('\\') || UNSAFE.test(raw)) return '/';
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return '/';
  }
  if (decoded.startsWith('//') || decoded.includes('\\') || /[\x00-\x20\x7f]/.test(decoded)) return '/';
  const url = new URL(raw, ORIGIN);
  if (url.origin !== ORIGIN) return '/';
  const path = `${url.pathname}${url.search}${url.hash}`;
  if (path.startsWith('/auth/') || path === '/auth' || path.startsWith('/api/')) return '/';
  return path;
}
