import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AccessLog, type AccessRecord } from './access-log';
import { createLogger } from './logger';

function capture(level: 'info' | 'warn' = 'info') {
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      raw.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { raw, logger: createLogger(level, stream) };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe(AccessLog.name, () => {
  afterEach(() => vi.useRealTimers());

  it('writes byte for byte the line pino writes for the same fields', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-11-27T05:40:17.854Z'));
    const records: AccessRecord[] = [
      {
        corrId: '4710b8ea-b20b-4d33-8cac-c5c11a993ea8',
        method: 'POST',
        route: '/route',
        status: 200,
        ip: '127.0.0.0',
        tenant: 'acme',
        action: 'allow',
        backend: 'http://127.0.0.1:9',
        latencyMs: 5.461,
      },
      {
        corrId: 'caller-id_1',
        method: 'GET',
        route: 'unmatched',
        status: 404,
        ip: undefined,
        tenant: undefined,
        action: undefined,
        backend: undefined,
        latencyMs: 0.01,
      },
      // Characters JSON must escape, and some it need not, in every string field.
      {
        corrId: 'c"\\\n\u0001',
        method: 'PATCH',
        route: '/proxy/:service/*',
        status: 502,
        ip: '2001:db8:1::',
        tenant: 'té"nant\u2028',
        action: 'divert',
        backend: 'http://[::1]:8080/base?x="y"',
        latencyMs: 1234.5,
      },
    ];
    const ours = capture();
    const theirs = capture();
    const access = new AccessLog(ours.logger);
    for (const record of records) {
      access.write(record);
      const { corrId, ...fields } = record;
      theirs.logger.child({ corrId }).info({ event: 'access', ...fields });
    }
    await settle();
    expect(ours.raw).toHaveLength(3);
    expect(ours.raw).toEqual(theirs.raw);
  });

  it('is off below level info', () => {
    expect(new AccessLog(capture('warn').logger).enabled).toBe(false);
    expect(new AccessLog(capture('info').logger).enabled).toBe(true);
  });
});
