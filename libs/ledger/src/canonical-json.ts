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
  return write(value, '$', []);
}

function write(value: unknown, path: string, stack: object[]): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalJsonError(path, `non-finite number ${String(value)}`);
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
      throw new CanonicalJsonError(path, 'undefined');
    case 'bigint':
      throw new CanonicalJsonError(path, 'bigint (convert it to a string or number first)');
    case 'function':
      throw new CanonicalJsonError(path, 'function');
    case 'symbol':
      throw new CanonicalJsonError(path, 'symbol');
    case 'object':
      return value === null ? 'null' : writeObject(value, path, stack);
    default:
      // typeof has no other results in ECMAScript; kept for engines that add one.
      throw new CanonicalJsonError(path, `unsupported type ${typeof value}`);
  }
}

function writeObject(value: object, path: string, stack: object[]): string {
  const withToJson = value as { toJSON?: unknown };
  if (typeof withToJson.toJSON === 'function') {
    return write((withToJson.toJSON as (key: string) => unknown).call(value, ''), path, stack);
  }
  if (value instanceof Map || value instanceof Set) {
    throw new CanonicalJsonError(path, `${value.constructor.name} (convert it to an object or array first)`);
  }
  if (stack.includes(value)) throw new CanonicalJsonError(path, 'cycle');
  stack.push(value);
  let out: string;
  if (Array.isArray(value)) {
    const parts: string[] = [];
    for (let i = 0; i < value.length; i++) parts.push(write(value[i], `${path}[${i}]`, stack));
    out = `[${parts.join(',')}]`;
  } else {
    const record = value as Record<string, unknown>;
    // Array.prototype.sort without a comparator orders strings by UTF-16 code units, as JCS requires.
    const keys = Object.keys(record).sort();
    const parts: string[] = [];
    for (const key of keys) {
      const member = record[key];
      if (member === undefined) continue;
      parts.push(`${JSON.stringify(key)}:${write(member, `${path}.${key}`, stack)}`);
    }
    out = `{${parts.join(',')}}`;
  }
  stack.pop();
  return out;
}
