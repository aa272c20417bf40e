import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Transform, type TransformCallback } from 'node:stream';
import { GENESIS_HASH, LEDGER_CHECKPOINT_TYPE, LEDGER_RECOVERED_TYPE, type LedgerEntry, parseEntryLine } from './entry';
import { nodeFileSystem } from './file-system';
import { activePathsInDir, fileSetFromNames, looksRotated } from './naming';
import { checkpointPayload, type CheckpointVerifier, createVerifier, type VerificationKey } from './signing';
import { readTailLines } from './tail';

/** Options of {@link verifyLedger}. */
export interface VerifyOptions {
  /** Checks checkpoint signatures with this key; without it, checkpoints are checked for consistency only. */
  key?: VerificationKey;
  /**
   * Accept a ledger whose oldest present entry is not seq 1 with the genesis `prevHash` (older rotated files
   * pruned, or a single rotated file verified alone); the start is then reported as `startsAt`. Default false: such
   * a start is a failure (`seq_gap` or `prev_hash_mismatch` at the first entry), because it is also what removing the
   * first lines looks like.
   */
  allowPrunedStart?: boolean;
}

/**
 * Why verification failed:
 * - `unparsable`: a line is not JSON (its `seq` is the one expected at that position);
 * - `malformed`: JSON, but not an entry (missing/unknown member, wrong type);
 * - `hash_mismatch`: the entry's content does not give its `hash` (the line was changed);
 * - `seq_gap`: `seq` jumps forward and the skipped seq appears nowhere later (lines removed, or a file cut short);
 * - `seq_out_of_order`: `seq` goes back or repeats, or jumps forward while the skipped seq comes later (lines
 *   inserted, swapped or moved; files renamed out of order);
 * - `prev_hash_mismatch`: `prevHash` is not the previous entry's `hash` (a forged or re-hashed entry, or a broken
 *   link across a rotation);
 * - `bad_checkpoint`: a `ledger.checkpoint` entry's data is malformed or does not name the entry before it;
 * - `bad_signature`: a checkpoint signature does not verify with the given key (or uses another algorithm);
 * - `no_ledger`: no ledger file at the path; `ambiguous_path`: a directory holding several ledgers;
 * - `io_error`: a file could not be read.
 */
export type VerifyFailureReason =
  | 'unparsable'
  | 'malformed'
  | 'hash_mismatch'
  | 'seq_gap'
  | 'seq_out_of_order'
  | 'prev_hash_mismatch'
  | 'bad_checkpoint'
  | 'bad_signature'
  | 'no_ledger'
  | 'ambiguous_path'
  | 'io_error';

/** An intact ledger. With no entries, `firstSeq` and `lastSeq` are 0 and `lastHash` is the genesis hash. */
export interface VerifyOk {
  ok: true;
  /** Entries verified. */
  entries: number;
  /** Files read, oldest first. */
  files: string[];
  firstSeq: number;
  lastSeq: number;
  lastHash: string;
  /** With `allowPrunedStart`: where a ledger not starting at seq 1 starts, else `null`. */
  startsAt: { seq: number; prevHash: string } | null;
  /** `ledger.checkpoint` entries seen. */
  checkpoints: number;
  /** Whether their signatures were checked (a key was given). */
  signaturesChecked: boolean;
  /** `ledger.recovered` entries seen (each records a torn line the writer cut after a crash). */
  recoveries: number;
  /**
   * The newest file ends with an incomplete line (no newline): a write in progress, or a crash the writer has not yet
   * recovered from (it cuts the line on its next start). Not a failure: nothing before it is affected.
   */
  tornTail: { file: string; bytes: number } | null;
}

/** A broken ledger: the first problem found, in file order. */
export interface VerifyFailure {
  ok: false;
  reason: VerifyFailureReason;
  /** The first bad seq (see {@link verifyLedger}); `null` for file-level problems. */
  seq: number | null;
  /** The file holding it, or `null`. */
  file: string | null;
  /** 1-based line number in {@link file}, or `null`. */
  line: number | null;
  /** Human-readable explanation. */
  message: string;
  /** Entries verified before the problem. */
  entriesVerified: number;
}

/** Outcome of {@link verifyLedger}. */
export type VerifyResult = VerifyOk | VerifyFailure;

interface SourceLine {
  file: string;
  line: number;
  text: string;
}

/**
 * Longest line the verifier reads. Entries are a few KB (an admin pool edit of 256 long URLs stays under 1 MB); a
 * longer line is not an entry, and reading it whole would hold it in memory — past ~512 MB V8 cannot make the string
 * and the process dies (a tampered or garbage-filled file must be reported, not crash the gateway that verifies it).
 */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

/** A line longer than {@link MAX_LINE_BYTES}; `line` is its 1-based number in `file`. */
class LineTooLongError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
  ) {
    super(`line is longer than ${MAX_LINE_BYTES} bytes: not a ledger entry`);
  }
}

/** Passes bytes through, failing once a line (as readline splits them: at \n or \r) grows past `max` bytes. */
function boundedLines(max: number): Transform {
  let run = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
      const lastBreak = Math.max(chunk.lastIndexOf(0x0a), chunk.lastIndexOf(0x0d));
      // A longer line spans several chunks (max is far above the chunk size), so the run between breaks is enough.
      run = lastBreak === -1 ? run + chunk.length : chunk.length - lastBreak - 1;
      if (run > max) return done(new RangeError('line too long'));
      done(null, chunk);
    },
  });
}

/** Lines of `files` in order, streamed; the fragment after the last newline of the last file is left out. */
async function* readLines(files: readonly string[], tornTail: { bytes: number; offset: number } | null) {
  for (let i = 0; i < files.length; i++) {
    const file = files[i];
    const end = i === files.length - 1 && tornTail !== null ? tornTail.offset : null;
    if (end === 0) continue;
    const stream = createReadStream(file, end === null ? {} : { end: end - 1 });
    const bounded = boundedLines(MAX_LINE_BYTES);
    stream.on('error', (error) => bounded.destroy(error));
    const lines = createInterface({ input: stream.pipe(bounded), crlfDelay: Infinity });
    let line = 0;
    try {
      for await (const text of lines) {
        line++;
        yield { file, line, text } satisfies SourceLine;
      }
    } catch (error) {
      if (error instanceof RangeError) throw new LineTooLongError(file, line + 1);
      throw error;
    } finally {
      lines.close();
      bounded.destroy();
      stream.destroy();
    }
  }
}

async function tornTailOf(file: string): Promise<{ bytes: number; offset: number } | null> {
  const handle = await nodeFileSystem.openRead(file);
  try {
    const [last] = await readTailLines(handle, await handle.size(), 1);
    return last === undefined || last.terminated ? null : { bytes: last.raw.length, offset: last.offset };
  } finally {
    await handle.close();
  }
}

/** The ledger files a path names, oldest first, or a failure. */
async function resolveFiles(target: string): Promise<string[] | VerifyFailure> {
  const fileFailure = (reason: VerifyFailureReason, message: string): VerifyFailure => ({
    ok: false,
    reason,
    seq: null,
    file: null,
    line: null,
    message,
    entriesVerified: 0,
  });
  const path = resolve(target);
  let isDir = false;
  let exists = true;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return fileFailure('io_error', String(error));
    exists = false;
  }
  let active = path;
  if (isDir) {
    const actives = activePathsInDir(path, await readdir(path));
    if (actives.length === 0) return fileFailure('no_ledger', `no *.jsonl ledger in directory ${path}`);
    if (actives.length > 1) {
      return fileFailure(
        'ambiguous_path',
        `directory ${path} holds ${actives.length} ledgers (${actives.map((p) => basename(p)).join(', ')}); name one file`,
      );
    }
    active = actives[0]!;
  } else if (exists && looksRotated(basename(path))) {
    return [path];
  }
  let names: string[];
  try {
    names = await readdir(dirname(active));
  } catch (error) {
    return fileFailure(
      (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no_ledger' : 'io_error',
      `cannot list ${dirname(active)}: ${String(error)}`,
    );
  }
  const set = fileSetFromNames(active, names);
  const files = [...set.rotated.map((r) => r.path), ...(set.activeExists ? [active] : [])];
  if (files.length === 0) return fileFailure('no_ledger', `no ledger file at ${path}`);
  return files;
}

function checkpointProblem(entry: LedgerEntry, verifier: CheckpointVerifier | null): VerifyFailureReason | null {
  const data = entry.data as Record<string, unknown> | null;
  if (
    typeof data !== 'object' ||
    data === null ||
    data.uptoSeq !== entry.seq - 1 ||
    data.uptoHash !== entry.prevHash ||
    (data.alg !== 'hmac-sha256' && data.alg !== 'ed25519') ||
    typeof data.sig !== 'string'
  ) {
    return 'bad_checkpoint';
  }
  if (verifier === null) return null;
  if (data.alg !== verifier.alg) return 'bad_signature';
  const payload = checkpointPayload(entry.service, entry.seq - 1, entry.prevHash, data.alg);
  return verifier.verify(payload, data.sig) ? null : 'bad_signature';
}

/**
 * Verifies a ledger: `pathOrDir` is the active file (its rotated siblings are included, oldest first), a directory
 * holding one ledger, or one rotated file alone. Lines are streamed, so memory stays small for any size.
 *
 * Each line must parse, have exactly the entry members, hash to its `hash`; `seq` must be 1 more than the previous
 * (1 for the first entry) and `prevHash` the previous `hash` (genesis for the first), across files too; checkpoints
 * must name the entry before them, and with `options.key` their signatures must verify. The reported `seq` is: for a
 * changed line, its own (claimed) seq; for an unparsable line, the seq expected there; for removed lines, the seq
 * found where the gap shows (the entry after the hole, `message` names the missing range); for inserted, swapped or
 * moved lines, the first seq found out of place.
 *
 * @returns {@link VerifyOk} or the first problem as {@link VerifyFailure}; never rejects for a bad ledger
 * @throws LedgerError `invalid_options` when `options.key` is invalid
 */
export async function verifyLedger(pathOrDir: string, options: VerifyOptions = {}): Promise<VerifyResult> {
  const verifier = options.key === undefined ? null : createVerifier(options.key);
  let files: string[] | VerifyFailure;
  try {
    files = await resolveFiles(pathOrDir);
  } catch (error) {
    files = {
      ok: false,
      reason: 'io_error',
      seq: null,
      file: null,
      line: null,
      message: `cannot list ledger files at ${pathOrDir}: ${String(error)}`,
      entriesVerified: 0,
    };
  }
  if (!Array.isArray(files)) return files;

  let entries = 0;
  let checkpoints = 0;
  let recoveries = 0;
  let firstSeq = 0;
  let startsAt: VerifyOk['startsAt'] = null;
  let expectedSeq = 1;
  let expectedPrev = GENESIS_HASH;
  let tornTail: VerifyOk['tornTail'] = null;
  let current: SourceLine | null = null;

  const failure = (reason: VerifyFailureReason, seq: number | null, message: string): VerifyFailure => ({
    ok: false,
    reason,
    seq,
    file: current?.file ?? null,
    line: current?.line ?? null,
    message,
    entriesVerified: entries,
  });

  try {
    const lastFile = files.at(-1)!;
    const torn = await tornTailOf(lastFile);
    if (torn !== null) tornTail = { file: lastFile, bytes: torn.bytes };
    const lines = readLines(files, torn);
    for await (const source of lines) {
      current = source;
      const parsed = parseEntryLine(source.text);
      switch (parsed.kind) {
        case 'ok':
          break;
        case 'unparsable':
          return failure('unparsable', expectedSeq, `line is not JSON (${parsed.message})`);
        case 'malformed':
          return failure('malformed', parsed.seq ?? expectedSeq, `line is not a ledger entry: ${parsed.message}`);
        case 'hash_mismatch':
          return failure(
            'hash_mismatch',
            parsed.entry.seq,
            `entry seq ${parsed.entry.seq} was changed: its content hashes to ${parsed.computed}, not to its hash ${parsed.entry.hash}`,
          );
        default: {
          const unexpected: never = parsed;
          throw new Error(`unexpected parse outcome ${JSON.stringify(unexpected)}`);
        }
      }
      const entry = parsed.entry;
      if (entries === 0) {
        firstSeq = entry.seq;
        if (options.allowPrunedStart === true && (entry.seq !== 1 || entry.prevHash !== GENESIS_HASH)) {
          startsAt = { seq: entry.seq, prevHash: entry.prevHash };
          expectedSeq = entry.seq;
          expectedPrev = entry.prevHash;
        }
      }
      if (entry.seq < expectedSeq) {
        return failure(
          'seq_out_of_order',
          entry.seq,
          `seq ${entry.seq} appears where seq ${expectedSeq} belongs (a line inserted, repeated or moved back)`,
        );
      }
      if (entry.seq > expectedSeq) {
        const at = current;
        let later: SourceLine | null = null;
        for await (const rest of lines) {
          const seq = seqOf(rest.text);
          if (seq === expectedSeq) {
            later = rest;
            break;
          }
        }
        current = at;
        if (later !== null) {
          return failure(
            'seq_out_of_order',
            entry.seq,
            `seq ${entry.seq} appears where seq ${expectedSeq} belongs; seq ${expectedSeq} comes later (${basename(later.file)} line ${later.line}): lines swapped or moved`,
          );
        }
        const missing = expectedSeq === entry.seq - 1 ? `seq ${expectedSeq}` : `seq ${expectedSeq}..${entry.seq - 1}`;
        return failure(
          'seq_gap',
          entry.seq,
          entries === 0
            ? `the ledger starts at seq ${entry.seq}, not 1: ${missing} missing (older files pruned? see allowPrunedStart)`
            : `seq ${entry.seq} follows seq ${expectedSeq - 1}: ${missing} missing (lines removed or a file cut short)`,
        );
      }
      if (entry.prevHash !== expectedPrev) {
        return failure(
          'prev_hash_mismatch',
          entry.seq,
          entries === 0
            ? `the first entry's prevHash is ${entry.prevHash}, not the genesis hash (older files pruned? see allowPrunedStart)`
            : `entry seq ${entry.seq} does not link to seq ${expectedSeq - 1}: prevHash ${entry.prevHash}, expected ${expectedPrev}` +
                (source.line === 1 && entries > 0 ? ' (the link across a rotation is broken)' : ''),
        );
      }
      if (entry.type === LEDGER_CHECKPOINT_TYPE) {
        const problem = checkpointProblem(entry, verifier);
        if (problem !== null) {
          return failure(
            problem,
            entry.seq,
            problem === 'bad_signature'
              ? `checkpoint seq ${entry.seq}: the signature does not verify with the given key`
              : `checkpoint seq ${entry.seq}: data must be {uptoSeq: ${entry.seq - 1}, uptoHash: <its prevHash>, alg, sig}`,
          );
        }
        checkpoints++;
      } else if (entry.type === LEDGER_RECOVERED_TYPE) {
        recoveries++;
      }
      entries++;
      expectedSeq = entry.seq + 1;
      expectedPrev = entry.hash;
    }
  } catch (error) {
    if (error instanceof LineTooLongError) {
      current = { file: error.file, line: error.line, text: '' };
      return failure('unparsable', expectedSeq, error.message);
    }
    return failure('io_error', null, `cannot read ${current?.file ?? files.join(', ')}: ${String(error)}`);
  }
  return {
    ok: true,
    entries,
    files,
    firstSeq,
    lastSeq: expectedSeq - 1,
    lastHash: expectedPrev,
    startsAt,
    checkpoints,
    signaturesChecked: verifier !== null,
    recoveries,
    tornTail,
  };
}

/** The `seq` of a line, or `null` when it has none (used only to tell a gap from a reorder). */
function seqOf(text: string): number | null {
  try {
    const value = JSON.parse(text) as { seq?: unknown } | null;
    return typeof value?.seq === 'number' ? value.seq : null;
  } catch {
    return null;
  }
}

/**
 * Human-readable text for a {@link VerifyResult}, as `shieldx ledger verify` prints it (which exits 0 when
 * `result.ok`, 1 otherwise). Several lines, no trailing newline.
 */
export function formatVerifyResult(result: VerifyResult): string {
  if (!result.ok) {
    const where =
      result.file === null ? '' : `\n  at ${result.file}${result.line === null ? '' : `, line ${result.line}`}`;
    const head =
      result.seq === null ? `ledger BROKEN: ${result.reason}` : `ledger BROKEN at seq ${result.seq}: ${result.reason}`;
    return `${head}${where}\n  ${result.message}\n  ${result.entriesVerified} entries verified before it`;
  }
  const lines = [
    result.entries === 0
      ? `ledger OK: no entries in ${result.files.length} file(s)`
      : `ledger OK: ${result.entries} entries, seq ${result.firstSeq}..${result.lastSeq}, in ${result.files.length} file(s)`,
    `  last hash ${result.lastHash}`,
  ];
  if (result.checkpoints > 0 || result.signaturesChecked) {
    lines.push(
      `  ${result.checkpoints} checkpoint(s), ${result.signaturesChecked ? 'signatures verified' : 'signatures not checked (no key given)'}`,
    );
  }
  if (result.startsAt !== null) {
    lines.push(`  starts at seq ${result.startsAt.seq} (older entries pruned), prevHash ${result.startsAt.prevHash}`);
  }
  if (result.recoveries > 0) {
    lines.push(
      `  ${result.recoveries} crash recovery record(s) (ledger.recovered): a torn last line was cut on restart`,
    );
  }
  if (result.tornTail !== null) {
    lines.push(
      `  note: ${result.tornTail.file} ends with an incomplete line of ${result.tornTail.bytes} bytes (a write in progress, or a crash not yet recovered); not counted`,
    );
  }
  return lines.join('\n');
}
