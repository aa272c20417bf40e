import { isUtf8 } from 'node:buffer';

/** A request path in its one canonical form, or why it has none (the request is refused with 400). */
export type CanonicalPath =
  { readonly ok: true; readonly path: string } | { readonly ok: false; readonly reason: string };

/**
 * Characters kept as they are (RFC 3986 `pchar` and `/`, without `%` and `;`): unreserved, the sub-delims other than
 * `;`, `:` and `@`. Indexed by char code; anything else in the ASCII range is percent-encoded or refused.
 */
const KEEP = new Uint8Array(128);
/** Bytes decoded from `%XX` because they are unreserved (RFC 3986 §2.3): ALPHA, DIGIT, `-`, `.`, `_`, `~`. */
const UNRESERVED = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z0-9\-._~]/.test(ch)) UNRESERVED[c] = 1;
  if (/[A-Za-z0-9\-._~!$&'()*+,=:@/]/.test(ch)) KEEP[c] = 1;
}
const HEX = '0123456789ABCDEF';

/** Longest request path accepted, raw and canonical (the `/route` path limit, docs/http-api.md). */
export const MAX_PATH_CHARS = 2048;

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  const lower = code | 0x20;
  return lower >= 97 && lower <= 102 ? lower - 87 : -1;
}

function refused(reason: string): CanonicalPath {
  return { ok: false, reason };
}

/**
 * The one canonical form of an absolute request path (no query), computed once per request; the policy, the base
 * rules, the ledger and the backend all see this string (docs/threat-model.md, "Paths").
 *
 * Normalisation (RFC 3986 §6.2.2): percent-encoded unreserved characters are decoded, other escapes get upper-case
 * hex, characters outside `pchar` are percent-encoded (UTF-8), `.` segments are removed and empty segments (`//`)
 * merged. Refused: a raw `?` or `#` (a query or fragment is not part of the path; `%3F` and `%23` are), a `..`
 * segment (traversal, however encoded), an encoded `/` or `\`, a literal `\`, a `;` (raw or encoded: path
 * parameters), an encoded `%` that starts another escape (double encoding), control characters, malformed escapes and
 * escaped bytes that are not valid UTF-8 (overlong forms of `.` or `/` among them).
 */
export function canonicalPath(raw: string): CanonicalPath {
  if (raw.charCodeAt(0) !== 47 /* / */) return refused('the path must start with /');
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const code = raw.charCodeAt(i);
    if (code === 37 /* % */) {
      const escaped = readEscapes(raw, i);
      if (typeof escaped === 'string') return refused(escaped);
      out += escaped.text;
      i = escaped.end - 1;
    } else if (code < 128) {
      if (KEEP[code] === 1) out += raw[i];
      else if (code === 59 /* ; */) return refused('path parameters (;) are not accepted');
      else if (code === 63 /* ? */ || code === 35 /* # */) {
        // A query or fragment is not part of the path: judged as one (`/internal%3Fx`), it would pass a rule on
        // `/internal/` for a client that sends the whole string as its request target.
        return refused('a query (?) or fragment (#) is not part of the path: send the path alone');
      } else if (code === 92 /* \ */) return refused('backslashes are not accepted in the path');
      else if (code < 0x21 || code === 0x7f) return refused('control characters and spaces are not accepted');
      else out += `%${HEX[code >> 4]}${HEX[code & 15]}`;
    } else {
      const pair = code >= 0xd800 && code <= 0xdbff;
      const next = raw.charCodeAt(i + 1);
      if ((pair && !(next >= 0xdc00 && next <= 0xdfff)) || (code >= 0xdc00 && code <= 0xdfff)) {
        return refused('the path is not valid Unicode');
      }
      const end = pair ? i + 2 : i + 1;
      const char = raw.slice(i, end);
      for (const byte of Buffer.from(char, 'utf8')) out += `%${HEX[byte >> 4]}${HEX[byte & 15]}`;
      i = end - 1;
    }
  }
  return removeDotSegments(out);
}

/** Decodes a run of `%XX` escapes at `start`: unreserved bytes become characters, the others keep upper-case hex. */
function readEscapes(raw: string, start: number): { text: string; end: number } | string {
  const bytes: number[] = [];
  let end = start;
  while (end < raw.length && raw.charCodeAt(end) === 37 /* % */) {
    const hi = hexValue(raw.charCodeAt(end + 1));
    const lo = hexValue(raw.charCodeAt(end + 2));
    if (hi < 0 || lo < 0) return 'a percent escape must be % and two hex digits';
    bytes.push((hi << 4) | lo);
    end += 3;
  }
  let text = '';
  let high = -1;
  for (let k = 0; k <= bytes.length; k++) {
    const byte = k < bytes.length ? bytes[k] : -1;
    if (byte >= 0x80) {
      if (high < 0) high = k;
      text += `%${HEX[byte >> 4]}${HEX[byte & 15]}`;
      continue;
    }
    // Each run of escaped non-ASCII bytes must be whole UTF-8: no overlong `.` or `/`, no stray continuation bytes.
    if (high >= 0 && !isUtf8(Uint8Array.from(bytes.slice(high, k)))) return 'escaped bytes must be valid UTF-8';
    high = -1;
    if (byte < 0) break;
    if (byte === 0x2f || byte === 0x5c) return 'an encoded / or \\ is not accepted in the path';
    // Servers that decode before stripping path parameters read `..%3B` as `..;`: refused like a literal `;`.
    if (byte === 0x3b) return 'path parameters (;) are not accepted, encoded or not';
    if (byte < 0x20 || byte === 0x7f) return 'encoded control characters are not accepted';
    text += UNRESERVED[byte] === 1 ? String.fromCharCode(byte) : `%${HEX[byte >> 4]}${HEX[byte & 15]}`;
  }
  return { text, end };
}

/** An escaped `%` followed by two hex digits: the path is encoded twice (a double-decoding backend reads another). */
const DOUBLE_ENCODED = /%25[0-9A-Fa-f]{2}/;

/**
 * RFC 3986 §5.2.4 on an already normalised path, with this gateway's stance: `.` segments and empty segments go,
 * a `..` segment is refused rather than resolved (traversal is refused, docs/http-api.md, and a backend must never be asked
 * to resolve one).
 */
function removeDotSegments(path: string): CanonicalPath {
  if (DOUBLE_ENCODED.test(path)) return refused('double percent-encoding is not accepted');
  if (!NEEDS_SEGMENT_WORK.test(path)) return { ok: true, path };
  const segments = path.split('/');
  const kept: string[] = [];
  for (let i = 1; i < segments.length; i++) {
    const segment = segments[i];
    if (segment === '..') return refused('the path must not climb with .. segments (encoded or not)');
    if (segment === '.' || segment === '') continue;
    kept.push(segment);
  }
  const last = segments[segments.length - 1];
  const trailing = kept.length > 0 && (last === '' || last === '.');
  return { ok: true, path: `/${kept.join('/')}${trailing ? '/' : ''}` };
}

/** Paths that need the segment pass: a `.` or `..` segment, or an empty one. */
const NEEDS_SEGMENT_WORK = /\/\.{1,2}(?:\/|$)|\/\//;
