import { basename } from 'node:path';
import { GENESIS_HASH, LEDGER_CHECKPOINT_TYPE, LEDGER_RECOVERED_TYPE, parseEntryLine } from './entry';
import { LedgerError } from './errors';
import { createVerifier } from './signing';
import { checkpointProblem, loadHead } from './verify-head';
import { type SourceLine, LineTooLongError, readLines, tornTailOf, resolveFiles } from './verify-lines';
import {
  DEFAULT_CHECKPOINT_EVERY,
  type VerifyOptions,
  type VerifyFailureReason,
  type VerifyOk,
  type VerifyFailure,
  type VerifyResult,
} from './verify-types';

export * from './verify-types';

export { MAX_LINE_BYTES } from './entry';

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
