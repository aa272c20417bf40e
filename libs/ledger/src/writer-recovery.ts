// Opening a ledger file again: where the active file's chain resumes (and what torn tail to cut), the last entry of
// a file, and the check of the chain against the head witnessed outside it. Internal to LedgerWriter.
import { basename } from 'node:path';
import {
  GENESIS_HASH,
  type LedgerEntry,
  MAX_LINE_BYTES,
  parseEntryLine,
  type ParsedLine,
  seqOfCanonicalLine,
  sha256Hex,
} from './entry';
import { LedgerCorruptError, LedgerHeadError } from './errors';
import { type LedgerFileHandle, type LedgerFileSystem } from './file-system';
import { headSignatureProblem, readLedgerHead } from './head';
import { type RotatedFile } from './naming';
import { type CheckpointVerifier } from './signing';
import { linesBackward, readTailLines } from './tail';
import type { LedgerHeadCheck, LedgerRecovery } from './writer-options';

/** Where the active file's chain resumes, and what to cut. */
export interface ActiveResume {
  last: LedgerEntry | null;
  keepBytes: number;
  recovery: Omit<LedgerRecovery, 'afterSeq'> | null;
}

export function describe(parsed: Exclude<ParsedLine, { kind: 'ok' }>): string {
  switch (parsed.kind) {
    case 'unparsable':
    case 'malformed':
    case 'non_canonical':
      return parsed.message;
    case 'hash_mismatch':
      return `hash mismatch at seq ${parsed.entry.seq}`;
    default: {
      const unexpected: never = parsed;
      return String(unexpected);
    }
  }
}

/** Finds the last good entry of the active file; a torn or invalid last line is to be cut (only that one line). */
export async function recoverActive(path: string, handle: LedgerFileHandle): Promise<ActiveResume> {
  const size = await handle.size();
  const lines = await readTailLines(handle, size, 2);
  let keepBytes = size;
  let recovery: ActiveResume['recovery'] = null;
  let candidate = lines[0];
  if (candidate !== undefined) {
    const reason = !candidate.terminated
      ? 'torn_line'
      : parseEntryLine(candidate.text).kind === 'ok'
        ? null
        : 'invalid_line';
    if (reason !== null) {
      keepBytes = candidate.offset;
      recovery = {
        file: basename(path),
        reason,
        truncatedBytes: size - candidate.offset,
        truncatedSha256: sha256Hex(candidate.raw),
      };
      candidate = lines[1];
    }
  }
  if (candidate === undefined) return { last: null, keepBytes, recovery };
  const parsed = parseEntryLine(candidate.text);
  if (parsed.kind !== 'ok') {
    throw new LedgerCorruptError(
      `ledger ${path}: the entry at byte ${candidate.offset} cannot be resumed from (${describe(parsed)})` +
        (recovery === null ? '' : ' after cutting an invalid last line') +
        '; run verify and move the file aside',
    );
  }
  return { last: parsed.entry, keepBytes, recovery };
}

/** The last entry of a rotated file, or `null` when it is empty. */
export async function lastEntryOf(fs: LedgerFileSystem, path: string): Promise<LedgerEntry | null> {
  const handle = await fs.openRead(path);
  try {
    const [line] = await readTailLines(handle, await handle.size(), 1);
    if (line === undefined) return null;
    const parsed = line.terminated ? parseEntryLine(line.text) : null;
    if (parsed?.kind !== 'ok') {
      throw new LedgerCorruptError(
        `ledger ${path}: the last line of this rotated file is ${parsed === null ? 'torn' : describe(parsed)}; run verify`,
      );
    }
    return parsed.entry;
  } finally {
    await handle.close();
  }
}

/** Where {@link checkHead} looks. */
export interface HeadCheckInput {
  fs: LedgerFileSystem;
  path: string;
  headPath: string | null;
  /** Checks a signed head's signature (with the writer's key), or `null` without a key. */
  verifier: CheckpointVerifier | null;
  /** The active file and where its kept bytes end (a line recovery will cut is left out). */
  active: { handle: LedgerFileHandle; end: number };
  rotated: readonly RotatedFile[];
  /** The last entry kept. */
  last: LedgerEntry | null;
  /** Recovery is about to cut the active file's last line. */
  cutting: boolean;
}

/**
 * How to check a ledger that does not match its head, then let it start anyway (a deliberate, recorded operator
 * action). The command names the head file: kept elsewhere (ORCH_LEDGER_HEAD_PATH), verify would not find it alone.
 */
export function headAdvice(path: string, headPath: string): string {
  return (
    `run "shieldx ledger verify ${path} --head ${headPath}"; to accept the ledger as it is, move the head file aside ` +
    'and start once with ORCH_LEDGER_ACCEPT_HEADLESS=1 (recorded in the ledger)'
  );
}

/**
 * Checks the ledger on disk against its head file before anything is written (see {@link LedgerWriter.open}).
 * @throws LedgerHeadError naming both files and the seqs
 */
export async function checkHead(input: HeadCheckInput): Promise<LedgerHeadCheck> {
  const { fs, path, headPath, verifier, last } = input;
  if (headPath === null) return { path: null, status: 'disabled', head: null };
  const found = await readLedgerHead(headPath, fs);
  if (found.kind === 'missing') return { path: headPath, status: 'missing', head: null };
  if (found.kind === 'invalid') {
    throw new LedgerHeadError(
      headPath,
      `the ledger head ${headPath} is not a head (${found.message}); ${headAdvice(path, headPath)}`,
    );
  }
  const head = found.head;
  // With a key every head must be signed: an unsigned one is what a forger without the key would write.
  if (verifier !== null) {
    const problem = headSignatureProblem(head, verifier);
    if (problem !== null) {
      throw new LedgerHeadError(
        headPath,
        `the ledger head ${headPath}: ${problem} (another key, or a forged head); ${headAdvice(path, headPath)}`,
      );
    }
  }
  const lastSeq = last?.seq ?? 0;
  const witnessed = `its head ${headPath} (written ${head.ts}${head.closed ? ' at a clean close' : ''}) witnesses seq ${head.seq}`;
  if (head.seq > lastSeq) {
    const missing = head.seq === lastSeq + 1 ? `seq ${head.seq}` : `seq ${lastSeq + 1}..${head.seq}`;
    throw new LedgerHeadError(
      headPath,
      `the ledger ${path} ends at seq ${lastSeq}${input.cutting ? ' once its invalid last line is cut' : ''}, but ` +
        `${witnessed}: ${missing} removed or changed, or the ledger replaced by an older copy; ${headAdvice(path, headPath)}`,
    );
  }
  if (head.closed && lastSeq > head.seq) {
    throw new LedgerHeadError(
      headPath,
      `the ledger ${path} ends at seq ${lastSeq}, but ${witnessed}: seq ${head.seq + 1}..${lastSeq} were appended ` +
        `after the writer closed it, by something else; ${headAdvice(path, headPath)}`,
    );
  }
  const hash =
    head.seq === 0
      ? GENESIS_HASH
      : head.seq === lastSeq
        ? (last as LedgerEntry).hash
        : await hashAt(input.fs, input.active, input.rotated, head.seq);
  if (hash !== head.hash) {
    throw new LedgerHeadError(
      headPath,
      `the ledger ${path}: ${witnessed} with hash ${head.hash}, but the entry there ` +
        `${hash === null ? 'is missing or invalid' : `has hash ${hash}`}: rewritten after the head was written; ${headAdvice(path, headPath)}`,
    );
  }
  return { path: headPath, status: 'matched', head };
}

/**
 * The hash of entry `seq` (older than the last one), looked up from the end of the ledger backwards, or `null` when no
 * valid entry with that seq is where it belongs.
 */
export async function hashAt(
  fs: LedgerFileSystem,
  active: { handle: LedgerFileHandle; end: number },
  rotated: readonly RotatedFile[],
  seq: number,
): Promise<string | null> {
  /** `undefined`: not in this file, look in the one before. */
  const scan = async (handle: LedgerFileHandle, end: number): Promise<string | null | undefined> => {
    try {
      for await (const line of linesBackward(handle, end, MAX_LINE_BYTES)) {
        // The seq prefix is ASCII, so a line that is not UTF-8 still says where it stands (and is never the entry).
        const lineSeq = seqOfCanonicalLine(line.text ?? line.raw.toString('latin1'));
        if (lineSeq === null || lineSeq > seq) continue;
        if (lineSeq < seq) return null;
        const parsed = parseEntryLine(line.text);
        return parsed.kind === 'ok' ? parsed.entry.hash : null;
      }
    } catch (error) {
      if (error instanceof RangeError) return null;
      throw error;
    }
    return undefined;
  };
  let found = await scan(active.handle, active.end);
  for (let i = rotated.length - 1; found === undefined && i >= 0; i--) {
    const handle = await fs.openRead(rotated[i].path);
    try {
      found = await scan(handle, await handle.size());
    } finally {
      await handle.close();
    }
  }
  return found ?? null;
}
