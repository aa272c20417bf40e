// Reading a ledger for verification: its files in order, line by line with a bound on each line, and a torn tail.
// Internal to verifyLedger.
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { decodeLine, MAX_LINE_BYTES } from './entry';
import { defaultHeadPath } from './head';
import { nodeFileSystem } from './file-system';
import { activePathsInDir, fileSetFromNames, looksRotated, parseRotatedName } from './naming';
import { readTailLines } from './tail';
import type { VerifyFailure, VerifyFailureReason } from './verify-types';

export interface SourceLine {
  file: string;
  line: number;
  /** `null` when the line's bytes are not valid UTF-8 (see `decodeLine`): never an entry, whatever it looks like. */
  text: string | null;
}

/** A line longer than {@link MAX_LINE_BYTES}; `line` is its 1-based number in `file`. */
export class LineTooLongError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
  ) {
    super(`line is longer than ${MAX_LINE_BYTES} bytes: not a ledger entry`);
  }
}

/**
 * Passes bytes through, failing once a line grows past `max` bytes. A carriage return is passed on as a NUL: the
 * writer ends lines with \n alone and never writes a raw control character, so the line holding it fails as
 * unparsable where it stands rather than passing as JSON whitespace.
 */
export function boundedLines(max: number): Transform {
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

/**
 * The lines of a byte stream, split at \n alone and decoded as UTF-8 once whole (`null` for a line that is not valid
 * UTF-8: what is checked is the bytes, not a lenient decoding of them). Not node:readline: it also breaks lines at
 * U+2028 and U+2029 in newer Node versions, which JSON strings (and so ledger entries) may hold raw.
 */
async function* splitLines(input: AsyncIterable<Buffer>): AsyncGenerator<string | null> {
  let pending: Buffer[] = [];
  for await (const chunk of input) {
    let start = 0;
    for (let at = chunk.indexOf(0x0a); at !== -1; at = chunk.indexOf(0x0a, start)) {
      const piece = chunk.subarray(start, at);
      yield decodeLine(pending.length === 0 ? piece : Buffer.concat([...pending, piece]));
      pending = [];
      start = at + 1;
    }
    if (start < chunk.length) pending.push(chunk.subarray(start));
  }
  if (pending.length > 0) yield decodeLine(Buffer.concat(pending));
}

/** Lines of `files` in order, streamed; the fragment after the last newline of the last file is left out. */
export async function* readLines(files: readonly string[], tornTail: { bytes: number; offset: number } | null) {
  for (let i = 0; i < files.length; i++) {
    const file = files[i];
    const end = i === files.length - 1 && tornTail !== null ? tornTail.offset : null;
    if (end === 0) continue;
    const stream = createReadStream(file, end === null ? {} : { end: end - 1 });
    const bounded = boundedLines(MAX_LINE_BYTES);
    stream.on('error', (error) => bounded.destroy(error));
    let line = 0;
    try {
      for await (const text of splitLines(stream.pipe(bounded))) {
        line++;
        yield { file, line, text } satisfies SourceLine;
      }
    } catch (error) {
      if (error instanceof RangeError) throw new LineTooLongError(file, line + 1);
      throw error;
    } finally {
      bounded.destroy();
      stream.destroy();
    }
  }
}

export async function tornTailOf(file: string): Promise<{ bytes: number; offset: number } | null> {
  const handle = await nodeFileSystem.openRead(file);
  try {
    const [last] = await readTailLines(handle, await handle.size(), 1);
    return last === undefined || last.terminated ? null : { bytes: last.raw.length, offset: last.offset };
  } finally {
    await handle.close();
  }
}

/** The ledger files a path names, oldest first, and its active file (`null` for a rotated file alone); or a failure. */
export async function resolveFiles(
  target: string,
): Promise<{ files: string[]; active: string | null } | VerifyFailure> {
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

/**
 * Whether the file at `path` is a ledger's, whatever its first line says, by what only a ledger has: a head file named
 * for it (`headPath`: whoever names one says it is a ledger, even when that file is gone), its default head file
 * beside it, rotated files of its name beside it, or, for a rotated file's name, its ledger's active file or head file
 * beside it.
 */
export async function hasLedgerCompanions(path: string, headPath: string | false | undefined): Promise<boolean> {
  if (typeof headPath === 'string') return true;
  const active = resolve(path);
  if ((await nodeFileSystem.sizeOf(defaultHeadPath(active))) !== null) return true;
  let names: string[];
  try {
    names = await readdir(dirname(active));
  } catch {
    return false;
  }
  if (fileSetFromNames(active, names).rotated.length > 0) return true;
  // A rotated file verified alone: its ledger's active file or head file is beside it (an export merely named
  // `export.20261206.jsonl` has neither).
  const rotated = parseRotatedName(basename(active));
  if (rotated === null) return false;
  const ledger = join(dirname(active), rotated.stem + rotated.ext);
  return names.includes(basename(ledger)) || (await nodeFileSystem.sizeOf(defaultHeadPath(ledger))) !== null;
}
