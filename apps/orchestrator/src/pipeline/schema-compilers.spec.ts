import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { LAZY_SCHEMA_COMPILERS } from './schema-compilers';

describe('LAZY_SCHEMA_COMPILERS', () => {
  it("validates and serialises a route's schemas as Fastify's default compilers do", async () => {
    const app = Fastify({ schemaController: { compilersFactory: LAZY_SCHEMA_COMPILERS } });
    app.post(
      '/echo',
      {
        schema: {
          body: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
          response: { 200: { type: 'object', properties: { name: { type: 'string' } } } },
        },
      },
      (request) => ({ ...(request.body as object), extra: 'not in the schema' }),
    );
    try {
      const good = await app.inject({ method: 'POST', url: '/echo', payload: { name: 'a' } });
      expect(good.statusCode).toBe(200);
      expect(good.json()).toEqual({ name: 'a' });
      const bad = await app.inject({ method: 'POST', url: '/echo', payload: { other: 1 } });
      expect(bad.statusCode).toBe(400);
      expect(bad.json()).toMatchObject({ code: 'FST_ERR_VALIDATION' });
    } finally {
      await app.close();
    }
  });
});
