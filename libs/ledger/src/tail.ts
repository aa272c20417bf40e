import { decodeLine } from './entry';
import type { LedgerFileHandle } from './file-system';

/** One line found by {@link readTailLines}. @internal */
export interface TailLine {
  /** Byte offset of the line's first byte in the file. */
  readonly offset: number;
  /** The line's bytes, including its newline when it has one. */
  readonly raw: Buffer;
  /** The line's text without the newline; `null` when its bytes are not valid UTF-8 (see `decodeLine`). */
  readonly text: string | null;
  /** Whether the line ends with a newline (only the file's last line can lack one). */
  readonly terminated: boolean;
}

const NEWLINE = 0x0a;
const FIRST_WINDOW_BYTES = 64 * 1024;

async function readFully(handle: LedgerFileHandle, buffer: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buffer.length) {
    const n = await handle.read(buffer.subarray(done), buffer.length - done, position + done);
    if (n === 0) throw new Error(`unexpected end of file at byte ${position + done}`);
    done += n;
  }
}

/**
 * The last `count` lines of a file of `size` bytes, last line first, reading backwards in growing windows (so a long
 * file costs one small read). Fewer lines when the file has fewer.
 * @internal
 */
export async function readTailLines(handle: LedgerFileHandle, size: number, count: number): Promise<TailLine[]> {
  for (let window = FIRST_WINDOW_BYTES; ; window *= 4) {
    const start = Math.max(0, size - window);
    const buffer = Buffer.alloc(size - start);
    await readFully(handle, buffer, start);
    const lines: TailLine[] = [];
    let cursor = buffer.length;
    let complete = true;
    while (lines.length < count && cursor > 0) {
      const terminated = buffer[cursor - 1] === NEWLINE;
      const contentEnd = terminated ? cursor - 1 : cursor;
      const newline = contentEnd === 0 ? -1 : buffer.lastIndexOf(NEWLINE, contentEnd - 1);
      if (newline === -1 && start > 0) {
        complete = false;
        break;
      }
      const lineStart = newline + 1;
      lines.push({
        offset: start + lineStart,
        raw: buffer.subarray(lineStart, cursor),
        text: decodeLine(buffer.subarray(lineStart, contentEnd)),
        terminated,
      });
      cursor = lineStart;
    }
    if (complete) return lines;
  }
}

const BACKWARD_CHUNK_BYTES = 64 * 1024;

/**
 * The lines of the first `end` bytes of a file, last line first, read backwards in chunks: memory holds one chunk and
 * one line, however far back the caller goes. A line longer than `maxLineBytes` ends the walk with an error.
 * @internal
 */
export async function* linesBackward(
  handle: LedgerFileHandle,
  end: number,
  maxLineBytes: number,
): AsyncGenerator<TailLine> {
  let carry: Buffer = Buffer.alloc(0);
  for (let position = end; position > 0;) {
    const start = Math.max(0, position - BACKWARD_CHUNK_BYTES);
    const chunk = Buffer.alloc(position - start);
    await readFully(handle, chunk, start);
    const data = carry.length === 0 ? chunk : Buffer.concat([chunk, carry]);
    let cursor = data.length;
    while (cursor > 0) {
      const terminated = data[cursor - 1] === NEWLINE;
      const contentEnd = terminated ? cursor - 1 : cursor;
      const newline = contentEnd === 0 ? -1 : data.lastIndexOf(NEWLINE, contentEnd - 1);
      // The line starts before this chunk: read further back first.
      if (newline === -1 && start > 0) break;
      const lineStart = newline + 1;
      yield {
        offset: start + lineStart,
        raw: data.subarray(lineStart, cursor),
        text: decodeLine(data.subarray(lineStart, contentEnd)),
        terminated,
      };
      cursor = lineStart;
    }
    carry = Buffer.from(data.subarray(0, cursor));
    if (carry.length > maxLineBytes) throw new RangeError(`a line longer than ${maxLineBytes} bytes`);
    position = start;
  }
}
