import { createRequire } from 'node:module';
import type { FastifyServerOptions } from 'fastify';

type CompilersFactory = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>;
type ValidatorFactory = NonNullable<CompilersFactory['buildValidator']>;
type SerializerFactory = NonNullable<CompilersFactory['buildSerializer']>;

// Fastify's own compilers, resolved from Fastify itself (they are its dependencies, not ours).
const fromFastify = createRequire(createRequire(import.meta.url).resolve('fastify'));
let validatorFactory: ValidatorFactory | undefined;
let serializerFactory: SerializerFactory | undefined;

/**
 * Fastify's default schema compilers (Ajv for validation, fast-json-stringify for serialisation), loaded on the first
 * schema that needs one instead of when the server is created: each brings its own copy of Ajv, and no route of the
 * gateway declares a schema that Fastify compiles, so by default neither is ever loaded.
 */
export const LAZY_SCHEMA_COMPILERS: CompilersFactory = {
  buildValidator: (externalSchemas, options) => {
    validatorFactory ??= (fromFastify('@fastify/ajv-compiler') as () => ValidatorFactory)();
    return validatorFactory(externalSchemas, options);
  },
  buildSerializer: (externalSchemas, options) => {
    serializerFactory ??= (fromFastify('@fastify/fast-json-stringify-compiler') as () => SerializerFactory)();
    return serializerFactory(externalSchemas, options);
  },
};
