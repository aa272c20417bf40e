// Verification of an export file (see export-header.ts) on its own: the header, then the lines with the same checks
// as a ledger's (checkChain), anchored at the header's anchor. Internal to verifyLedger.
import { open } from 'node:fs/promises';
import { resolve } from 'node:path';
import { LEDGER_CHECKPOINT_TYPE, NOT_UTF8_MESSAGE } from './entry';
import { isIsoTime, looksLikeExportHeader, parseExportHeader } from './export-header';
import { headSignatureProblem } from './head';
import type { CheckpointVerifier } from './signing';
import { checkChain, headFailure, makeFailure } from './verify-chain';
import type { ExpectedHead } from './verify-head';
import { readLines, type SourceLine } from './verify-lines';
import type { VerifyResult } from './verify-types';

/** Bytes read to tell an export from a ledger file. */
const SNIFF_BYTES = 4096;

/** Whether `path` is a file whose first line is an export header (a directory or missing file is not). */
export async function isExportFile(path: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch {
    return false;
  }
  try {
    if (!(await handle.stat()).isFile()) return false;
    const buffer = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, SNIFF_BYTES, 0);
    const text = buffer.toString('utf8', 0, bytesRead);
    const newline = text.indexOf('\n');
    return looksLikeExportHeader(newline === -1 ? text : text.slice(0, newline));
  } catch {
    return false;
  } finally {
    await handle.close();
  }
}

/**
 * Verifies an export file alone: the header is well formed and canonical; the lines are `fromSeq..toSeq` exactly,
 * each canonical with its hash, the first linked to the anchor; checkpoints as in a ledger. With a key, the export's
 * last entry must be a signed checkpoint, or the header's head (signed with the key) must witness it; entries before the
 * first checkpoint are allowed and reported. Without a key the chain alone is checked.
 */
export async function verifyExportFile(
  target: string,
  verifier: CheckpointVerifier | null,
  every: number,
): Promise<VerifyResult> {
  const path = resolve(target);
  const lines = readLines([path], null);
  let first: SourceLine | undefined;
  try {
    first = (await lines.next()).value as SourceLine | undefined;
  } catch (error) {
    return makeFailure('io_error', null, `cannot read ${path}: ${String(error)}`, null, 0);
  }
  const at = { file: path, line: 1 };
  if (first === undefined) return makeFailure('bad_export', null, 'the export file is empty', at, 0);
  const parsed =
    first.text === null ? { ok: false as const, message: NOT_UTF8_MESSAGE } : parseExportHeader(first.text);
  if (!parsed.ok) {
    await lines.return(undefined);
    return makeFailure('bad_export', null, `the export header is not valid: ${parsed.message}`, at, 0);
  }
  const { header } = parsed;
  const { range } = header;
  let expected: ExpectedHead | null = null;
  if (header.head !== null) {
    const head = header.head;
    const problem = verifier === null ? null : headSignatureProblem(head, verifier);
    expected = {
      head: {
        source: 'export',
        path,
        seq: head.seq,
        hash: head.hash,
        ts: head.ts,
        closed: head.closed,
        signed: verifier !== null && problem === null,
      },
      problem: problem === null ? null : { reason: 'bad_head', message: `the head in the export header: ${problem}` },
    };
  }
  const since = range.by === 'time' ? Date.parse(range.since) : 0;
  const until = range.by === 'time' ? Date.parse(range.until) : 0;
  // The generator goes on after the header line already taken from it.
  const chain = await checkChain(lines, {
    verifier,
    every,
    start: { seq: header.fromSeq, prevHash: header.anchor.hash },
    headSeq: header.head?.seq ?? -1,
    describe: path,
    onEntry(entry, index) {
      if (entry.seq > header.toSeq) {
        return {
          reason: 'bad_export',
          message: `seq ${entry.seq} follows the export's last seq ${header.toSeq} (lines appended)`,
        };
      }
      if (entry.service !== header.service) {
        return {
          reason: 'bad_export',
          message: `entry seq ${entry.seq} is of service ${JSON.stringify(entry.service)}`,
        };
      }
      if (index === 0 && range.by === 'time') {
        const ts = isIsoTime(entry.ts) ? Date.parse(entry.ts) : NaN;
        if (!(ts >= since && ts < until)) {
          return {
            reason: 'bad_export',
            message: `the first entry (seq ${entry.seq}, ${entry.ts}) is not in the range [${range.since}, ${range.until})`,
          };
        }
      }
      return null;
    },
  });
  if (!chain.ok) return chain;
  const { state } = chain;
  const fail = (reason: 'truncated' | 'missing_checkpoint', seq: number, message: string) =>
    makeFailure(reason, seq, message, null, state.entries);
  if (state.lastSeq < header.toSeq) {
    const from = state.lastSeq + 1;
    return fail(
      'truncated',
      from,
      `the export ends at seq ${state.lastSeq}, but its header says ${header.toSeq}: seq ${from === header.toSeq ? from : `${from}..${header.toSeq}`} missing (lines removed)`,
    );
  }
  if (expected !== null) {
    const problem = headFailure(expected, state, verifier !== null && every > 0);
    if (problem !== null) return problem;
  }
  const endsSigned =
    state.lastType === LEDGER_CHECKPOINT_TYPE ? 'checkpoint' : expected?.head.seq === header.toSeq ? 'head' : 'none';
  if (verifier !== null && (endsSigned === 'none' || (endsSigned === 'head' && !expected!.head.signed))) {
    return fail(
      'missing_checkpoint',
      header.toSeq,
      `the export's last entry (seq ${header.toSeq}) is neither a signed checkpoint nor the signed head: the newest ` +
        'entries are not covered by a signature (exported before the next checkpoint was written, or cut short and ' +
        'the header edited); export again once a checkpoint follows the range',
    );
  }
  return {
    ok: true,
    entries: state.entries,
    files: [path],
    firstSeq: state.firstSeq,
    lastSeq: state.lastSeq,
    lastHash: state.lastHash,
    startsAt: null,
    checkpoints: state.checkpoints,
    signaturesChecked: verifier !== null,
    recoveries: state.recoveries,
    tornTail: null,
    head: expected?.head ?? null,
    headMissing: null,
    unsignedStart:
      verifier === null
        ? 0
        : state.checkpoints === 0 && state.firstOverSeq !== null
          ? state.entries
          : state.unsignedStart,
    export: {
      fromSeq: header.fromSeq,
      toSeq: header.toSeq,
      anchor: header.anchor,
      range: header.range,
      exportedAt: header.exportedAt,
      endsSigned,
    },
  };
}
