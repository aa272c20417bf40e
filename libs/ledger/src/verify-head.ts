// What verifyLedger checks beyond the chain: each checkpoint's signature, and the head file witnessed outside the
// ledger. Internal to verifyLedger.
import { resolve } from 'node:path';
import { GENESIS_HASH, type LedgerEntry } from './entry';
import { defaultHeadPath, headSignatureProblem, type LedgerHead, readLedgerHead } from './head';
import { checkpointPayload, type CheckpointVerifier } from './signing';
import type { VerifiedHead, VerifyFailureReason, VerifyOptions } from './verify-types';

export function checkpointProblem(entry: LedgerEntry, verifier: CheckpointVerifier | null): VerifyFailureReason | null {
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
export interface ExpectedHead {
  head: VerifiedHead;
  /** A problem with the head itself, reported once the lines are found intact (file order first). */
  problem: { reason: VerifyFailureReason; message: string } | null;
}

/** The head named by the options: the writer's, the head file's, or none (`missing` names a file not found). */
export async function loadHead(
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
