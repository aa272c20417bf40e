import { Inject, Injectable, Logger } from '@nestjs/common';
import { anonymizeIp } from '@shieldx/security';
import { callerCorrIdOf } from '../request/request-context';
import { actingUserOf } from './acting-user';
import { Emitter } from './emitter';
import type { SecurityEvent } from './security-event';

export type { SecurityEvent, SecurityEventType } from './security-event';

/** A consumer of security events (log, ledger writer, stream mirror). */
export interface SecurityEventSink {
  write(event: SecurityEvent): void;
}

/** Injection token for the list of sinks. */
export const SECURITY_EVENT_SINKS = Symbol('SECURITY_EVENT_SINKS');

/** Data members holding a client address, or a rate-limit key naming one (`ip:<address>`). */
const IP_MEMBER = /^(?:ip|clientIp|client_ip|sourceIp|remoteAddress|address)$/;

/**
 * Writes each event as one warn-level log line (the audit ledger has the full record). Client addresses in the data
 * (`ip`, `clientIp`, … members, and `ip:<address>` or `ip:<network>/<bits>` rate-limit keys) are anonymised like the access log's unless
 * `showIp` is the identity (ORCH_LOG_FULL_IP=1).
 */
export class LogEventSink implements SecurityEventSink {
  private readonly logger = new Logger('security');

  constructor(private readonly showIp: (ip: string) => string = anonymizeIp) {}

  write(event: SecurityEvent): void {
    this.logger.warn({ event: event.type, corrId: event.corrId, data: this.mask(event.data) });
  }

  private mask(data: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> {
    let masked: Record<string, unknown> | undefined;
    for (const key in data) {
      const value = data[key];
      if (typeof value !== 'string') continue;
      let shown: string | undefined;
      if (value.startsWith('ip:')) shown = `ip:${this.showIp(value.slice(3))}`;
      else if (IP_MEMBER.test(key)) shown = this.showIp(value);
      if (shown !== undefined && shown !== value) (masked ??= { ...data })[key] = shown;
    }
    return masked ?? data;
  }
}

/**
 * The security-events port (docs/architecture.md): every module reports what matters to the security team here, and this
 * fans it out to the configured sinks. A failing sink never fails the request that produced the event.
 */
@Injectable()
export class SecurityEvents {
  private readonly logger = new Logger(SecurityEvents.name);
  private readonly listeners = new Emitter<SecurityEvent>((error, event) =>
    this.logger.error({ event: 'security_event_listener_failed', type: event.type, err: error }),
  );

  constructor(@Inject(SECURITY_EVENT_SINKS) private readonly sinks: readonly SecurityEventSink[]) {}

  emit(given: SecurityEvent): void {
    // The caller's own correlation id, when it was not trusted as the request's, is kept as a field of its own.
    const callerCorrId = given.corrId === undefined ? undefined : callerCorrIdOf(given.corrId);
    // An admin request made for a signed-in person: every event it causes names them.
    const user = given.corrId === undefined || 'user' in given.data ? undefined : actingUserOf(given.corrId);
    const event =
      callerCorrId === undefined && user === undefined
        ? given
        : ({
            ...given,
            data: {
              ...given.data,
              ...(callerCorrId === undefined ? {} : { callerCorrId }),
              ...(user === undefined ? {} : { user }),
            },
          } as SecurityEvent);
    for (const sink of this.sinks) {
      try {
        sink.write(event);
      } catch (error) {
        this.logger.error({ event: 'security_event_sink_failed', type: event.type, err: error });
      }
    }
    this.listeners.emit(event);
  }

  /** Calls `listener` with every event after the sinks took it (the admin event stream). Returns an unsubscribe. */
  onEvent(listener: (event: SecurityEvent) => void): () => void {
    return this.listeners.on(listener);
  }
}
