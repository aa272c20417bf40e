import { pino, type Logger } from 'pino';
import { isoTimestamp, SERVICE_NAME } from './logger';

/** What one access line says (docs/observability.md#logs). Absent fields are left out of the line. */
export interface AccessRecord {
  readonly corrId: string;
  /** The caller's own correlation id, when it was not taken as `corrId`. */
  readonly callerCorrId?: string;
  readonly method: string;
  /** The route template (never the raw URL: no query string, no path parameters). */
  readonly route: string;
  readonly status: number;
  readonly ip: string | undefined;
  readonly tenant: string | undefined;
  readonly action: string | undefined;
  readonly backend: string | undefined;
  readonly latencyMs: number;
}

/** Characters a JSON string may hold as they are: printable ASCII but `"` and `\`. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** A JSON string literal: as is when plain (the usual case), else through JSON.stringify. */
function str(value: string): string {
  return PLAIN.test(value) ? `"${value}"` : JSON.stringify(value);
}

/**
 * The access line of every answered request, written straight to the logger's destination: byte for byte the line
 * `logger.child({ corrId }).info({ event: 'access', … })` writes (level, timestamp, service, corrId, then the fields in
 * {@link AccessRecord} order), without building a child logger and walking pino's serializers, redaction and mixin
 * for a line whose fields are all known strings and numbers — none of which is a secret or a header.
 */
export class AccessLog {
  /** False below level info (ORCH_LOG_LEVEL=warn and above): no access lines. Read once: the level is set at boot. */
  readonly enabled: boolean;
  private readonly stream: { write(line: string): unknown };

  constructor(logger: Logger) {
    this.enabled = logger.isLevelEnabled('info');
    this.stream = (logger as unknown as Record<symbol, { write(line: string): unknown }>)[pino.symbols.streamSym];
  }

  write(record: AccessRecord): void {
    let line =
      `{"level":"info"${isoTimestamp()},"service":"${SERVICE_NAME}","corrId":${str(record.corrId)},"event":"access",` +
      `"method":${str(record.method)},"route":${str(record.route)},"status":${record.status}`;
    if (record.callerCorrId !== undefined) line += `,"callerCorrId":${str(record.callerCorrId)}`;
    if (record.ip !== undefined) line += `,"ip":${str(record.ip)}`;
    if (record.tenant !== undefined) line += `,"tenant":${str(record.tenant)}`;
    if (record.action !== undefined) line += `,"action":${str(record.action)}`;
    if (record.backend !== undefined) line += `,"backend":${str(record.backend)}`;
    this.stream.write(`${line},"latencyMs":${record.latencyMs}}\n`);
  }
}
