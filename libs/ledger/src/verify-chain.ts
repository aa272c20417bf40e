// The per-line checks shared by verifyLedger and the check of an export: each line's form and hash, the links, the
// seq order, the checkpoints (signatures, and at most `every` entries without one), and the head at the end.
// Internal to verifyLedger.
import { basename } from 'node:path';
import { GENESIS_HASH, LEDGER_CHECKPOINT_TYPE, LEDGER_RECOVERED_TYPE, type LedgerEntry, parseEntryLine } from './entry';
import type { CheckpointVerifier } from './signing';
import { checkpointProblem, type ExpectedHead } from './verify-head';
import { LineTooLongError, type SourceLine } from './verify-lines';
import type { VerifyFailure, VerifyFailureReason, VerifyOk } from './verify-types';

/** How {@link checkChain} runs. */
export interface ChainOptions {
  verifier: CheckpointVerifier | null;
  /** Most entries in a row without a checkpoint after the first one (with a key); 0 = not required. */
  every: number;
  /**
   * Where the chain starts: `genesis` (seq 1, the genesis hash), `pruned` (wherever the first line says, reported as
   * `startsAt` when that is not genesis), or a known anchor (an export's: the seq and hash before its first entry).
   */
  start: 'genesis' | 'pruned' | { seq: number; prevHash: string };
  /** The seq whose hash is recorded in {@link ChainState.hashAtHead}, or -1. */
  headSeq: number;
  /** Names the source in an I/O error message. */
  describe: string;
  /** Checks each entry once its line and links are known good; a message fails the entry as `reason`. */
  onEntry?: (entry: LedgerEntry, index: number) => { reason: VerifyFailureReason; message: string } | null;
}

/** What {@link checkChain} found in intact lines. */
export interface ChainState {
  entries: number;
  checkpoints: number;
  recoveries: number;
  firstSeq: number;
  lastSeq: number;
  lastHash: string;
  lastType: string;
  startsAt: VerifyOk['startsAt'];
  /** With a key: the seq where entries before the first checkpoint first exceeded `every`, else `null`. */
  firstOverSeq: number | null;
  unsignedStart: number;
  hashAtHead: string | null;
}

/** Builds a {@link VerifyFailure}. */
export function makeFailure(
  reason: VerifyFailureReason,
  seq: number | null,
  message: string,
  at: { file: string; line: number } | null,
  entriesVerified: number,
): VerifyFailure {
  return { ok: false, reason, seq, file: at?.file ?? null, line: at?.line ?? null, message, entriesVerified };
}

/** Runs the per-line checks over `lines`; the first problem, or what the intact lines hold. */
export async function checkChain(
  lines: AsyncGenerator<SourceLine>,
  options: ChainOptions,
): Promise<{ ok: true; state: ChainState } | VerifyFailure> {
  const { verifier, every } = options;
  const requireCheckpoints = verifier !== null && every > 0;
  let entries = 0;
  let checkpoints = 0;
  let recoveries = 0;
  let firstSeq = 0;
  let startsAt: VerifyOk['startsAt'] = null;
  let expectedSeq = typeof options.start === 'object' ? options.start.seq : 1;
  let expectedPrev = typeof options.start === 'object' ? options.start.prevHash : GENESIS_HASH;
  let current: SourceLine | null = null;
  let lastType = '';
  let hashAtHead: string | null = null;
  /** Entries since the last checkpoint (or the start); the seq where they first exceeded `every`. */
  let run = 0;
  let lastCheckpointSeq = 0;
  let firstOverSeq: number | null = null;
  let unsignedStart = 0;
  const failure = (reason: VerifyFailureReason, seq: number | null, message: string): VerifyFailure =>
    makeFailure(reason, seq, message, current, entries);

  try {
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
      const anchored = typeof options.start === 'object';
      if (entries === 0) {
        firstSeq = entry.seq;
        if (options.start === 'pruned' && (entry.seq !== 1 || entry.prevHash !== GENESIS_HASH)) {
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
          if (seqOf(rest.text) === expectedSeq) {
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
          entries === 0 && !anchored
            ? `the ledger starts at seq ${entry.seq}, not 1: ${missing} missing (older files pruned? see allowPrunedStart)`
            : `seq ${entry.seq} follows seq ${expectedSeq - 1}: ${missing} missing (lines removed or a file cut short)`,
        );
      }
      if (entry.prevHash !== expectedPrev) {
        return failure(
          'prev_hash_mismatch',
          entry.seq,
          entries === 0
            ? anchored
              ? `the first entry's prevHash is ${entry.prevHash}, not the export's anchor hash ${expectedPrev}`
              : `the first entry's prevHash is ${entry.prevHash}, not the genesis hash (older files pruned? see allowPrunedStart)`
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
      const problem = options.onEntry?.(entry, entries) ?? null;
      if (problem !== null) return failure(problem.reason, entry.seq, problem.message);
      if (entry.seq === options.headSeq) hashAtHead = entry.hash;
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
    return failure('io_error', null, `cannot read ${current?.file ?? options.describe}: ${String(error)}`);
  }
  return {
    ok: true,
    state: {
      entries,
      checkpoints,
      recoveries,
      firstSeq,
      lastSeq: expectedSeq - 1,
      lastHash: expectedPrev,
      lastType,
      startsAt,
      firstOverSeq,
      unsignedStart,
      hashAtHead,
    },
  };
}

/**
 * Checks intact lines against the head they must reach and match: the entry at its seq has its hash, and nothing
 * follows a head written at a clean close, whose entry must be a checkpoint (with `requireCheckpoints`).
 */
export function headFailure(
  expected: ExpectedHead,
  state: ChainState,
  requireCheckpoints: boolean,
): VerifyFailure | null {
  const { head, problem } = expected;
  const fail = (reason: VerifyFailureReason, seq: number | null, message: string): VerifyFailure =>
    makeFailure(reason, seq, message, null, state.entries);
  if (problem !== null) return fail(problem.reason, null, problem.message);
  const { lastSeq, firstSeq } = state;
  const source =
    head.source === 'writer'
      ? "the writer's durable position"
      : head.source === 'export'
        ? `the head in the export header`
        : `the head ${head.path}`;
  const witnessed = `${source}${head.ts === null ? '' : ` (written ${head.ts}${head.closed ? ' at a clean close' : ''})`}`;
  if (head.seq > lastSeq) {
    const missing = head.seq === lastSeq + 1 ? `seq ${head.seq}` : `seq ${lastSeq + 1}..${head.seq}`;
    return fail(
      'truncated',
      lastSeq + 1,
      `the ledger ends at seq ${lastSeq}, but ${witnessed} is seq ${head.seq}: ${missing} removed (the newest ` +
        'entries deleted, or the ledger replaced by an older copy)',
    );
  }
  const found = head.seq === 0 ? GENESIS_HASH : state.hashAtHead;
  if (found === null) {
    return fail(
      'head_mismatch',
      head.seq,
      `${witnessed} is seq ${head.seq}, which precedes the oldest entry present (seq ${firstSeq})`,
    );
  }
  if (found !== head.hash) {
    return fail(
      'head_mismatch',
      head.seq,
      `${witnessed} is seq ${head.seq} with hash ${head.hash}, but that entry has hash ${found}: the ledger was ` +
        'rewritten after the head was written',
    );
  }
  if (head.closed && lastSeq > head.seq) {
    return fail(
      'head_mismatch',
      head.seq + 1,
      `${witnessed} is seq ${head.seq}, but seq ${head.seq + 1}..${lastSeq} follow it: appended after the writer ` +
        'closed the ledger, by something else',
    );
  }
  if (head.closed && requireCheckpoints && lastSeq > 0 && state.lastType !== LEDGER_CHECKPOINT_TYPE) {
    return fail(
      'missing_checkpoint',
      lastSeq,
      `the ledger was closed cleanly at seq ${lastSeq}, but its last entry is not a signed checkpoint (the writer ` +
        'appends one when it closes)',
    );
  }
  return null;
}

/** The `seq` of a line, or `null` when it has none (used only to tell a gap from a reorder). */
function seqOf(text: string | null): number | null {
  if (text === null) return null;
  try {
    const value = JSON.parse(text) as { seq?: unknown } | null;
    return typeof value?.seq === 'number' ? value.seq : null;
  } catch {
    return null;
  }
}
