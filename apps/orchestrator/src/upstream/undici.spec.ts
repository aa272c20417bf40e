import { describe, expect, it } from 'vitest';
import { Agent, Pool } from './undici';

describe('undici', () => {
  it("gives undici's own Pool and Agent, with the request API its entry module adds to every dispatcher", async () => {
    const pool = new Pool('http://127.0.0.1:9');
    const agent = new Agent();
    try {
      for (const dispatcher of [pool, agent]) {
        for (const method of ['request', 'stream', 'pipeline', 'upgrade', 'connect'] as const) {
          expect(typeof dispatcher[method]).toBe('function');
        }
      }
    } finally {
      await Promise.all([pool.close(), agent.close()]);
    }
    const entry = await import('undici');
    expect(Pool).toBe(entry.Pool);
    expect(Agent).toBe(entry.Agent);
  });
});
