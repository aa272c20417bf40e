import { CanonicalJsonError } from './errors';

/**
 * Deterministic JSON text of `value`, as RFC 8785 (JCS) specifies it for the values JSON can carry: object keys
 * sorted recursively by UTF-16 code units, no whitespace, strings and numbers exactly as `JSON.stringify` writes them
 * (which is what JCS prescribes: ECMAScript `Number.prototype.toString`, minimal string escaping).
 *
 * Like `JSON.stringify`: `toJSON()` is honoured (so a `Date` becomes its ISO string) and object properties whose value
 * is `undefined` are left out. Unlike it, these are rejected with a {@link CanonicalJsonError} naming the path instead
 * of being silently turned into `null` or dropped: non-finite numbers, `bigint`, functions, symbols, `undefined` at the
 * top level or inside an array, `Map`/`Set` (which `JSON.stringify` would write as `{}`), and cycles.
 *
 * @param value any JSON-representable value
 * @returns the canonical JSON text (no trailing newline)
 * @throws CanonicalJsonError when `value` has no canonical JSON form
 */
export function canonicalJson(value: unknown): string {
  return write(value, { keys: [], objects: [], safeNumbers: false });
}

/**
 * The canonical JSON of ledger data: {@link canonicalJson} with safe numbers only (I-JSON, RFC 7493). A number beyond
 * ±(2^53 − 1) reads back otherwise in a reader with exact integers, so what one reader sees would not be what was
 * hashed; the ledger holds only numbers every JSON reader agrees on.
 * @throws CanonicalJsonError as {@link canonicalJson}, and for such a number
 * @internal
 */
export function ledgerJson(value: unknown): string {
  return write(value, { keys: [], objects: [], safeNumbers: true });
}

/**
 * Where the writer is: the member names / array indexes and the objects on the way down (for cycle detection). The
 * path text is built only for an error message, so a valid value costs no string per member.
 */
interface Trail {
  keys: (string | number)[];
  objects: object[];
  safeNumbers: boolean;
}

function fail(trail: Trail, problem: string): never {
  const path = trail.keys.map((key) => (typeof key === 'number' ? `[${key}]` : `.${key}`)).join('');
  throw new CanonicalJsonError(`$${path}`, problem);
}

function write(value: unknown, trail: Trail): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) fail(trail, `non-finite number ${String(value)}`);
      if (trail.safeNumbers && (value > Number.MAX_SAFE_INTEGER || value < -Number.MAX_SAFE_INTEGER)) {
        fail(trail, `unsafe number ${String(value)} (beyond ±(2^53 − 1); write it as a string)`);
      }
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
      return fail(trail, 'undefined');
    case 'bigint':
      return fail(trail, 'bigint (convert it to a string or number first)');
    case 'function':
      return fail(trail, 'function');
    case 'symbol':
      return fail(trail, 'symbol');
    case 'object':
      return value === null ? 'null' : writeObject(value, trail);
    default:
      // typeof has no other results in ECMAScript; kept for engines that add one.
      return fail(trail, `unsupported type ${typeof value}`);
  }
}

function writeObject(value: object, trail: Trail): string {
  const withToJson = value as { toJSON?: unknown };
  if (typeof withToJson.toJSON === 'function') {
    return write((withToJson.toJSON as (key: string) => unknown).call(value, ''), trail);
  }
  if (value instanceof Map || value instanceof Set) {
    fail(trail, `${value.constructor.name} (convert it to an object or array first)`);
  }
  if (trail.objects.includes(value)) fail(trail, 'cycle');
  trail.objects.push(value);
  let out: string;
  if (Array.isArray(value)) {
    out = '[';
    for (let i = 0; i < value.length; i++) {
      trail.keys.push(i);
      out += i === 0 ? write(value[i], trail) : `,${write(value[i], trail)}`;
      trail.keys.pop();
    }
    out += ']';
  } else {
    const record = value as Record<string, unknown>;
    // Array.prototype.sort without a comparator orders strings by UTF-16 code units, as JCS requires.
    const keys = Object.keys(record).sort();
    out = '{';
    let first = true;
    for (const key of keys) {
      const member = record[key];
      if (member === undefined) continue;
      trail.keys.push(key);
      out += `${first ? '' : ','}${JSON.stringify(key)}:${write(member, trail)}`;
      trail.keys.pop();
      first = false;
    }
    out += '}';
  }
  trail.objects.pop();
  return out;
}
