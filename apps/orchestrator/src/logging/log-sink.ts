import cluster from 'node:cluster';
import { writeSync } from 'node:fs';

/** The `fs.writeSync` overload the sink uses; replaceable in tests. Returns the bytes written, throws on error. */
export type WriteSyncFn = (fd: number, buffer: Buffer, offset: number, length: number) => number;

/** Options of {@link LogSink}. */
export interface LogSinkOptions {
  /** Most bytes a single write carries, cut at line ends (default 4096, PIPE_BUF: see the class comment). */
  readonly chunkBytes?: number;
  /** Most bytes waiting to be written; lines beyond it are dropped and counted (default 16 MiB). */
  readonly maxPendingBytes?: number;
  /** Wait before writing again after EAGAIN, ms (default 10). */
  readonly retryMs?: number;
  readonly write?: WriteSyncFn;
}

/**
 * The log destination: the lines written during one turn of the event loop are written together at the end of it,
 * in one `write` per `chunkBytes`, so a busy gateway pays an array push per line rather than a system call each (and
 * not pino's default asynchronous destination, which hands every write to the thread pool and re-measured its growing
 * buffer on every line).
 *
 * - Order is kept: one queue, written in order.
 * - Whole lines: each write ends at a line end and is at most PIPE_BUF bytes, which a pipe takes atomically, so the
 *   lines of several workers sharing one stdout never interleave mid-line (a single longer line is written alone).
 * - Writes are synchronous, like pino's default destination: when stdout is a blocking pipe whose reader lags, the
 *   writer waits for it rather than buffering without bound. A non-blocking stdout that is full (EAGAIN) is retried
 *   after `retryMs`, lines waiting meanwhile up to `maxPendingBytes`; beyond that they are dropped and counted
 *   ({@link dropped}).
 * - A destination that fails otherwise (EPIPE: nobody reads stdout any more) drops what it was given and counts it.
 */
export class LogSink {
  /** Lines dropped (pending limit reached or the destination failed). */
  dropped = 0;
  private queue: string[] = [];
  private queuedBytes = 0;
  /** Bytes a full destination refused (EAGAIN), written before anything queued after them. */
  private blocked: { data: Buffer; offset: number } | undefined;
  private scheduled = false;
  private retrying = false;
  private readonly waiters: (() => void)[] = [];
  private readonly chunkBytes: number;
  private readonly maxPendingBytes: number;
  private readonly retryMs: number;
  private readonly writeFn: WriteSyncFn;

  constructor(
    private readonly fd: number,
    options: LogSinkOptions = {},
  ) {
    this.chunkBytes = options.chunkBytes ?? 4096;
    this.maxPendingBytes = options.maxPendingBytes ?? 16 * 1024 * 1024;
    this.retryMs = options.retryMs ?? 10;
    this.writeFn = options.write ?? writeSync;
  }

  /** Queues one line (pino gives each with its newline); false when it was dropped. */
  write(line: string): boolean {
    const pending = this.queuedBytes + (this.blocked === undefined ? 0 : this.blocked.data.length);
    // String length counts UTF-16 units, not bytes: close enough for a memory bound.
    if (pending + line.length > this.maxPendingBytes) {
      this.dropped++;
      return false;
    }
    this.queue.push(line);
    this.queuedBytes += line.length;
    if (!this.scheduled && !this.retrying) {
      this.scheduled = true;
      setImmediate(this.writeQueued);
    }
    return true;
  }

  /** Writes what is queued now; calls back once everything written before this call is out (or dropped). */
  flush(callback?: (error?: Error) => void): void {
    this.writeQueued();
    if (callback === undefined) return;
    if (this.blocked === undefined) callback();
    else this.waiters.push(() => callback());
  }

  /** Writes what is queued now (the last lines before an exit); a full non-blocking stdout may still hold some. */
  flushSync(): void {
    this.writeQueued();
  }

  private readonly writeQueued = (): void => {
    this.scheduled = false;
    if (this.blocked !== undefined && !this.writeOut(this.blocked.data, this.blocked.offset)) return;
    this.blocked = undefined;
    if (this.queue.length > 0) {
      const data = Buffer.from(this.queue.length === 1 ? this.queue[0] : this.queue.join(''), 'utf8');
      this.queue = [];
      this.queuedBytes = 0;
      if (!this.writeOut(data, 0)) return;
    }
    for (const waiter of this.waiters.splice(0)) waiter();
  };

  /** Writes `data` from `offset` in line-aligned chunks; false when a full destination made it wait (EAGAIN). */
  private writeOut(data: Buffer, offset: number): boolean {
    while (offset < data.length) {
      const end = this.chunkEnd(data, offset);
      try {
        offset += this.writeFn(this.fd, data, offset, end - offset);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EAGAIN') {
          this.blocked = { data, offset };
          this.retryLater();
          return false;
        }
        this.dropped += countLines(data, offset);
        return true;
      }
    }
    return true;
  }

  /** Where the chunk starting at `offset` ends: the last line end within `chunkBytes`, else the end of its line. */
  private chunkEnd(data: Buffer, offset: number): number {
    if (data.length - offset <= this.chunkBytes) return data.length;
    const cut = data.lastIndexOf(0x0a, offset + this.chunkBytes - 1);
    if (cut >= offset) return cut + 1;
    const next = data.indexOf(0x0a, offset);
    return next === -1 ? data.length : next + 1;
  }

  private retryLater(): void {
    if (this.retrying) return;
    this.retrying = true;
    setTimeout(() => {
      this.retrying = false;
      this.writeQueued();
    }, this.retryMs).unref();
  }
}

function countLines(data: Buffer, offset: number): number {
  let lines = 0;
  for (let i = data.indexOf(0x0a, offset); i !== -1; i = data.indexOf(0x0a, i + 1)) lines++;
  return Math.max(lines, 1);
}

let stdout: LogSink | undefined;

/**
 * The process's one sink on standard output, shared by every logger of the process (one queue keeps their lines in
 * order); what is still queued when the process exits is written then. A worker of several shares stdout with its
 * siblings and writes at most PIPE_BUF at a time; a process alone on it writes up to 64 KiB.
 */
export function stdoutSink(): LogSink {
  if (stdout === undefined) {
    const sink = new LogSink(1, { chunkBytes: cluster.isWorker ? 4096 : 65536 });
    process.once('exit', () => sink.flushSync());
    stdout = sink;
  }
  return stdout;
}
