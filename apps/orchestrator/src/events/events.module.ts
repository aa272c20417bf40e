import { Global, Module } from '@nestjs/common';
import { LogEventSink, SECURITY_EVENT_SINKS, SecurityEvents } from './security-events';

/** Provides {@link SecurityEvents} everywhere. */
@Global()
@Module({
  providers: [{ provide: SECURITY_EVENT_SINKS, useFactory: () => [new LogEventSink()] }, SecurityEvents],
  exports: [SecurityEvents],
})
export class EventsModule {}
