import { createRequire } from 'node:module';
import type { Agent as UndiciAgent, Dispatcher, Pool as UndiciPool } from 'undici';

// undici's entry module loads all of undici (fetch, WebSocket, EventSource, caches, mocks, interceptors): about 3 MB
// of heap the gateway never uses. These are the parts it uses, from their own modules, set up as the entry does.
const fromUndici = createRequire(createRequire(import.meta.url).resolve('undici'));
const DispatcherClass = fromUndici('./lib/dispatcher/dispatcher.js') as { prototype: Dispatcher };
// The entry adds the request API (`request`, `stream`, `pipeline`, `upgrade`, `connect`) to every dispatcher.
Object.assign(DispatcherClass.prototype, fromUndici('./lib/api/index.js') as object);

/** undici's connection pool to one origin. */
export const Pool = fromUndici('./lib/dispatcher/pool.js') as typeof UndiciPool;
/** undici's connection pool to one origin. */
export type Pool = UndiciPool;

/** undici's dispatcher that keeps a pool per origin. */
export const Agent = fromUndici('./lib/dispatcher/agent.js') as typeof UndiciAgent;
/** undici's dispatcher that keeps a pool per origin. */
export type Agent = UndiciAgent;
