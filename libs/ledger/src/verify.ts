import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Transform, type TransformCallback } from 'node:stream';
import {
  GENESIS_HASH,
  LEDGER_CHECKPOINT_TYPE,
  LEDGER_RECOVERED_TYPE,
  type LedgerEntry,
  MAX_LINE_BYTES,
  parseEntryLine,
} from './entry';
import { LedgerError } from './errors';
import { nodeFileSystem } from './file-system';
import { defaultHeadPath, headSignatureProblem, type LedgerHead, readLedgerHead } from './head';
import { activePathsInDir, fileSetFromNames, looksRotated } from './naming';
import { checkpointPayload, type CheckpointVerifier, createVerifier, type VerificationKey } from './signing';
import { readTailLines } from './tail';

export { MAX_LINE_BYTES } from './entry';

/** Default of {@link VerifyOptions.checkpointEvery}, the writer's default interval. */
export const DEFAULT_CHECKPOINT_EVERY = 1000;

/** Options of {@link verifyLedger}. */
export interface VerifyOptions {
  /**
   * Checks checkpoint signatures with this key, requires a signed checkpoint at least every {@link checkpointEvery}
   * entries, and requires a head file signed with it. Without a key, checkpoints are checked for consistency only.
   */
  key?: VerificationKey;
  /**
   * With a key: no more than this many entries may follow one another without a signed checkpoint (the writer's
   * `checkpointEvery`; give the largest the ledger was ever written with). Integer ≥ 0, default
   * {@link DEFAULT_CHECKPOINT_EVERY}; 0 = checkpoints not required.
   */
  checkpointEvery?: number;
  /**
   * The head file the ledger must reach and match (see `LedgerHead`); default `<active file>.head` (none for one
   * rotated file named alone); `false` = no head (then removing the newest entries cannot be detected). A missing
   * head file is a failure (`no_head`) with a key, a note (`headMissing`) without.
   */
  headPath?: string | false;
  /**
   * A head the caller knows first-hand (a running writer's durable position): checked instead of the head file, and
   * not signed.
   */
  expectHead?: { readonly seq: number; readonly hash: string };
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
 * - `malformed`: JSON, but not an entry (missing/unknown member, wrong type, a number beyond ±(2^53 − 1));
 * - `hash_mismatch`: the entry's content does not give its `hash` (the line was changed);
 * - `seq_gap`: `seq` jumps forward and the skipped seq appears nowhere later (lines removed, or a file cut short);
 * - `seq_out_of_order`: `seq` goes back or repeats, or jumps forward while the skipped seq comes later (lines
 *   inserted, swapped or moved; files renamed out of order);
 * - `prev_hash_mismatch`: `prevHash` is not the previous entry's `hash` (a forged or re-hashed entry, or a broken
 *   link across a rotation);
 * - `non_canonical`: the line parses to a valid entry but is not byte for byte the line the writer writes for it (a
 *   duplicate member, a number or string spelled otherwise, whitespace, member order): a reader could see something
 *   the hash does not cover;
 * - `bad_checkpoint`: a `ledger.checkpoint` entry's data is malformed or does not name the entry before it;
 * - `bad_signature`: a checkpoint signature does not verify with the given key (or uses another algorithm);
 * - `missing_checkpoint` (with a key): more than `checkpointEvery` entries in a row without a signed checkpoint after
 *   the first one, more than that many and no checkpoint at all, or a ledger closed cleanly whose last entry is not
 *   one (checkpoints removed and the chain re-hashed);
 * - `truncated`: the ledger ends before the seq its head witnesses (the newest entries removed);
 * - `head_mismatch`: the entry at the head's seq does not have the head's hash (rewritten after the head was written),
 *   or entries follow a head written at a clean close;
 * - `bad_head`: the head file is not a valid head, or (with a key) is not signed or its signature does not verify;
 * - `no_head` (with a key): the head file is missing;
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
  | 'non_canonical'
  | 'bad_checkpoint'
  | 'bad_signature'
  | 'missing_checkpoint'
  | 'truncated'
  | 'head_mismatch'
  | 'bad_head'
  | 'no_head'
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
  /** The head the ledger was found to reach and match, or `null` when none was checked. */
  head: VerifiedHead | null;
  /** The head file looked for and not found (without a key; with one that is a `no_head` failure), else `null`. */
  headMissing: string | null;
  /**
   * With a key: entries before the first checkpoint when they are more than `checkpointEvery` (a ledger written
   * without a key before one was configured; the first checkpoint signs them too), else 0.
   */
  unsignedStart: number;
}

/** The head {@link VerifyOk} was checked against. */
export interface VerifiedHead {
  /** `file`: a head file; `writer`: the running writer's own position ({@link VerifyOptions.expectHead}). */
  source: 'file' | 'writer';
  /** The head file, or `null`. */
  path: string | null;
  seq: number;
  hash: string;
  /** When the head was written (`null` for the writer's). */
  ts: string | null;
  /** Written at a clean close. */
  closed: boolean;
  /** Its signature was verified with the key. */
  signed: boolean;
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

/** A line longer than {@link MAX_LINE_BYTES}; `line` is its 1-based number in `file`. */
class LineTooLongError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
  ) {
    super(`line is longer than ${MAX_LINE_BYTES} bytes: not a ledger entry`);
  }
}

/**
 * Passes bytes through, failing once a line grows past `max` bytes. A carriage return is passed on as a NUL: readline
 * would take it for a line break (or drop it before \n) and hide it from the byte-for-byte check, while the writer ends
 * lines with \n alone and never writes a raw control character, so the line holding it fails where it stands.
 */
function boundedLines(max: number): Transform {
  let run = 0;
  return new Transform({
    transform(given: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
      const chunk = given.includes(0x0d) ? Buffer.from(given.map((byte) => (byte === 0x0d ? 0 : byte))) : given;
      const lastBreak = chunk.lastIndexOf(0x0a);
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

/** The ledger files a path names, oldest first, and its active file (`null` for a rotated file alone); or a failure. */
async function resolveFiles(target: string): Promise<{ files: string[]; active: string | null } | VerifyFailure> {
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
    return { files: [path], active: null };
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
  return { files, active };
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

/** A head to check the ledger against, loaded before the lines are read. */
interface ExpectedHead {
  head: VerifiedHead;
  /** A problem with the head itself, reported once the lines are found intact (file order first). */
  problem: { reason: VerifyFailureReason; message: string } | null;
}

/** The head named by the options: the writer's, the head file's, or none (`missing` names a file not found). */
async function loadHead(
  options: VerifyOptions,
  active: string | null,
  verifier: CheckpointVerifier | null,
): Promise<{ expected: ExpectedHead | null; missing: string | null }> {
  if (options.expectHead !== undefined) {
    const { seq, hash } = options.expectHead;
    return {
      expected: {
        head: { source: 'writer', path: null, seq, hash, ts: null, closed: false, signed: false },
        problem: null,
      },
      missing: null,
    };
  }
  const path = options.headPath === undefined ? (active === null ? null : defaultHeadPath(active)) : options.headPath;
  if (path === false || path === null) return { expected: null, missing: null };
  const headPath = resolve(path);
  let found: Awaited<ReturnType<typeof readLedgerHead>>;
  try {
    found = await readLedgerHead(headPath);
  } catch (error) {
    found = { kind: 'invalid', message: `cannot read it: ${String(error)}` };
  }
  const placeholder: VerifiedHead = {
    source: 'file',
    path: headPath,
    seq: 0,
    hash: GENESIS_HASH,
    ts: null,
    closed: false,
    signed: false,
  };
  if (found.kind === 'missing') {
    if (verifier === null) return { expected: null, missing: headPath };
    const message =
      `no head file at ${headPath}: with a key the head is required, as it is what shows the newest entries were ` +
      'removed (give its path with --head, or skip it with --no-head and lose that check)';
    return { expected: { head: placeholder, problem: { reason: 'no_head', message } }, missing: null };
  }
  if (found.kind === 'invalid') {
    const message = `the head file ${headPath} is not a ledger head: ${found.message}`;
    return { expected: { head: placeholder, problem: { reason: 'bad_head', message } }, missing: null };
  }
  const head: LedgerHead = found.head;
  const signatureProblem = verifier === null ? null : headSignatureProblem(head, verifier);
  return {
    expected: {
      head: {
        source: 'file',
        path: headPath,
        seq: head.seq,
        hash: head.hash,
        ts: head.ts,
        closed: head.closed,
        signed: verifier !== null && signatureProblem === null,
      },
      problem:
        signatureProblem === null
          ? null
          : { reason: 'bad_head', message: `the head file ${headPath}: ${signatureProblem} (forged or replaced)` },
    },
    missing: null,
  };
}

/**
 * Verifies a ledger: `pathOrDir` is the active file (its rotated siblings are included, oldest first), a directory
 * holding one ledger, or one rotated file alone. Lines are streamed, so memory stays small for any size.
 *
 * Each line must parse, be exactly the line the writer writes for its entry (canonical JSON, see `non_canonical`),
 * hash to its `hash`; `seq` must be 1 more than the previous (1 for the first entry) and `prevHash` the previous
 * `hash` (genesis for the first), across files too; checkpoints must name the entry before them, and with
 * `options.key` their signatures must verify and no more than `checkpointEvery` entries may go without one (before the
 * first checkpoint, any number when one follows: entries written before a key was configured). Then the head
 * (`options.expectHead`, else the head file) must be reached and matched: the entry at its seq has its hash, and
 * nothing follows a head written at a clean close, whose entry must be a checkpoint (with a key).
 *
 * The reported `seq` is: for a changed line, its own (claimed) seq; for an unparsable line, the seq expected there;
 * for removed lines, the seq found where the gap shows (the entry after the hole, `message` names the missing range),
 * or the first missing seq when the newest entries were removed (`truncated`); for inserted, swapped or moved lines,
 * the first seq found out of place. Problems with the head file itself are reported after those of the lines.
 *
 * @returns {@link VerifyOk} or the first problem as {@link VerifyFailure}; never rejects for a bad ledger
 * @throws LedgerError `invalid_options` when `options.key` or `options.checkpointEvery` is invalid
 */
export async function verifyLedger(pathOrDir: string, options: VerifyOptions = {}): Promise<VerifyResult> {
  const verifier = options.key === undefined ? null : createVerifier(options.key);
  const every = options.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
  if (!Number.isSafeInteger(every) || every < 0) {
    throw new LedgerError('invalid_options', `checkpointEvery must be an integer >= 0, got ${every}`);
  }
  const requireCheckpoints = verifier !== null && every > 0;
  let resolved: { files: string[]; active: string | null } | VerifyFailure;
  try {
    resolved = await resolveFiles(pathOrDir);
  } catch (error) {
    resolved = {
      ok: false,
      reason: 'io_error',
      seq: null,
      file: null,
      line: null,
      message: `cannot list ledger files at ${pathOrDir}: ${String(error)}`,
      entriesVerified: 0,
    };
  }
  if ('ok' in resolved) return resolved;
  const { files } = resolved;
  const { expected, missing: headMissing } = await loadHead(options, resolved.active, verifier);
  const headSeq = expected?.head.seq ?? -1;
  let hashAtHead: string | null = null;

  let entries = 0;
  let checkpoints = 0;
  let recoveries = 0;
  let firstSeq = 0;
  let startsAt: VerifyOk['startsAt'] = null;
  let expectedSeq = 1;
  let expectedPrev = GENESIS_HASH;
  let tornTail: VerifyOk['tornTail'] = null;
  let current: SourceLine | null = null;
  let lastType = '';
  /** Entries since the last checkpoint (or the start); the seq where they first exceeded `every`. */
  let run = 0;
  let lastCheckpointSeq = 0;
  let firstOverSeq: number | null = null;
  let unsignedStart = 0;

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
        case 'non_canonical':
          return failure('non_canonical', parsed.seq, `entry seq ${parsed.seq}: ${parsed.message}`);
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
        if (checkpoints === 0 && firstOverSeq !== null) unsignedStart = run;
        checkpoints++;
        run = 0;
        lastCheckpointSeq = entry.seq;
      } else {
        if (entry.type === LEDGER_RECOVERED_TYPE) recoveries++;
        if (requireCheckpoints && ++run > every) {
          if (checkpoints > 0) {
            return failure(
              'missing_checkpoint',
              entry.seq,
              `${run} entries follow the checkpoint at seq ${lastCheckpointSeq} without a signed checkpoint; the ` +
                `writer signs one at least every ${every} (checkpoints removed and the chain re-hashed, or a ledger ` +
                'written with a larger checkpointEvery)',
            );
          }
          firstOverSeq ??= entry.seq;
        }
      }
      if (entry.seq === headSeq) hashAtHead = entry.hash;
      lastType = entry.type;
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
  const lastSeq = expectedSeq - 1;
  // What follows concerns the ledger as a whole, not one line.
  current = null;
  if (checkpoints === 0 && firstOverSeq !== null) {
    return failure(
      'missing_checkpoint',
      firstOverSeq,
      `${entries} entries and no signed checkpoint; the writer signs one at least every ${every} (checkpoints ` +
        'removed and the chain re-hashed, or a ledger written with a larger checkpointEvery or without a key)',
    );
  }
  if (expected !== null) {
    const { head, problem } = expected;
    if (problem !== null) return failure(problem.reason, null, problem.message);
    const source = head.source === 'writer' ? "the writer's durable position" : `the head ${head.path}`;
    const witnessed = `${source}${head.ts === null ? '' : ` (written ${head.ts}${head.closed ? ' at a clean close' : ''})`}`;
    if (head.seq > lastSeq) {
      const missing = head.seq === lastSeq + 1 ? `seq ${head.seq}` : `seq ${lastSeq + 1}..${head.seq}`;
      return failure(
        'truncated',
        lastSeq + 1,
        `the ledger ends at seq ${lastSeq}, but ${witnessed} is seq ${head.seq}: ${missing} removed (the newest ` +
          'entries deleted, or the ledger replaced by an older copy)',
      );
    }
    const found = head.seq === 0 ? GENESIS_HASH : hashAtHead;
    if (found === null) {
      return failure(
        'head_mismatch',
        head.seq,
        `${witnessed} is seq ${head.seq}, which precedes the oldest entry present (seq ${firstSeq})`,
      );
    }
    if (found !== head.hash) {
      return failure(
        'head_mismatch',
        head.seq,
        `${witnessed} is seq ${head.seq} with hash ${head.hash}, but that entry has hash ${found}: the ledger was ` +
          'rewritten after the head was written',
      );
    }
    if (head.closed && lastSeq > head.seq) {
      return failure(
        'head_mismatch',
        head.seq + 1,
        `${witnessed} is seq ${head.seq}, but seq ${head.seq + 1}..${lastSeq} follow it: appended after the writer ` +
          'closed the ledger, by something else',
      );
    }
    if (head.closed && requireCheckpoints && lastSeq > 0 && lastType !== LEDGER_CHECKPOINT_TYPE) {
      return failure(
        'missing_checkpoint',
        lastSeq,
        `the ledger was closed cleanly at seq ${lastSeq}, but its last entry is not a signed checkpoint (the writer ` +
          'appends one when it closes)',
      );
    }
  }
  return {
    ok: true,
    entries,
    files,
    firstSeq,
    lastSeq,
    lastHash: expectedPrev,
    startsAt,
    checkpoints,
    signaturesChecked: verifier !== null,
    recoveries,
    tornTail,
    head: expected?.head ?? null,
    headMissing,
    unsignedStart,
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
  if (result.unsignedStart > 0) {
    lines.push(
      `  note: the first ${result.unsignedStart} entries precede the first checkpoint (written before a signing key was configured?)`,
    );
  }
  const { head } = result;
  if (head !== null) {
    lines.push(
      head.source === 'writer'
        ? `  head: reaches the writer's durable seq ${head.seq}`
        : `  head: reaches seq ${head.seq} of ${head.path} (${head.signed ? 'signature verified' : 'signature not checked'}, written ${head.ts}${head.closed ? ', closed' : ''})`,
    );
  }
  if (result.headMissing !== null) {
    lines.push(`  note: no head file at ${result.headMissing}: removing the newest entries cannot be detected`);
  }
  if (result.tornTail !== null) {
    lines.push(
      `  note: ${result.tornTail.file} ends with an incomplete line of ${result.tornTail.bytes} bytes (a write in progress, or a crash not yet recovered); not counted`,
    );
  }
  return lines.join('\n');
}
