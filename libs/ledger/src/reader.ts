import { dirname } from 'node:path';
import { decodeLine, MAX_LINE_BYTES, type LedgerEntry } from './entry';
import { type LedgerFileHandle, type LedgerFileSystem, nodeFileSystem } from './file-system';
import { fileSetFromNames } from './naming';
import { linesBackward } from './tail';

/*
 * Reading the ledger by page, for the admin API's audit view and anyone else who lists entries: positional reads, a
 * binary search by seq for the cursor, and one backward walk shared with the writer's recovery (`linesBackward`).
 * Entries come as written, unverified: `verifyLedger` is the check.
 */

/** One page request (`GET /admin/audit`). */
export interface AuditQuery {
  /** Oldest first, entries with `seq > after`. */
  readonly after?: number;
  /** Newest first, entries with `seq < before`. */
  readonly before?: number;
  /** Entries per page, 1..500. */
  readonly limit: number;
  /** Only entries of this type. */
  readonly type?: string;
  readonly order: 'asc' | 'desc';
}

/** One page of the ledger. */
export interface AuditPage {
  readonly order: 'asc' | 'desc';
  readonly entries: LedgerEntry[];
  /**
   * The query for the next page (`after` oldest first, `before` newest first), or `null` when the ledger has no more
   * in that direction. A page may hold fewer than `limit` entries and still have a `next`: with a `type` filter a page
   * stops after scanning {@link AUDIT_SCAN_BUDGET} lines, so one request stays cheap.
   */
  readonly next: { readonly after: number } | { readonly before: number } | null;
  /** Lines read for this page. */
  readonly scanned: number;
  /** Lines that were not ledger entries (a torn or damaged line; `verify` says more). */
  readonly unreadable: number;
}

/** Most lines one page reads before it returns with a `next` cursor. */
export const AUDIT_SCAN_BUDGET = 100_000;

const CHUNK = 64 * 1024;
const NEWLINE = 0x0a;
const SEQ_PREFIX = '{"seq":';

/** A line's seq from the writer's fixed line prefix `{"seq":N,`, else from the JSON; `null` when it has none. */
function seqOfLine(text: string): number | null {
  if (text.startsWith(SEQ_PREFIX)) {
    let seq = 0;
    let i = SEQ_PREFIX.length;
    for (; i < text.length; i++) {
      const digit = text.charCodeAt(i) - 48;
      if (digit < 0 || digit > 9) break;
      seq = seq * 10 + digit;
    }
    if (i > SEQ_PREFIX.length && text.charCodeAt(i) === 44 /* , */) return seq;
  }
  try {
    const value = JSON.parse(text) as { seq?: unknown } | null;
    return typeof value?.seq === 'number' ? value.seq : null;
  } catch {
    return null;
  }
}

/** A ledger file opened for positional reads. */
class LineFile {
  private constructor(
    private readonly handle: LedgerFileHandle,
    readonly size: number,
  ) {}

  static async open(fs: LedgerFileSystem, path: string): Promise<LineFile> {
    const handle = await fs.openRead(path);
    try {
      return new LineFile(handle, await handle.size());
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  close(): Promise<void> {
    return this.handle.close();
  }

  private async read(position: number, length: number): Promise<Buffer> {
    const buffer = Buffer.alloc(Math.max(0, Math.min(length, this.size - position)));
    let done = 0;
    while (done < buffer.length) {
      const bytesRead = await this.handle.read(buffer.subarray(done), buffer.length - done, position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done === buffer.length ? buffer : buffer.subarray(0, done);
  }

  /** The text of the line starting at `offset` (without its newline), or `null` past the end. */
  private async lineAt(offset: number): Promise<string | null> {
    if (offset >= this.size) return null;
    const parts: Buffer[] = [];
    // Entries are a few hundred bytes: a small first read usually holds the whole line.
    for (let at = offset, length = 1024; at < this.size; length = CHUNK) {
      const chunk = await this.read(at, length);
      if (chunk.length === 0) break;
      const newline = chunk.indexOf(NEWLINE);
      if (newline !== -1) {
        parts.push(chunk.subarray(0, newline));
        break;
      }
      parts.push(chunk);
      at += chunk.length;
    }
    return Buffer.concat(parts).toString('utf8');
  }

  /** The first line start at or after `offset` (`size` when there is none). */
  private async nextLineStart(offset: number): Promise<number> {
    if (offset === 0) return 0;
    for (let at = offset - 1; at < this.size;) {
      const chunk = await this.read(at, 4096);
      if (chunk.length === 0) break;
      const newline = chunk.indexOf(NEWLINE);
      if (newline !== -1) return at + newline + 1;
      at += chunk.length;
    }
    return this.size;
  }

  /** Seq of the first line, or `null` for an empty file or an unreadable first line. */
  async firstSeq(): Promise<number | null> {
    const line = await this.lineAt(0);
    return line === null ? null : seqOfLine(line);
  }

  /**
   * The first line start whose seq is ≥ `seq` (`size` when none), by binary search over byte offsets: lines are in
   * seq order in a ledger, so a page deep in a large file costs a few small reads, not a scan. A line without a seq
   * counts as "after".
   */
  async lowerBound(seq: number): Promise<number> {
    let best = this.size;
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = lo + Math.floor((hi - lo) / 2);
      const start = await this.nextLineStart(mid);
      if (start >= hi) {
        hi = mid;
        continue;
      }
      const line = await this.lineAt(start);
      const found = line === null ? null : seqOfLine(line);
      if (found === null || found >= seq) {
        best = start;
        hi = mid;
      } else {
        lo = start + 1;
      }
    }
    return best;
  }

  /**
   * Lines from `from` (a line start) to the end, oldest first (`null` for one that is not valid UTF-8); an
   * unterminated last line is left out.
   */
  async *forward(from: number): AsyncGenerator<string | null> {
    let carry: Buffer | null = null;
    for (let at = from; at < this.size; at += CHUNK) {
      const chunk = await this.read(at, CHUNK);
      const data: Buffer = carry === null ? chunk : Buffer.concat([carry, chunk]);
      let start = 0;
      let newline = data.indexOf(NEWLINE);
      while (newline !== -1) {
        yield decodeLine(data.subarray(start, newline));
        start = newline + 1;
        newline = data.indexOf(NEWLINE, start);
      }
      carry = start === data.length ? null : data.subarray(start);
    }
  }

  /**
   * Lines before `end` (a line start, or the size), newest first (`null` for one that is not valid UTF-8); an
   * unterminated last line is left out.
   */
  async *backward(end: number): AsyncGenerator<string | null> {
    for await (const line of linesBackward(this.handle, end, MAX_LINE_BYTES)) {
      // Only the file's last line can lack its newline: a torn write, never an entry.
      if (line.terminated) yield line.text;
    }
  }
}

interface LedgerFileInfo {
  readonly path: string;
  readonly firstSeq: number | null;
}

/** The ledger's files, oldest first, with the seq each starts at. */
async function ledgerFiles(fs: LedgerFileSystem, activePath: string): Promise<LedgerFileInfo[]> {
  let names: string[];
  try {
    names = await fs.list(dirname(activePath));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const set = fileSetFromNames(activePath, names);
  const paths = [...set.rotated.map((file) => file.path), ...(set.activeExists ? [activePath] : [])];
  const files: LedgerFileInfo[] = [];
  for (const path of paths) {
    const file = await LineFile.open(fs, path);
    try {
      files.push({ path, firstSeq: await file.firstSeq() });
    } finally {
      await file.close();
    }
  }
  return files.filter((file) => file.firstSeq !== null);
}

/**
 * Reads one page of the ledger whose active file is `activePath` (rotated files included), e.g. for `GET /admin/audit`.
 * Files are read with positional reads and a binary search for the cursor, so any page costs about the same however
 * long the ledger is. Entries are returned as written (no verification: `GET /admin/ledger/verify` does that).
 */
export async function readAuditPage(
  activePath: string,
  query: AuditQuery,
  scanBudget = AUDIT_SCAN_BUDGET,
  fs: LedgerFileSystem = nodeFileSystem,
): Promise<AuditPage> {
  const files = await ledgerFiles(fs, activePath);
  const entries: LedgerEntry[] = [];
  let scanned = 0;
  let unreadable = 0;
  let lastSeq: number | null = null;
  const ascending = query.order === 'asc';
  const after = query.after ?? 0;
  const before = query.before ?? Number.POSITIVE_INFINITY;

  /** Takes one line; returns false when the page is full or the budget is spent. */
  const take = (text: string | null): boolean => {
    scanned++;
    // A line that is not UTF-8 is not an entry (a lenient decoding would show it as one, with U+FFFD in it).
    const seq = text === null ? null : seqOfLine(text);
    if (text === null || seq === null) {
      unreadable++;
      return scanned < scanBudget;
    }
    if (ascending ? seq <= after : seq >= before) return scanned < scanBudget;
    lastSeq = seq;
    if (query.type === undefined || text.includes(`"type":${JSON.stringify(query.type)}`)) {
      let entry: LedgerEntry | undefined;
      try {
        entry = JSON.parse(text) as LedgerEntry;
      } catch {
        unreadable++;
      }
      if (entry !== undefined && (query.type === undefined || entry.type === query.type)) entries.push(entry);
    }
    return entries.length < query.limit && scanned < scanBudget;
  };

  let exhausted = true;
  if (ascending) {
    let start = 0;
    for (let i = 0; i < files.length; i++) if ((files[i].firstSeq as number) <= after + 1) start = i;
    outer: for (let i = start; i < files.length; i++) {
      const file = await LineFile.open(fs, files[i].path);
      try {
        const from = i === start && after > 0 ? await file.lowerBound(after + 1) : 0;
        for await (const line of file.forward(from)) {
          if (!take(line)) {
            exhausted = false;
            break outer;
          }
        }
      } finally {
        await file.close();
      }
    }
  } else {
    let start = files.length - 1;
    while (start >= 0 && (files[start].firstSeq as number) >= before) start--;
    outer: for (let i = start; i >= 0; i--) {
      const file = await LineFile.open(fs, files[i].path);
      try {
        const end = i === start && Number.isFinite(before) ? await file.lowerBound(before) : file.size;
        for await (const line of file.backward(end)) {
          if (!take(line)) {
            exhausted = false;
            break outer;
          }
        }
      } finally {
        await file.close();
      }
    }
  }
  const cursor = lastSeq as number | null;
  let next: AuditPage['next'] = null;
  if (!exhausted && cursor !== null) next = ascending ? { after: cursor } : cursor > 1 ? { before: cursor } : null;
  return { order: query.order, entries, next, scanned, unreadable };
}
