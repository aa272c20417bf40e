import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { forward, isClientGone, isClientStalled, type ForwardResult } from './forward';

const STALL_MS = 2000;

/** A client response whose socket is full whenever `full` is set; 'drain' is emitted by the test. */
class FakeResponse extends EventEmitter {
  full = false;
  destroyed = false;
  writableFinished = false;
  headersSent = false;
  written = 0;
  writeHead(): this {
    this.headersSent = true;
    return this;
  }
  write(chunk: Buffer): boolean {
    this.written += chunk.length;
    return !this.full;
  }
  end(): void {
    if (this.full) return;
    this.finish();
  }
  /** The client read everything: the buffered tail leaves and the response finishes. */
  drain(): void {
    this.full = false;
    this.emit('drain');
  }
  finish(): void {
    this.writableFinished = true;
    this.emit('finish');
    this.emit('close');
  }
  destroy(): this {
    this.destroyed = true;
    this.emit('close');
    return this;
  }
}

/** A backend exchange driven by the test through undici's handler hooks. */
class FakeUpstream {
  handler!: Dispatcher.DispatchHandler;
  paused = false;
  aborted: Error | undefined;
  readonly controller = {
    pause: () => (this.paused = true),
    resume: () => (this.paused = false),
    abort: (reason: Error) => {
      if (this.aborted !== undefined) return;
      this.aborted = reason;
      this.handler.onResponseError?.(this.controller as unknown as Dispatcher.DispatchController, reason);
    },
  };
  readonly dispatcher = {
    dispatch: (_options: unknown, handler: Dispatcher.DispatchHandler) => {
      this.handler = handler;
      handler.onRequestStart?.(this.controller as unknown as Dispatcher.DispatchController, {});
      return true;
    },
  } as unknown as Dispatcher;
  private get ctl(): Dispatcher.DispatchController {
    return this.controller as unknown as Dispatcher.DispatchController;
  }
  head(): void {
    this.handler.onResponseStart?.(this.ctl, 200, {}, 'OK');
  }
  data(): void {
    this.handler.onResponseData?.(this.ctl, Buffer.alloc(1024));
  }
  end(): void {
    this.handler.onResponseEnd?.(this.ctl, {});
  }
}

function start(upstream: FakeUpstream, res: FakeResponse): Promise<ForwardResult> {
  return forward(
    upstream.dispatcher,
    {
      method: 'GET',
      path: '/big',
      headers: {},
      body: null,
      retryOn: undefined,
      head: (_status, headers) => headers,
      stallMs: STALL_MS,
    },
    res as unknown as ServerResponse,
    performance.now(),
  );
}

describe(forward.name, () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('cuts a client that reads nothing for the stall time: upstream aborted, client connection destroyed', async () => {
    const upstream = new FakeUpstream();
    const res = new FakeResponse();
    const result = start(upstream, res);
    upstream.head();
    res.full = true;
    upstream.data();
    expect(upstream.paused).toBe(true);
    // More data already parsed before the pause took effect does not move the deadline.
    vi.advanceTimersByTime(STALL_MS / 2);
    upstream.data();
    vi.advanceTimersByTime(STALL_MS / 2 - 1);
    expect(res.destroyed).toBe(false);
    vi.advanceTimersByTime(1);
    expect(res.destroyed).toBe(true);
    const settled = await result;
    expect(settled.kind).toBe('error');
    const error = (settled as { error: Error }).error;
    expect(isClientStalled(error)).toBe(true);
    expect(isClientGone(error)).toBe(true);
    expect(isClientStalled(upstream.aborted!)).toBe(true);
  });

  it('lets a client that keeps reading, however often its socket fills, stream to the end', async () => {
    const upstream = new FakeUpstream();
    const res = new FakeResponse();
    const result = start(upstream, res);
    upstream.head();
    for (let i = 0; i < 10; i++) {
      res.full = true;
      upstream.data();
      vi.advanceTimersByTime(STALL_MS - 1);
      res.drain();
      expect(upstream.paused).toBe(false);
    }
    vi.advanceTimersByTime(STALL_MS * 2);
    upstream.end();
    expect(await result).toMatchObject({ kind: 'done', status: 200 });
    expect(res.destroyed).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('cuts a client that does not read the tail after the backend finished; the attempt itself is done', async () => {
    const upstream = new FakeUpstream();
    const res = new FakeResponse();
    const result = start(upstream, res);
    upstream.head();
    res.full = true;
    upstream.data();
    upstream.end();
    expect(await result).toMatchObject({ kind: 'done' });
    expect(upstream.aborted).toBeUndefined();
    vi.advanceTimersByTime(STALL_MS);
    expect(res.destroyed).toBe(true);
  });

  it('leaves no timer behind once a stalled tail is read', async () => {
    const upstream = new FakeUpstream();
    const res = new FakeResponse();
    const result = start(upstream, res);
    upstream.head();
    res.full = true;
    upstream.data();
    upstream.end();
    await result;
    res.drain();
    res.finish();
    expect(vi.getTimerCount()).toBe(0);
    expect(res.destroyed).toBe(false);
  });
});
