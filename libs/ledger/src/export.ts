import { resolve } from 'node:path';
import { LEDGER_CHECKPOINT_TYPE, GENESIS_HASH, NOT_UTF8_MESSAGE } from './entry';
import { LedgerError } from './errors';
import {
  encodeExportHeader,
  isIsoTime,
  LEDGER_EXPORT_VERSION,
  type LedgerExportHeader,
  type LedgerExportRange,
  MAX_EXPORT_ENTRIES,
} from './export-header';
import { defaultHeadPath, type LedgerHead, readLedgerHead } from './head';
import { readLines, resolveFiles, tornTailOf } from './verify-lines';

/** Options of {@link planLedgerExport}. */
export interface LedgerExportOptions {
  /** The head file; default `<active file>.head`; `false` = none. */
  readonly headPath?: string | false;
  /** Most entries in the export (after extension); default and ceiling {@link MAX_EXPORT_ENTRIES}. */
  readonly maxEntries?: number;
  /** The export time, default now. */
  readonly now?: () => Date;
}

/** A planned export: its header (every seq known) and the ledger it reads. */
export interface LedgerExportPlan {
  readonly header: LedgerExportHeader;
  readonly activePath: string;
  /**
   * What signs the last entry: a checkpoint, the head (signed), or nothing: a ledger without a key, or a range that
   * reaches past the newest checkpoint and head (export again once the writer has signed it).
   */
  readonly endsSigned: 'checkpoint' | 'head' | 'none';
}

/** Why an export cannot be made: `no_entries` (nothing in the range), `too_large`, `invalid_range`, `unreadable`. */
export class LedgerExportError extends LedgerError {
  /**
   * @param reason stable reason
   * @param message human-readable, naming the range
   */
  constructor(
    readonly reason: 'no_entries' | 'too_large' | 'invalid_range' | 'unreadable',
    message: string,
  ) {
    super(reason === 'invalid_range' ? 'invalid_options' : 'corrupt', message);
  }
}

interface Found {
  seq: number;
  ts: string;
  type: string;
  prevHash: string;
  service: string;
}

function entryOf(text: string | null, file: string, line: number): Found {
  try {
    const value = (text === null ? null : JSON.parse(text)) as Partial<Found> | null;
    if (typeof value?.seq === 'number' && typeof value.ts === 'string' && typeof value.prevHash === 'string') {
      return value as Found;
    }
  } catch {
    // reported below
  }
  throw new LedgerExportError(
    'unreadable',
    `${file} line ${line} is not a ledger entry${text === null ? ` (${NOT_UTF8_MESSAGE})` : ''}: run "shieldx ledger verify" on the ledger`,
  );
}

function checkRange(range: LedgerExportRange, max: number): void {
  if (range.by === 'seq') {
    const { fromSeq, toSeq } = range;
    if (!Number.isSafeInteger(fromSeq) || fromSeq < 1 || !Number.isSafeInteger(toSeq) || toSeq < fromSeq) {
      throw new LedgerExportError(
        'invalid_range',
        `the seq range must be 1 <= fromSeq <= toSeq, got ${fromSeq}..${toSeq}`,
      );
    }
    if (toSeq - fromSeq + 1 > max) {
      throw new LedgerExportError(
        'too_large',
        `seq ${fromSeq}..${toSeq} is more than ${max} entries: export it in parts`,
      );
    }
    return;
  }
  if (!isIsoTime(range.since) || !isIsoTime(range.until) || Date.parse(range.until) <= Date.parse(range.since)) {
    throw new LedgerExportError(
      'invalid_range',
      `the time range must be two ISO-8601 UTC times, since before until, got ${range.since}..${range.until}`,
    );
  }
}

/**
 * Finds the seqs of an export of the ledger whose active file is `activePath` (rotated files included): seq
 * `fromSeq..toSeq`, or the entries whose `ts` is in [since, until) (from the first such entry to the last before one at
 * or after `until`). The end is extended to the next `ledger.checkpoint` so every entry is covered by a signature, or,
 * when none follows, to the head when it is signed and at or after the end. One pass over the ledger.
 * @throws LedgerExportError when the range is invalid, empty, too large, or a line in the way is not an entry
 */
export async function planLedgerExport(
  activePath: string,
  range: LedgerExportRange,
  options: LedgerExportOptions = {},
): Promise<LedgerExportPlan> {
  const max = Math.min(options.maxEntries ?? MAX_EXPORT_ENTRIES, MAX_EXPORT_ENTRIES);
  checkRange(range, max);
  const active = resolve(activePath);
  const headPath = options.headPath === undefined ? defaultHeadPath(active) : options.headPath;
  let head: LedgerHead | null = null;
  if (headPath !== false) {
    const found = await readLedgerHead(resolve(headPath));
    if (found.kind === 'ok') head = found.head;
  }
  const resolved = await resolveFiles(active);
  if ('ok' in resolved) throw new LedgerExportError('no_entries', resolved.message);
  const { files } = resolved;
  const lines = readLines(files, await tornTailOf(files.at(-1)!));
  const since = range.by === 'time' ? Date.parse(range.since) : 0;
  const until = range.by === 'time' ? Date.parse(range.until) : 0;
  let first: Found | null = null;
  let end: Found | null = null;
  let extended: Found | null = null;
  let last: Found | null = null;
  let firstPresent: number | null = null;
  try {
    for await (const source of lines) {
      const entry = entryOf(source.text, source.file, source.line);
      firstPresent ??= entry.seq;
      const before = last;
      last = entry;
      if (end === null) {
        const inRange =
          range.by === 'seq'
            ? entry.seq >= range.fromSeq && entry.seq <= range.toSeq
            : Date.parse(entry.ts) >= since && Date.parse(entry.ts) < until;
        if (first === null) {
          if (inRange) first = entry;
          else if (range.by === 'seq' && entry.seq > range.toSeq) break;
        } else if (!inRange) {
          end = before!;
          if (end.type === LEDGER_CHECKPOINT_TYPE) {
            extended = end;
            break;
          }
        } else if (entry.seq - first.seq + 1 > max) {
          throw new LedgerExportError('too_large', `the range holds more than ${max} entries: export it in parts`);
        }
        if (first !== null && end === null && range.by === 'seq' && entry.seq === range.toSeq) end = entry;
      }
      if (end !== null && entry.seq >= end.seq && entry.type === LEDGER_CHECKPOINT_TYPE) {
        extended = entry;
        break;
      }
    }
  } finally {
    await lines.return(undefined);
  }
  if (first === null) {
    const what = range.by === 'seq' ? `seq ${range.fromSeq}..${range.toSeq}` : `[${range.since}, ${range.until})`;
    const where = firstPresent === null ? 'the ledger is empty' : `the ledger holds seq ${firstPresent}..${last!.seq}`;
    throw new LedgerExportError('no_entries', `no entries in ${what}: ${where}`);
  }
  if (range.by === 'seq' && first.seq !== range.fromSeq) {
    throw new LedgerExportError(
      'no_entries',
      `seq ${range.fromSeq} is not in the ledger (it starts at seq ${first.seq})`,
    );
  }
  const endSeq = (end ?? last!).seq;
  let toSeq = endSeq;
  let endsSigned: LedgerExportPlan['endsSigned'] = 'none';
  if (extended !== null) {
    toSeq = extended.seq;
    endsSigned = 'checkpoint';
  } else if (head !== null && head.sig !== null && head.seq >= endSeq && head.seq <= last!.seq) {
    toSeq = head.seq;
    endsSigned = 'head';
  }
  if (toSeq - first.seq + 1 > max) {
    throw new LedgerExportError(
      'too_large',
      `seq ${first.seq}..${toSeq} is more than ${max} entries: export it in parts`,
    );
  }
  const fromSeq = first.seq;
  const header: LedgerExportHeader = {
    shieldxLedgerExport: LEDGER_EXPORT_VERSION,
    service: first.service,
    fromSeq,
    toSeq,
    anchor: { seq: fromSeq - 1, hash: fromSeq === 1 ? GENESIS_HASH : first.prevHash },
    exportedAt: (options.now?.() ?? new Date()).toISOString(),
    range,
    head: head !== null && head.seq >= fromSeq && head.seq <= toSeq && head.service === first.service ? head : null,
  };
  if (endsSigned === 'none' && header.head !== null && header.head.sig !== null && header.head.seq === toSeq) {
    endsSigned = 'head';
  }
  return { header, activePath: active, endsSigned };
}

/**
 * The export's text, line by line (each with its newline): the header, then the ledger's lines `fromSeq..toSeq` as
 * they are on disk. Rotated files are listed again, as the writer may have rotated since the plan.
 * @throws LedgerExportError when the ledger no longer holds those lines in order
 */
export async function* ledgerExportLines(plan: LedgerExportPlan): AsyncGenerator<string> {
  const { header } = plan;
  yield `${encodeExportHeader(header)}\n`;
  const resolved = await resolveFiles(plan.activePath);
  if ('ok' in resolved) throw new LedgerExportError('unreadable', resolved.message);
  const lines = readLines(resolved.files, await tornTailOf(resolved.files.at(-1)!));
  let expected = header.fromSeq;
  try {
    for await (const source of lines) {
      // Copied as bytes decoded from UTF-8: a line that is not UTF-8 would be copied changed, so it stops the export.
      if (source.text === null) {
        throw new LedgerExportError(
          'unreadable',
          `${source.file} line ${source.line}: ${NOT_UTF8_MESSAGE}; run "shieldx ledger verify" on the ledger`,
        );
      }
      const seq = seqOfLine(source.text);
      if (seq === null || seq < expected) continue;
      if (seq !== expected) {
        throw new LedgerExportError(
          'unreadable',
          `seq ${seq} found where seq ${expected} belongs (${source.file} line ${source.line}): run "shieldx ledger verify" on the ledger`,
        );
      }
      yield `${source.text}\n`;
      if (++expected > header.toSeq) return;
    }
  } finally {
    await lines.return(undefined);
  }
  throw new LedgerExportError('unreadable', `the ledger ends before seq ${expected}`);
}

const SEQ_PREFIX = '{"seq":';

/** A line's seq from the writer's fixed prefix `{"seq":N,`, else `null`. */
function seqOfLine(text: string): number | null {
  if (!text.startsWith(SEQ_PREFIX)) return null;
  let seq = 0;
  let i = SEQ_PREFIX.length;
  for (; i < text.length; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) break;
    seq = seq * 10 + digit;
  }
  return i > SEQ_PREFIX.length && text.charCodeAt(i) === 44 ? seq : null;
}
