import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LogSink, type WriteSyncFn } from './log-sink';

const line = (i: number, pad = 0): string => `${JSON.stringify({ i, pad: 'x'.repeat(pad) })}\n`;
const flushed = (sink: LogSink): Promise<void> => new Promise((resolve) => sink.flush(() => resolve()));

/** A recording `fs.writeSync` stand-in: answers each call with what `answer` says (bytes written, or an error code). */
function fakeWrite(answer: (call: number, length: number) => number | string = (_c, length) => length) {
  const calls: string[] = [];
  const write: WriteSyncFn = (_fd, buffer, offset, length) => {
    const result = answer(calls.length, length);
    // What the destination took: the bytes written (none on an error).
    calls.push(buffer.subarray(offset, offset + (typeof result === 'number' ? result : 0)).toString('utf8'));
    if (typeof result === 'string') throw Object.assign(new Error(result), { code: result });
    return result;
  };
  return { calls, write };
}

describe(LogSink.name, () => {
  it('writes every line in order, the lines of one turn of the event loop together, to a real file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'log-sink-'));
    const fd = openSync(join(dir, 'out.log'), 'a');
    const sink = new LogSink(fd, { chunkBytes: 65536 });
    for (let i = 0; i < 1000; i++) sink.write(line(i));
    await flushed(sink);
    for (let i = 1000; i < 1500; i++) sink.write(line(i));
    await flushed(sink);
    closeSync(fd);
    const lines = readFileSync(join(dir, 'out.log'), 'utf8').trimEnd().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { i: number }).i)).toEqual([...Array(1500).keys()]);
  });

  it('cuts writes at line ends, at most chunkBytes each, and writes a longer line alone', async () => {
    const { calls, write } = fakeWrite();
    const sink = new LogSink(1, { chunkBytes: 100, write });
    const lines = [line(1, 20), line(2, 20), line(3, 20), line(4, 300), line(5, 20)];
    for (const l of lines) sink.write(l);
    await flushed(sink);
    expect(calls.join('')).toBe(lines.join(''));
    expect(calls).toEqual([lines[0] + lines[1], lines[2], lines[3], lines[4]]);
  });

  it('finishes a partial write, retries after EAGAIN, and loses nothing', async () => {
    const { calls, write } = fakeWrite((call, length) =>
      call === 0 ? Math.floor(length / 2) : call === 1 ? 'EAGAIN' : length,
    );
    const sink = new LogSink(1, { retryMs: 1, write });
    const lines = [line(1), line(2), line(3)];
    for (const l of lines) sink.write(l);
    await flushed(sink);
    expect(calls.join('')).toBe(lines.join(''));
    expect(calls[1]).toBe('');
    expect(sink.dropped).toBe(0);
  });

  it('drops and counts lines beyond the pending limit, and lines a broken destination refused', async () => {
    const { write } = fakeWrite(() => 'EPIPE');
    const sink = new LogSink(1, { maxPendingBytes: 50, write });
    expect(sink.write(line(1))).toBe(true);
    expect(sink.write(line(2))).toBe(true);
    expect(sink.write(line(3, 40))).toBe(false);
    expect(sink.dropped).toBe(1);
    await flushed(sink);
    expect(sink.dropped).toBe(3);
    // Still usable afterwards: the next line is tried (and refused) rather than stuck behind a dead write.
    sink.write(line(4));
    await flushed(sink);
    expect(sink.dropped).toBe(4);
  });

  it('flushSync writes what is queued at once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'log-sink-'));
    const fd = openSync(join(dir, 'out.log'), 'a');
    const sink = new LogSink(fd);
    sink.write(line(1));
    sink.write(line(2));
    sink.flushSync();
    closeSync(fd);
    expect(readFileSync(join(dir, 'out.log'), 'utf8')).toBe(line(1) + line(2));
  });
});
