import type { LedgerEntry } from './entry';
import type { LedgerExportRange } from './export-header';
import type { VerificationKey } from './signing';

/** What `verifyLedger` takes and answers. */
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
  /**
   * Verify `pathOrDir` as a ledger even when its first line is an export header (that line then fails as not an
   * entry). For a caller that knows the path is a ledger, such as the writer's own: a ledger file whose first line was
   * made to look like an export header must not be verified as an export (alone, without its rotated files).
   */
  asLedger?: boolean;
  /**
   * Called with each entry once its line, hash, link and checkpoint are found good, in chain order, so a caller can
   * learn from verified entries alone. A later line may still fail: rely on what it saw only as far as the result
   * allows (all of it when `ok`).
   */
  onVerifiedEntry?: (entry: LedgerEntry) => void;
}

/**
 * Why verification failed:
 * - `unparsable`: a line is not JSON, or its bytes are not valid UTF-8 (its `seq` is the one expected at that
 *   position);
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
 * - `bad_export`: an export file's header is not valid, or the lines do not match it (lines appended beyond `toSeq`,
 *   an entry of another service, a first entry outside the time range);
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
  | 'bad_export'
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
  /** When an export file was verified: what its header claims, now checked against its lines; else `null`. */
  export: VerifiedExport | null;
}

/** An export file found intact (see `LedgerExportHeader`). */
export interface VerifiedExport {
  fromSeq: number;
  toSeq: number;
  /** The seq and hash before `fromSeq`: compare with the auditor's own copy or an earlier export to join them. */
  anchor: { seq: number; hash: string };
  /** The range that was asked for. */
  range: LedgerExportRange;
  exportedAt: string;
  /** What signs the export's last entry: a checkpoint, the head in the header, or nothing (no key, or unsigned). */
  endsSigned: 'checkpoint' | 'head' | 'none';
}

/** The head {@link VerifyOk} was checked against. */
export interface VerifiedHead {
  /**
   * `file`: a head file; `writer`: the running writer's own position ({@link VerifyOptions.expectHead}); `export`: the
   * head in an export file's header.
   */
  source: 'file' | 'writer' | 'export';
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
