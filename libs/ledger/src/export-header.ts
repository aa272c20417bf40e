import { canonicalJson } from './canonical-json';
import { GENESIS_HASH } from './entry';
import { type LedgerHead, parseHead } from './head';

/** Format version of {@link LedgerExportHeader}. */
export const LEDGER_EXPORT_VERSION = 1;

/** Most entries one export holds. */
export const MAX_EXPORT_ENTRIES = 1_000_000;

/** The range an export was asked for: seqs `fromSeq..toSeq` (inclusive), or entries whose `ts` is in [since, until). */
export type LedgerExportRange =
  | { readonly by: 'seq'; readonly fromSeq: number; readonly toSeq: number }
  | { readonly by: 'time'; readonly since: string; readonly until: string };

/**
 * First line of an export file (canonical JSON), followed by the ledger lines `fromSeq..toSeq` byte for byte.
 * - `anchor`: the seq and hash of the entry before `fromSeq` (the first entry's `prevHash`);
 * - `range`: what was asked for; `toSeq` may go beyond it, to the next signed checkpoint or the head;
 * - `head`: the ledger's head file when its seq is within the export, else `null`.
 * The header is not signed: verify checks what it claims against the lines (and the head's own signature).
 */
export interface LedgerExportHeader {
  readonly shieldxLedgerExport: typeof LEDGER_EXPORT_VERSION;
  readonly service: string;
  readonly fromSeq: number;
  readonly toSeq: number;
  readonly anchor: { readonly seq: number; readonly hash: string };
  readonly exportedAt: string;
  readonly range: LedgerExportRange;
  readonly head: LedgerHead | null;
}

const HEADER_KEYS = 'anchor,exportedAt,fromSeq,head,range,service,shieldxLedgerExport,toSeq';
const HEX64 = /^[0-9a-f]{64}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z$/;

/** Whether `text` is an ISO-8601 UTC time (`2026-01-31T12:00:00Z`, milliseconds optional). */
export function isIsoTime(text: string): boolean {
  return ISO_TIME.test(text) && !Number.isNaN(Date.parse(text));
}

/** Whether a file's first line looks like an export header rather than a ledger entry. @internal */
export function looksLikeExportHeader(firstLine: string): boolean {
  return !firstLine.startsWith('{"seq":') && firstLine.includes('"shieldxLedgerExport"');
}

/** The header's line (without its newline). @internal */
export function encodeExportHeader(header: LedgerExportHeader): string {
  return canonicalJson(header);
}

function rangeProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'range must be an object';
  const range = value as Record<string, unknown>;
  const keys = Object.keys(range).sort().join();
  if (range.by === 'seq') {
    if (keys !== 'by,fromSeq,toSeq') return 'a seq range has members by, fromSeq, toSeq';
    const { fromSeq, toSeq } = range;
    if (!Number.isSafeInteger(fromSeq) || (fromSeq as number) < 1) return 'range.fromSeq must be an integer >= 1';
    if (!Number.isSafeInteger(toSeq) || (toSeq as number) < (fromSeq as number))
      return 'range.toSeq must be an integer >= range.fromSeq';
    return null;
  }
  if (range.by === 'time') {
    if (keys !== 'by,since,until') return 'a time range has members by, since, until';
    if (typeof range.since !== 'string' || !isIsoTime(range.since)) return 'range.since must be an ISO time';
    if (typeof range.until !== 'string' || !isIsoTime(range.until)) return 'range.until must be an ISO time';
    if (Date.parse(range.until) <= Date.parse(range.since)) return 'range.until must be after range.since';
    return null;
  }
  return 'range.by must be "seq" or "time"';
}

/**
 * Parses an export header line strictly: every member, well formed, consistent (anchor at `fromSeq - 1`, the genesis
 * hash before seq 1, a seq range starting at `fromSeq`, a head within the export and of
 * the same service), in canonical form.
 * @internal
 */
export function parseExportHeader(
  text: string,
): { ok: true; header: LedgerExportHeader } | { ok: false; message: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, message: `not JSON (${error instanceof Error ? error.message : String(error)})` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { ok: false, message: 'not an object' };
  const h = value as Record<string, unknown>;
  if (Object.keys(h).sort().join() !== HEADER_KEYS) return { ok: false, message: `members must be ${HEADER_KEYS}` };
  if (h.shieldxLedgerExport !== LEDGER_EXPORT_VERSION)
    return { ok: false, message: `shieldxLedgerExport must be ${LEDGER_EXPORT_VERSION}` };
  if (typeof h.service !== 'string' || h.service === '') return { ok: false, message: 'service must be a string' };
  const { fromSeq, toSeq } = h;
  if (!Number.isSafeInteger(fromSeq) || (fromSeq as number) < 1)
    return { ok: false, message: 'fromSeq must be an integer >= 1' };
  if (!Number.isSafeInteger(toSeq) || (toSeq as number) < (fromSeq as number))
    return { ok: false, message: 'toSeq must be an integer >= fromSeq' };
  const from = fromSeq as number;
  const to = toSeq as number;
  if (to - from + 1 > MAX_EXPORT_ENTRIES) return { ok: false, message: `more than ${MAX_EXPORT_ENTRIES} entries` };
  const anchor = h.anchor as Record<string, unknown> | null;
  if (
    typeof anchor !== 'object' ||
    anchor === null ||
    Object.keys(anchor).sort().join() !== 'hash,seq' ||
    anchor.seq !== from - 1 ||
    typeof anchor.hash !== 'string' ||
    !HEX64.test(anchor.hash) ||
    (from === 1 && anchor.hash !== GENESIS_HASH)
  ) {
    return { ok: false, message: 'anchor must be {seq: fromSeq - 1, hash: <64 hex>} (the genesis hash before seq 1)' };
  }
  if (typeof h.exportedAt !== 'string' || !isIsoTime(h.exportedAt))
    return { ok: false, message: 'exportedAt must be an ISO time' };
  const problem = rangeProblem(h.range);
  if (problem !== null) return { ok: false, message: problem };
  const range = h.range as LedgerExportRange;
  if (range.by === 'seq' && range.fromSeq !== from) {
    return { ok: false, message: `the seq range asked for starts at ${range.fromSeq}, the export at ${from}` };
  }
  if (h.head !== null) {
    const head = parseHead(canonicalJson(h.head));
    if (!head.ok) return { ok: false, message: `head: ${head.message}` };
    if (head.head.service !== h.service) return { ok: false, message: 'head.service is not the export service' };
    if (head.head.seq < from || head.head.seq > to)
      return { ok: false, message: `head.seq is not within ${from}..${to}` };
  }
  if (canonicalJson(h) !== text) return { ok: false, message: 'not in canonical form' };
  return { ok: true, header: h as unknown as LedgerExportHeader };
}
