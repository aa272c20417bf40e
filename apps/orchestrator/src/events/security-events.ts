import { Inject, Injectable, Logger } from '@nestjs/common';

/** Kinds of security event (contract: audit ledger). */
export type SecurityEventType =
  | 'policy.deny'
  | 'policy.divert'
  | 'policy.tarpit'
  | 'ratelimit.denied'
  | 'auth.failed'
  | 'tls.reloaded'
  | 'tls.rejected'
  | 'policy.reloaded'
  | 'pool.changed'
  | 'breaker.transition'
  | 'admin.action';

/** One security event. `data` never holds secrets. */
export interface SecurityEvent {
  readonly type: SecurityEventType;
  readonly corrId?: string;
  readonly data: Readonly<Record<string, unknown>>;
}

/** A consumer of security events (log, ledger writer, stream mirror). */
export interface SecurityEventSink {
  write(event: SecurityEvent): void;
}

/** Injection token for the list of sinks. */
export const SECURITY_EVENT_SINKS = Symbol('SECURITY_EVENT_SINKS');

/** Writes each event as one warn-level log line: the first sink, until the audit ledger lands. */
export class LogEventSink implements SecurityEventSink {
  private readonly logger = new Logger('security');

  write(event: SecurityEvent): void {
    this.logger.warn({ event: event.type, corrId: event.corrId, data: event.data });
  }
}

/**
 * The security-events port (DESIGN.md): every module reports what matters to the security team here, and this
 * fans it out to the configured sinks. A failing sink never fails the request that produced the event.
 */
@Injectable()
export class SecurityEvents {
  private readonly logger = new Logger(SecurityEvents.name);

  constructor(@Inject(SECURITY_EVENT_SINKS) private readonly sinks: readonly SecurityEventSink[]) {}

  emit(event: SecurityEvent): void {
    for (const sink of this.sinks) {
      try {
        sink.write(event);
      } catch (error) {
        this.logger.error({ event: 'security_event_sink_failed', type: event.type, err: error });
      }
    }
  }
}
