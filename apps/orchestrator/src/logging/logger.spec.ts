import { Writable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import type { Logger } from 'pino';
import { createLogger, lazyRequestLogger, NestPinoLogger } from './logger';
import { requestContext } from '../request/request-context';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line === '') continue;
        raw.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  return { lines, raw, logger: createLogger('info', stream, ['X-Edge-Admission']) };
}

describe(createLogger.name, () => {
  it('adds the corrId of the request being served to lines that do not carry one', async () => {
    const { lines, raw, logger } = capture();
    const nest = new NestPinoLogger(logger);
    nest.log({ event: 'outside' }, 'ctx');
    await requestContext.run({ corrId: 'req-42' }, async () => {
      await Promise.resolve();
      nest.warn({ event: 'inside' }, 'ctx');
      nest.warn({ event: 'own', corrId: 'explicit' }, 'ctx');
      // A Fastify request logger is bound to its corrId already: no second one.
      logger.child({ corrId: 'req-42' }).info({ event: 'request_logger' });
    });
    expect(lines.map((l) => [l.event, l.corrId])).toEqual([
      ['outside', undefined],
      ['inside', 'req-42'],
      ['own', 'explicit'],
      ['request_logger', 'req-42'],
    ]);
    expect(raw[3].match(/"corrId"/g)).toHaveLength(1);
  });

  it("writes Nest's start-up narration at debug, the gateway's own messages at info", () => {
    const { lines, logger } = capture();
    const nest = new NestPinoLogger(logger);
    nest.log('AppModule dependencies initialized', 'InstanceLoader');
    nest.log('Mapped {/route, POST} route', 'RouterExplorer');
    nest.log({ event: 'listening' }, 'main');
    expect(lines.map((l) => [l.level, l.context])).toEqual([['info', 'main']]);
  });

  it('redacts secret headers, the configured admission header included, and never logs a query string', () => {
    const { raw, logger } = capture();
    const headers = {
      authorization: 'Bearer top-secret-token',
      dpop: 'eyJ.dpop-proof.sig',
      cookie: 'session=cookie-secret',
      'x-shieldx-admission': 't=1,n=abc,v1=admission-mac',
      'x-edge-admission': 't=1,n=abc,v1=custom-mac',
      'user-agent': 'curl/8',
    };
    logger.warn({ event: 'with_headers', headers });
    logger.warn({ event: 'with_req', req: { method: 'GET', url: '/proxy/api/x?token=query-secret', headers } });
    const text = raw.join('\n');
    for (const secret of [
      'top-secret-token',
      'dpop-proof',
      'cookie-secret',
      'admission-mac',
      'custom-mac',
      'query-secret',
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(JSON.parse(raw[0])).toMatchObject({ headers: { authorization: '[redacted]', 'user-agent': 'curl/8' } });
    expect(JSON.parse(raw[1])).toMatchObject({ req: { method: 'GET', path: '/proxy/api/x' } });
  });

  it('request loggers become pino children on first use only, and then write what a child writes', () => {
    const { raw, logger } = capture();
    const child = vi.spyOn(logger, 'child');
    const lazy = lazyRequestLogger(logger, { corrId: 'r-1' }, {}) as unknown as Logger;
    lazy.debug({ event: 'below_level' });
    expect(child).not.toHaveBeenCalled();
    lazy.warn({ event: 'lazy' }, 'message %s', 'here');
    lazy.error({ event: 'again' });
    expect(child).toHaveBeenCalledTimes(1);
    child.mockRestore();
    (logger.child({ corrId: 'r-1' }) as Logger).warn({ event: 'lazy' }, 'message %s', 'here');
    const strip = (line: string) => line.replace(/"timestamp":"[^"]+"/, '');
    expect(raw).toHaveLength(3);
    expect(strip(raw[0])).toBe(strip(raw[2]));
    expect(JSON.parse(raw[1])).toMatchObject({ level: 'error', corrId: 'r-1', event: 'again' });
    expect(lazy.isLevelEnabled('info')).toBe(true);
    expect(lazy.child({ extra: 1 }).bindings()).toMatchObject({ corrId: 'r-1', extra: 1 });
  });
});
