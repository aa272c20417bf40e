/**
 * Stable codes of {@link LedgerError}:
 * - `invalid_options`: an option of {@link LedgerWriter.open} (or a key spec) is malformed; the message names it.
 * - `invalid_value`: a value cannot be written as canonical JSON, or an append input is malformed.
 * - `closed`: the writer was closed (or is closing) and accepts no more entries.
 * - `corrupt`: the ledger on disk cannot be resumed safely (for example the last two lines are both invalid).
 * - `write_failed`: an I/O error while writing or syncing; the writer stops accepting entries (fail-stop).
 * - `locked`: another {@link LedgerWriter} in this process already has the same file open.
 * - `head_mismatch`: the ledger on disk does not reach, or does not match, the head witnessed in its head file
 *   (newest entries removed or changed), or the head file is not a valid head.
 */
export type LedgerErrorCode =
  'invalid_options' | 'invalid_value' | 'closed' | 'corrupt' | 'write_failed' | 'locked' | 'head_mismatch';

/** Base of every error this library throws or rejects with; `code` is stable, `message` is for humans. */
export class LedgerError extends Error {
  /** Stable machine-readable code. */
  readonly code: LedgerErrorCode;

  /**
   * @param code stable code
   * @param message human-readable message naming the offending value or file
   * @param options standard `cause`
   */
  constructor(code: LedgerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A value that has no canonical JSON form (non-finite number, bigint, function, cycle…); `path` locates it. */
export class CanonicalJsonError extends LedgerError {
  /** JSONPath-like location of the offending value, e.g. `$.data.items[2]`. */
  readonly path: string;

  /**
   * @param path location of the offending value (`$` is the root)
   * @param problem what is wrong with it
   */
  constructor(path: string, problem: string) {
    super('invalid_value', `cannot write canonical JSON: ${problem} at ${path}`);
    this.path = path;
  }
}

/** The writer is closed (or closing); nothing more can be appended. */
export class LedgerClosedError extends LedgerError {
  /** @param path the ledger file */
  constructor(path: string) {
    super('closed', `ledger ${path} is closed`);
  }
}

/** The writer hit an I/O error; it has stopped and every pending and later append fails with this error. */
export class LedgerWriteError extends LedgerError {
  /**
   * @param path the ledger file
   * @param cause the underlying error
   */
  constructor(path: string, cause: unknown) {
    super('write_failed', `ledger ${path}: write failed: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
  }
}

/** The ledger on disk cannot be resumed without an operator (the message says where and why). */
export class LedgerCorruptError extends LedgerError {
  /** @param message what is wrong, naming the file and byte offset */
  constructor(message: string) {
    super('corrupt', message);
  }
}

/** The ledger does not match the head witnessed outside it (see `LedgerHead`); the message says how and what to do. */
export class LedgerHeadError extends LedgerError {
  /** The head file. */
  readonly headPath: string;

  /**
   * @param headPath the head file
   * @param message what does not match, naming the ledger, the head and the seqs
   */
  constructor(headPath: string, message: string) {
    super('head_mismatch', message);
    this.headPath = headPath;
  }
}
