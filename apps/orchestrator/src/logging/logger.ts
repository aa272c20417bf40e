import type { LoggerService } from '@nestjs/common';
import type { FastifyBaseLogger } from 'fastify';
import { pino, type Bindings, type ChildLoggerOptions, type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from '../config/config';
import { stdoutSink } from './log-sink';
import { requestContext, type RequestContext } from '../request/request-context';

/** Header values that must never reach a log line, whatever logs a request object. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.dpop',
  'req.headers.cookie',
  'req.headers["x-shieldx-admission"]',
  'headers.authorization',
  'headers.dpop',
  'headers.cookie',
  'headers["x-shieldx-admission"]',
];

/** Redaction paths for a header name (lowercase), under both places a request's headers are logged from. */
export function redactedPathsFor(header: string): string[] {
  const name = JSON.stringify(header.toLowerCase());
  return [`req.headers[${name}]`, `headers[${name}]`];
}

const NO_CONTEXT: Partial<RequestContext> = Object.freeze({});
const CHINDINGS = pino.symbols.chindingsSym;

/**
 * pino `mixin`: the request context of the running code ({@link requestContext}), for loggers that are not already
 * bound to a request. Fastify's request loggers carry `corrId` in their bindings; Nest's `Logger` (the root logger
 * through {@link NestPinoLogger}) does not, so its lines written while serving a request get the request's `corrId`.
 */
function contextMixin(_object: object, _level: number, logger: Logger): object {
  const context = requestContext.getStore();
  if (context === undefined) return NO_CONTEXT;
  const bindings = (logger as unknown as Record<symbol, string | undefined>)[CHINDINGS];
  return bindings !== undefined && bindings.includes('"corrId"') ? NO_CONTEXT : context;
}

/** Puts the context's `corrId` first, unless the line names its own (the line wins, as pino's default merge does). */
function mergeContext(line: object, context: object): object {
  if (context === NO_CONTEXT || (line as { corrId?: unknown }).corrId !== undefined) return line;
  return { corrId: (context as RequestContext).corrId, ...line };
}

/** A request as it may be logged: method and path only (never the query string, never headers or the body). */
function requestSerializer(request: { method?: string; url?: string; routeOptions?: { url?: string } }): object {
  const url = typeof request.url === 'string' ? request.url : '';
  const q = url.indexOf('?');
  return { method: request.method, path: q === -1 ? url : url.slice(0, q), route: request.routeOptions?.url };
}

let stampMs = 0;
let stamp = '';

/** The `service` of every line. */
export const SERVICE_NAME = 'orchestrator';

/** pino timestamp (`,"timestamp":"<ISO-8601>"`), formatted once per millisecond (a busy gateway logs many per ms). */
export function isoTimestamp(): string {
  const now = Date.now();
  if (now !== stampMs) {
    stampMs = now;
    stamp = `,"timestamp":"${new Date(now).toISOString()}"`;
  }
  return stamp;
}

/**
 * The process logger: pino, one JSON object per line with `timestamp`, `level` (as a word), `service`, and the
 * `corrId` of the request being served (see {@link contextMixin}). Fastify uses it for request-bound children
 * (carrying `corrId`) and Nest through {@link NestPinoLogger}. `redactHeaders` adds header names to
 * {@link REDACTED_PATHS} (the configured admission header). A logged `req` keeps only method and path.
 */
export function createLogger(
  level: LogLevel,
  destination?: DestinationStream,
  redactHeaders: readonly string[] = [],
): Logger {
  return pino(
    {
      level,
      base: { service: SERVICE_NAME },
      messageKey: 'msg',
      timestamp: isoTimestamp,
      formatters: { level: (label) => ({ level: label }) },
      mixin: contextMixin,
      mixinMergeStrategy: mergeContext,
      serializers: { req: requestSerializer },
      redact: {
        paths: [...new Set([...REDACTED_PATHS, ...redactHeaders.flatMap(redactedPathsFor)])],
        censor: '[redacted]',
      },
    },
    destination ?? stdoutSink(),
  );
}

type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/**
 * A request's logger that becomes a real pino child (bound to the request's `corrId`) only when something logs
 * through it. Fastify makes one per request, and most requests never log through theirs (the access line is written
 * by `AccessLog`); building a pino child each time was a measurable share of a request's CPU.
 */
class LazyChildLogger {
  private real: Logger | undefined;

  constructor(
    private readonly parent: Logger,
    private readonly bindingsOf: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  get level(): string {
    return this.resolve().level;
  }
  set level(level: string) {
    this.resolve().level = level;
  }

  isLevelEnabled(level: string): boolean {
    return this.resolve().isLevelEnabled(level);
  }
  bindings(): Bindings {
    return this.resolve().bindings();
  }
  child(bindings: Bindings, options?: ChildLoggerOptions): Logger {
    return this.resolve().child(bindings, options);
  }
  flush(callback?: (error?: Error) => void): void {
    this.resolve().flush(callback);
  }
  trace(...args: unknown[]): void {
    this.write('trace', args);
  }
  debug(...args: unknown[]): void {
    this.write('debug', args);
  }
  info(...args: unknown[]): void {
    this.write('info', args);
  }
  warn(...args: unknown[]): void {
    this.write('warn', args);
  }
  error(...args: unknown[]): void {
    this.write('error', args);
  }
  fatal(...args: unknown[]): void {
    this.write('fatal', args);
  }
  silent(): void {
    // pino's `silent` level method: writes nothing.
  }

  private write(level: Level, args: unknown[]): void {
    // Below the logger's level nothing is written, and no child is needed to know it.
    if (!this.parent.isLevelEnabled(level) && this.options.level === undefined) return;
    this.resolve()[level](...(args as [object, string?, ...unknown[]]));
  }

  private resolve(): Logger {
    this.real ??= this.parent.child(this.bindingsOf, this.options);
    return this.real;
  }
}

/** Fastify `childLoggerFactory`: request loggers made on first use ({@link LazyChildLogger}). */
export function lazyRequestLogger(
  logger: FastifyBaseLogger,
  bindings: Bindings,
  options: ChildLoggerOptions,
): FastifyBaseLogger {
  return new LazyChildLogger(logger as Logger, bindings, options);
}

/**
 * Nest's own start-up narration (a line per module, controller and route mapped): at debug, so the first lines an
 * operator reads at info are the gateway's own, not twenty lines of wiring.
 */
const FRAMEWORK_CHATTER: ReadonlySet<string> = new Set([
  'NestFactory',
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'NestApplication',
]);

/** Nest's logger interface over pino, so framework messages are JSON lines too. */
export class NestPinoLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, ...params: unknown[]): void {
    const context = params[params.length - 1];
    this.write(typeof context === 'string' && FRAMEWORK_CHATTER.has(context) ? 'debug' : 'info', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  private write(
    level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal',
    message: unknown,
    params: unknown[],
  ): void {
    const context = typeof params[params.length - 1] === 'string' ? (params[params.length - 1] as string) : undefined;
    if (message !== null && typeof message === 'object' && !(message instanceof Error)) {
      this.logger[level]({ context, ...(message as Record<string, unknown>) });
    } else if (message instanceof Error) {
      this.logger[level]({ context, err: message }, message.message);
    } else {
      this.logger[level]({ context }, String(message));
    }
  }
}
