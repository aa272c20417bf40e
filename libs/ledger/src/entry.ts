import { isUtf8 } from 'node:buffer';
import { hash as digest } from 'node:crypto';
import { canonicalJson, ledgerJson } from './canonical-json';

/** `prevHash` of the first entry of a ledger (seq 1): 64 zeros. */
export const GENESIS_HASH = '0'.repeat(64);

/** Entry types the writer itself appends; callers cannot append types starting with `ledger.`. */
export const LEDGER_CHECKPOINT_TYPE = 'ledger.checkpoint';
/** Type of the entry appended after the writer truncated a torn or invalid last line on start (see `LedgerWriter`). */
export const LEDGER_RECOVERED_TYPE = 'ledger.recovered';

/**
 * One line of the audit ledger (docs/ledger.md), written as one JSON object per line.
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
 * the hashed text has the members in canonical (sorted) order, the line keeps the documented reading order (docs/ledger.md).
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
  return { hash, line: `${lineText(seq, tsJson, serviceJson, typeJson, corrIdJson, dataJson, prevHash, hash)}\n` };
}

/** The line of an entry (without its newline) from its members' JSON texts, in the documented reading order (docs/ledger.md). */
function lineText(
  seq: number,
  tsJson: string,
  serviceJson: string,
  typeJson: string,
  corrIdJson: string,
  dataJson: string,
  prevHash: string,
  hash: string,
): string {
  return `{"seq":${seq},"ts":${tsJson},"service":${serviceJson},"type":${typeJson},"corrId":${corrIdJson},"data":${dataJson},"prevHash":"${prevHash}","hash":"${hash}"}`;
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

/**
 * Longest line the verifier (and the writer, looking back for its head) reads. Entries are a few KB (an admin pool
 * edit of 256 long URLs stays under 1 MB); a longer line is not an entry, and reading it whole would hold it in memory
 * — past ~512 MB V8 cannot make the string and the process dies (a tampered or garbage-filled file must be reported,
 * not crash the gateway that verifies it).
 */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

/**
 * The text of one line's bytes (without its newline), or `null` when they are not valid UTF-8. Every reader that
 * checks lines decodes them here: `Buffer#toString('utf8')` turns an invalid sequence into U+FFFD without a word, so
 * a line whose U+FFFD (EF BF BD) was edited into a lone 0xFF byte would read, parse and hash exactly as before. The
 * writer writes only UTF-8, so such a line is damage or an edit, never an entry.
 * @internal
 */
export function decodeLine(bytes: Buffer): string | null {
  return isUtf8(bytes) ? bytes.toString('utf8') : null;
}

/** Why a line {@link decodeLine} could not decode is not an entry. @internal */
export const NOT_UTF8_MESSAGE =
  'its bytes are not valid UTF-8, which the writer always writes: a byte edited, or the file damaged';

const HEX64 = /^[0-9a-f]{64}$/;
const ENTRY_KEYS = new Set(['seq', 'ts', 'service', 'type', 'corrId', 'data', 'prevHash', 'hash']);

/** Outcome of {@link parseEntryLine}. @internal */
export type ParsedLine =
  | { kind: 'ok'; entry: LedgerEntry }
  | { kind: 'unparsable'; message: string }
  | { kind: 'malformed'; message: string; seq: number | null }
  | { kind: 'non_canonical'; message: string; seq: number }
  | { kind: 'hash_mismatch'; entry: LedgerEntry; computed: string };

/**
 * Parses one ledger line (without its newline) and checks its shape, that it is byte for byte the line the writer
 * writes for that entry (see {@link encodeEntry}), and its own hash (not its links). `null` is a line whose bytes are
 * not valid UTF-8 ({@link decodeLine}): `unparsable`, as JSON text is UTF-8.
 *
 * The byte-for-byte rule is what makes the hash cover the line as every reader sees it: `JSON.parse` keeps the last of
 * two equal members and rounds numbers, while other readers keep the first or read exact integers, so a line with a
 * duplicate member, a number beyond 2^53, extra whitespace or another spelling of the same value could show a reader
 * something the hash does not cover. Such a line is `non_canonical`; a number that has no canonical form at all
 * (beyond ±(2^53 − 1), or beyond the double range) is `malformed`.
 * @internal
 */
export function parseEntryLine(line: string | null): ParsedLine {
  if (line === null) return { kind: 'unparsable', message: NOT_UTF8_MESSAGE };
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
  let dataJson: string;
  try {
    dataJson = ledgerJson(entry.data);
  } catch (error) {
    return { kind: 'malformed', message: error instanceof Error ? error.message : String(error), seq };
  }
  const tsJson = JSON.stringify(entry.ts);
  const serviceJson = JSON.stringify(entry.service);
  const typeJson = JSON.stringify(entry.type);
  const corrIdJson = entry.corrId === null ? 'null' : JSON.stringify(entry.corrId);
  const canonical = lineText(
    entry.seq,
    tsJson,
    serviceJson,
    typeJson,
    corrIdJson,
    dataJson,
    entry.prevHash,
    entry.hash,
  );
  if (canonical !== line)
    return { kind: 'non_canonical', message: canonicalDifference(line, canonical), seq: entry.seq };
  const computed = sha256Hex(
    hashedText(entry.seq, tsJson, serviceJson, typeJson, corrIdJson, dataJson, entry.prevHash),
  );
  return computed === entry.hash ? { kind: 'ok', entry } : { kind: 'hash_mismatch', entry, computed };
}

/** Where `line` leaves its canonical form, with a short excerpt of both (for the verify message). */
function canonicalDifference(line: string, canonical: string): string {
  let at = 0;
  while (at < line.length && at < canonical.length && line.charCodeAt(at) === canonical.charCodeAt(at)) at++;
  const excerpt = (text: string) => JSON.stringify(text.slice(Math.max(0, at - 16), at + 24));
  return (
    `the line is not the canonical form of the entry it parses to (a duplicate member, a number or string ` +
    `spelled otherwise, whitespace or member order), from character ${at + 1}: ${excerpt(line)}, canonical ${excerpt(canonical)}`
  );
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

const SEQ_PREFIX = '{"seq":';

/**
 * The seq of a line as the writer writes it (`{"seq":N,…`), read from its prefix without parsing the rest; `null` when
 * the line does not start that way (then it is not a canonical entry line either).
 * @internal
 */
export function seqOfCanonicalLine(text: string): number | null {
  if (!text.startsWith(SEQ_PREFIX)) return null;
  let seq = 0;
  let i = SEQ_PREFIX.length;
  for (; i < text.length && i < SEQ_PREFIX.length + 16; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) break;
    seq = seq * 10 + digit;
  }
  return i > SEQ_PREFIX.length && text.charCodeAt(i) === 44 /* , */ && Number.isSafeInteger(seq) ? seq : null;
}
