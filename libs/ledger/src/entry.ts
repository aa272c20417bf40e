import { hash as digest } from 'node:crypto';
import { canonicalJson } from './canonical-json';

/** `prevHash` of the first entry of a ledger (seq 1): 64 zeros. */
export const GENESIS_HASH = '0'.repeat(64);

/** Entry types the writer itself appends; callers cannot append types starting with `ledger.`. */
export const LEDGER_CHECKPOINT_TYPE = 'ledger.checkpoint';
/** Type of the entry appended after the writer truncated a torn or invalid last line on start (see `LedgerWriter`). */
export const LEDGER_RECOVERED_TYPE = 'ledger.recovered';

/**
 * One line of the audit ledger (contract "Audit ledger"), written as one JSON object per line.
 * - `seq`: position in the chain, 1 for the first entry, then +1 per entry with no gaps (across rotated files too).
 * - `ts`: ISO-8601 UTC timestamp with milliseconds (`2025-01-31T12:00:00.000Z`) from the writer's clock.
 * - `service`: the writing service, e.g. `orchestrator`.
 * - `type`: event type, e.g. `policy.deny`; the `ledger.` prefix is reserved for the writer's own entries.
 * - `corrId`: correlation id of the request that caused the event, or `null`.
 * - `data`: event payload, any JSON value.
 * - `prevHash`: `hash` of the previous entry, {@link GENESIS_HASH} for seq 1.
 * - `hash`: SHA-256 hex (lowercase) of the {@link canonicalJson} of the entry without `hash` ({@link hashEntry}).
 */
export interface LedgerEntry {
  seq: number;
  ts: string;
  service: string;
  type: string;
  corrId: string | null;
  data: unknown;
  prevHash: string;
  hash: string;
}

/** A {@link LedgerEntry} before its hash is computed. */
export type UnhashedLedgerEntry = Omit<LedgerEntry, 'hash'>;

/**
 * The entry's hash: SHA-256 hex of the canonical JSON of the entry without `hash`.
 * @param entry the entry (a `hash` member, if present, is ignored)
 * @returns 64 lowercase hex characters
 * @throws CanonicalJsonError when a member has no canonical JSON form
 */
export function hashEntry(entry: UnhashedLedgerEntry | LedgerEntry): string {
  const rest: Record<string, unknown> = { ...entry };
  delete rest.hash;
  return sha256Hex(canonicalJson(rest));
}

/** SHA-256 hex of a string (as UTF-8) or of bytes. @internal */
export function sha256Hex(data: string | Uint8Array): string {
  // One-shot crypto.hash (Node >= 20.12) costs about half of createHash().update().digest() for short inputs.
  return digest('sha256', data, 'hex');
}

/**
 * The hashed text and the line of an entry whose `data` is already canonical JSON, built without re-serialising:
 * the hashed text has the members in canonical (sorted) order, the line keeps the contract's reading order.
 * Both parse back to the same entry, so {@link hashEntry} of the parsed line gives the same hash.
 * @internal
 */
export function encodeEntry(
  seq: number,
  ts: string,
  service: string,
  type: string,
  corrId: string | null,
  dataJson: string,
  prevHash: string,
): { hash: string; line: string } {
  const tsJson = JSON.stringify(ts);
  const serviceJson = JSON.stringify(service);
  const typeJson = JSON.stringify(type);
  const corrIdJson = corrId === null ? 'null' : JSON.stringify(corrId);
  const hash = sha256Hex(hashedText(seq, tsJson, serviceJson, typeJson, corrIdJson, dataJson, prevHash));
  const line = `{"seq":${seq},"ts":${tsJson},"service":${serviceJson},"type":${typeJson},"corrId":${corrIdJson},"data":${dataJson},"prevHash":"${prevHash}","hash":"${hash}"}\n`;
  return { hash, line };
}

/**
 * The canonical JSON of an entry without `hash`, from its members' JSON texts (`prevHash` must be hex and `seq` an
 * integer, so neither needs escaping). Equal to `canonicalJson` of the entry; faster, as nothing is sorted.
 */
function hashedText(
  seq: number,
  tsJson: string,
  serviceJson: string,
  typeJson: string,
  corrIdJson: string,
  dataJson: string,
  prevHash: string,
): string {
  // Canonical member order: corrId < data < prevHash < seq < service < ts < type (UTF-16 code units).
  return `{"corrId":${corrIdJson},"data":${dataJson},"prevHash":"${prevHash}","seq":${seq},"service":${serviceJson},"ts":${tsJson},"type":${typeJson}}`;
}

const HEX64 = /^[0-9a-f]{64}$/;
const ENTRY_KEYS = new Set(['seq', 'ts', 'service', 'type', 'corrId', 'data', 'prevHash', 'hash']);

/** Outcome of {@link parseEntryLine}. @internal */
export type ParsedLine =
  | { kind: 'ok'; entry: LedgerEntry }
  | { kind: 'unparsable'; message: string }
  | { kind: 'malformed'; message: string; seq: number | null }
  | { kind: 'hash_mismatch'; entry: LedgerEntry; computed: string };

/**
 * Parses one ledger line (without its newline) and checks its shape and its own hash (not its links).
 * @internal
 */
export function parseEntryLine(line: string): ParsedLine {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return { kind: 'unparsable', message: error instanceof Error ? error.message : String(error) };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { kind: 'malformed', message: 'not a JSON object', seq: null };
  }
  const record = value as Record<string, unknown>;
  const seq = Number.isSafeInteger(record.seq) && (record.seq as number) >= 1 ? (record.seq as number) : null;
  const problem = shapeProblem(record, seq);
  if (problem !== null) return { kind: 'malformed', message: problem, seq };
  const entry = record as unknown as LedgerEntry;
  let computed: string;
  try {
    computed = sha256Hex(
      hashedText(
        entry.seq,
        JSON.stringify(entry.ts),
        JSON.stringify(entry.service),
        JSON.stringify(entry.type),
        entry.corrId === null ? 'null' : JSON.stringify(entry.corrId),
        canonicalJson(entry.data),
        entry.prevHash,
      ),
    );
  } catch (error) {
    // Only a JSON number too large for a double (1e400 parses to Infinity) gets here.
    return { kind: 'malformed', message: error instanceof Error ? error.message : String(error), seq };
  }
  return computed === entry.hash ? { kind: 'ok', entry } : { kind: 'hash_mismatch', entry, computed };
}

function shapeProblem(record: Record<string, unknown>, seq: number | null): string | null {
  for (const key of Object.keys(record)) {
    if (!ENTRY_KEYS.has(key)) return `unknown member "${key}"`;
  }
  if (seq === null) return `seq must be an integer >= 1, got ${JSON.stringify(record.seq)}`;
  if (typeof record.ts !== 'string' || Number.isNaN(Date.parse(record.ts))) return 'ts must be an ISO-8601 string';
  if (typeof record.service !== 'string') return 'service must be a string';
  if (typeof record.type !== 'string' || record.type === '') return 'type must be a non-empty string';
  if (record.corrId !== null && typeof record.corrId !== 'string') return 'corrId must be a string or null';
  if (!('data' in record)) return 'data is missing';
  if (typeof record.prevHash !== 'string' || !HEX64.test(record.prevHash)) return 'prevHash must be 64 hex characters';
  if (typeof record.hash !== 'string' || !HEX64.test(record.hash)) return 'hash must be 64 hex characters';
  return null;
}
