import type { LedgerEntry } from './entry';
import { LedgerError } from './errors';
import type { LedgerExportRange } from './export-header';
import { createVerifier } from './signing';
import { checkChain, headFailure, makeFailure } from './verify-chain';
import { isExportFile, verifyExportFile } from './verify-export';
import { loadHead } from './verify-head';
import { type SourceLine, hasLedgerCompanions, readLines, tornTailOf, resolveFiles } from './verify-lines';
import {
  DEFAULT_CHECKPOINT_EVERY,
  type VerifyOptions,
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
 * Each line must be valid UTF-8 (its bytes are checked, not a lenient decoding of them), parse, be exactly the line
 * the writer writes for its entry (canonical JSON, see `non_canonical`), hash to its `hash`; `seq` must be 1 more than
 * the previous (1 for the first entry) and `prevHash` the previous `hash` (genesis for the first), across files too;
 * checkpoints must name the entry before them, and with `options.key` their signatures must verify and no more than
 * `checkpointEvery` entries may go without one (before the first checkpoint, any number when one follows: entries
 * written before a key was configured). Then the head
 * (`options.expectHead`, else the head file) must be reached and matched: the entry at its seq has its hash, and
 * nothing follows a head written at a clean close, whose entry must be a checkpoint (with a key).
 *
 * The reported `seq` is: for a changed line, its own (claimed) seq; for an unparsable line, the seq expected there;
 * for removed lines, the seq found where the gap shows (the entry after the hole, `message` names the missing range),
 * or the first missing seq when the newest entries were removed (`truncated`); for inserted, swapped or moved lines,
 * the first seq found out of place. Problems with the head file itself are reported after those of the lines.
 *
 * An export file (`exportLedger`; its first line is the export header) is verified alone, with the same line checks:
 * see `verifyExportFile` (`headPath`, `expectHead` and `allowPrunedStart` do not apply; the header has the head),
 * unless `options.asLedger`, or the file has a ledger's companions: a head file (`options.headPath`, else the default
 * one beside it) or rotated files of its name.
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
  // What the file says of itself is not enough: anyone who can write to a ledger can make its first line an export
  // header, so a file with a ledger's companions (its head file, rotated files) is verified as the ledger it is.
  if (
    options.asLedger !== true &&
    (await isExportFile(pathOrDir)) &&
    !(await hasLedgerCompanions(pathOrDir, options.headPath))
  ) {
    return verifyExportFile(pathOrDir, verifier, every);
  }
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
  let tornTail: VerifyOk['tornTail'] = null;
  let lines: AsyncGenerator<SourceLine>;
  try {
    const lastFile = files.at(-1)!;
    const torn = await tornTailOf(lastFile);
    if (torn !== null) tornTail = { file: lastFile, bytes: torn.bytes };
    lines = readLines(files, torn);
  } catch (error) {
    return makeFailure('io_error', null, `cannot read ${files.join(', ')}: ${String(error)}`, null, 0);
  }
  const chain = await checkChain(lines, {
    verifier,
    every,
    start: options.allowPrunedStart === true ? 'pruned' : 'genesis',
    headSeq: expected?.head.seq ?? -1,
    describe: files.join(', '),
    ...(options.onVerifiedEntry === undefined ? {} : { onEntry: observe(options.onVerifiedEntry) }),
  });
  if (!chain.ok) return chain;
  const { state } = chain;
  // What follows concerns the ledger as a whole, not one line.
  if (state.checkpoints === 0 && state.firstOverSeq !== null) {
    return makeFailure(
      'missing_checkpoint',
      state.firstOverSeq,
      `${state.entries} entries and no signed checkpoint; the writer signs one at least every ${every} (checkpoints ` +
        'removed and the chain re-hashed, or a ledger written with a larger checkpointEvery or without a key)',
      null,
      state.entries,
    );
  }
  if (expected !== null) {
    const problem = headFailure(expected, state, requireCheckpoints);
    if (problem !== null) return problem;
  }
  return {
    ok: true,
    entries: state.entries,
    files,
    firstSeq: state.firstSeq,
    lastSeq: state.lastSeq,
    lastHash: state.lastHash,
    startsAt: state.startsAt,
    checkpoints: state.checkpoints,
    signaturesChecked: verifier !== null,
    recoveries: state.recoveries,
    tornTail,
    head: expected?.head ?? null,
    headMissing,
    unsignedStart: state.unsignedStart,
    export: null,
  };
}

/** {@link VerifyOptions.onVerifiedEntry} as a check that never fails an entry. */
function observe(onVerifiedEntry: (entry: LedgerEntry) => void): (entry: LedgerEntry) => null {
  return (entry) => {
    onVerifiedEntry(entry);
    return null;
  };
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
  const exported = result.export;
  const lines = [
    exported !== null
      ? `ledger export OK: ${result.entries} entries, seq ${exported.fromSeq}..${exported.toSeq} (asked for ${describeRange(exported.range)}), exported ${exported.exportedAt}`
      : result.entries === 0
        ? `ledger OK: no entries in ${result.files.length} file(s)`
        : `ledger OK: ${result.entries} entries, seq ${result.firstSeq}..${result.lastSeq}, in ${result.files.length} file(s)`,
    `  last hash ${result.lastHash}`,
  ];
  if (result.checkpoints > 0 || result.signaturesChecked) {
    lines.push(
      `  ${result.checkpoints} checkpoint(s), ${result.signaturesChecked ? 'signatures verified' : 'signatures not checked (no key given)'}`,
    );
  }
  if (exported !== null) {
    lines.push(`  anchored after seq ${exported.anchor.seq}, hash ${exported.anchor.hash}`);
    lines.push(
      !result.signaturesChecked
        ? '  no signatures checked (no key given): the chain only, which anyone can recompute'
        : exported.endsSigned === 'checkpoint'
          ? '  its last entry is a signed checkpoint: every entry is covered by a signature'
          : '  its last entry is the signed head: every entry is covered by a signature',
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
        : head.source === 'export'
          ? `  head (in the export): seq ${head.seq} (${head.signed ? 'signature verified' : 'signature not checked'}, written ${head.ts}${head.closed ? ', closed' : ''})`
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

function describeRange(range: LedgerExportRange): string {
  return range.by === 'seq' ? `seq ${range.fromSeq}..${range.toSeq}` : `ts in [${range.since}, ${range.until})`;
}
