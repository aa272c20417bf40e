import { Global, Module } from '@nestjs/common';
import { anonymizeIp } from '@shieldx/security';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import { LedgerEventSink } from '../ledger/ledger-event-sink';
import { LedgerService } from '../ledger/ledger.service';
import { LogEventSink, SECURITY_EVENT_SINKS, type SecurityEventSink, SecurityEvents } from './security-events';

/** Provides {@link SecurityEvents} everywhere; its sinks are the log (warn lines) and the audit ledger. */
@Global()
@Module({
  providers: [
    {
      provide: SECURITY_EVENT_SINKS,
      useFactory: (config: OrchestratorConfig, ledger: LedgerService): SecurityEventSink[] => [
        new LogEventSink(config.log.fullIp ? (ip) => ip : anonymizeIp),
        new LedgerEventSink(ledger),
      ],
      inject: [ORCH_CONFIG, LedgerService],
    },
    SecurityEvents,
  ],
  exports: [SecurityEvents],
})
export class EventsModule {}
