import { Module, type OnModuleInit } from '@nestjs/common';
import { ClientIdentityService } from './client-identity.service';
import { FsDirectoryWatcher } from './directory-watcher';
import { DEFAULT_TLS_RELOAD_TIMING, DIRECTORY_WATCHER, TLS_RELOAD_TIMING } from './tls.constants';
import { TLS_METRIC_PROVIDERS, TlsMetrics } from './tls-metrics';
import { TlsService } from './tls.service';

/**
 * Transport security: the serving certificate and its hot rotation ({@link TlsService}) and the verified client
 * identity of each connection ({@link ClientIdentityService}). The HTTPS listener options are built before Nest
 * exists, by `buildHttpsOptions` in the app factory.
 */
@Module({
  providers: [
    ...TLS_METRIC_PROVIDERS,
    TlsMetrics,
    { provide: DIRECTORY_WATCHER, useClass: FsDirectoryWatcher },
    { provide: TLS_RELOAD_TIMING, useValue: DEFAULT_TLS_RELOAD_TIMING },
    TlsService,
    ClientIdentityService,
  ],
  exports: [TlsService, ClientIdentityService],
})
export class TlsModule implements OnModuleInit {
  constructor(
    private readonly tls: TlsService,
    private readonly metrics: TlsMetrics,
  ) {}

  /** `ratls_cert_expiry_seconds` reads the serving certificate at each scrape. */
  onModuleInit(): void {
    this.metrics.certExpiryFrom(() => this.tls.secondsLeft());
  }
}
