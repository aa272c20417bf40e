import { type DynamicModule, Module, type ModuleMetadata } from '@nestjs/common';
import { SECURITY_EVENT_SINKS, type SecurityEventSink, SecurityEvents } from './security-events';

/** Where the app's security events go: a factory of sinks, with the modules and tokens it needs. */
export interface EventSinksOptions {
  readonly imports?: ModuleMetadata['imports'];
  readonly inject: readonly (string | symbol | (abstract new (...args: never[]) => unknown))[];
  readonly useFactory: (...deps: never[]) => SecurityEventSink[];
}

/**
 * Provides {@link SecurityEvents} to every module (global: every capability reports to it). The sinks are composed by
 * the app (the log and the audit ledger), so this infrastructure module knows no capability.
 */
@Module({})
export class EventsModule {
  static forRoot(sinks: EventSinksOptions): DynamicModule {
    return {
      module: EventsModule,
      global: true,
      imports: sinks.imports ?? [],
      providers: [
        { provide: SECURITY_EVENT_SINKS, useFactory: sinks.useFactory, inject: [...sinks.inject] },
        SecurityEvents,
      ],
      exports: [SecurityEvents],
    };
  }
}
