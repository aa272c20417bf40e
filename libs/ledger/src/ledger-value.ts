/** Deepest nesting {@link toLedgerValue} keeps; anything deeper is replaced by `"[too deep]"`. */
export const MAX_LEDGER_VALUE_DEPTH = 64;

/**
 * A copy of `value` that `canonicalJson` accepts (so the writer takes it), for data that must be recorded whatever it
 * holds: an event is never dropped because of its data's shape. `replaced` counts the values replaced:
 * - a number beyond ±(2^53 − 1), or not finite → its exact decimal text (`"1152921504606846976"` for 2^60; `"1e+300"`
 *   from 1e21 on; `"NaN"`, `"Infinity"`);
 * - a `bigint` → its exact decimal text;
 * - a function or a symbol → `"[function]"`, `"[symbol]"`; `undefined` in an array → `null` (in an object it is left
 *   out, as JSON does; not counted);
 * - a `Map` → an object of its entries (keys as text), a `Set` → an array (not counted);
 * - a cycle → `"[cycle]"`; nesting deeper than {@link MAX_LEDGER_VALUE_DEPTH} → `"[too deep]"`; a `toJSON` or a
 *   getter that throws → `"[unreadable]"`.
 *
 * Everything else is copied as `JSON.stringify` sees it (`toJSON` honoured, own enumerable string keys, `__proto__`
 * kept as a plain member).
 * @param value any value
 */
export function toLedgerValue(value: unknown): { value: unknown; replaced: number } {
  const state = { replaced: 0, ancestors: new Set<object>() };
  const copy = convert(value, 0, state);
  return { value: copy === undefined ? null : copy, replaced: state.replaced };
}

interface ConvertState {
  replaced: number;
  ancestors: Set<object>;
}

function replace(state: ConvertState, text: string): string {
  state.replaced++;
  return text;
}

/** The JSON-safe copy of `value`; `undefined` when it is to be left out (an object member that JSON drops). */
function convert(value: unknown, depth: number, state: ConvertState): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (Number.isFinite(value) && Math.abs(value) <= Number.MAX_SAFE_INTEGER) return value;
      // The exact value the double holds (String(2 ** 60) would print …847000, a neighbour); exponent form from 1e21.
      return replace(state, Math.abs(value) < 1e21 ? BigInt(value).toString() : String(value));
    case 'bigint':
      return replace(state, value.toString());
    case 'undefined':
      return undefined;
    case 'function':
      return replace(state, '[function]');
    case 'symbol':
      return replace(state, '[symbol]');
    case 'object':
      return value === null ? null : convertObject(value, depth, state);
    default:
      // typeof has no other results in ECMAScript; kept for engines that add one.
      return replace(state, `[${typeof value}]`);
  }
}

function convertObject(value: object, depth: number, state: ConvertState): unknown {
  if (depth >= MAX_LEDGER_VALUE_DEPTH) return replace(state, '[too deep]');
  if (state.ancestors.has(value)) return replace(state, '[cycle]');
  state.ancestors.add(value);
  try {
    const withToJson = value as { toJSON?: unknown };
    if (typeof withToJson.toJSON === 'function') {
      return convert((withToJson.toJSON as (key: string) => unknown).call(value, ''), depth + 1, state);
    }
    if (Array.isArray(value) || value instanceof Set) {
      return Array.from(value as Iterable<unknown>, (item) => convert(item, depth + 1, state) ?? null);
    }
    const pairs: [string, unknown][] = [];
    const source: Iterable<[unknown, unknown]> =
      value instanceof Map ? value : Object.keys(value).map((key) => [key, (value as Record<string, unknown>)[key]]);
    for (const [key, member] of source) {
      const converted = convert(member, depth + 1, state);
      if (converted !== undefined) pairs.push([String(key), converted]);
    }
    // Object.fromEntries defines own data properties, so a "__proto__" member stays a member.
    return Object.fromEntries(pairs);
  } catch {
    return replace(state, '[unreadable]');
  } finally {
    state.ancestors.delete(value);
  }
}
