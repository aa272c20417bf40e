import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Server } from 'node:http';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import { closeUpgrades } from '../pipeline/upgrades';
import { ProxyService } from './proxy.service';
import { WebSocketTunnels } from './websocket-tunnels';

/**
 * Graceful shutdown: when the application closes (SIGTERM/SIGINT through Nest's shutdown hooks), the listener stops
 * accepting, requests arriving on kept-alive connections get 503, in-flight requests finish, and after
 * ORCH_SHUTDOWN_GRACE whatever is still open is cut, WebSocket tunnels included.
 */
@Injectable()
export class GracefulShutdown implements BeforeApplicationShutdown {
  private readonly logger = new Logger('shutdown');

  constructor(
    @Inject(ORCH_CONFIG) private readonly config: OrchestratorConfig,
    private readonly adapter: HttpAdapterHost,
    private readonly proxy: ProxyService,
    private readonly tunnels: WebSocketTunnels,
  ) {}

  beforeApplicationShutdown(signal?: string): void {
    const server = this.adapter.httpAdapter?.getHttpServer() as Server | undefined;
    this.logger.log({
      event: 'shutdown',
      signal: signal ?? null,
      proxiedInFlight: this.proxy.inFlight,
      tunnels: this.tunnels.count,
      graceMs: this.config.proxy.shutdownGraceMs,
    });
    if (server === undefined) return;
    setTimeout(() => {
      this.logger.warn({ event: 'shutdown_forced', proxiedInFlight: this.proxy.inFlight, tunnels: this.tunnels.count });
      server.closeAllConnections();
      // Upgraded connections left the server's own list: tunnels are cut first (logged as shut down), then every
      // other connection taken by an upgrade (refusals being relayed, upgrades waiting behind earlier responses).
      this.tunnels.closeAll();
      closeUpgrades(server);
    }, this.config.proxy.shutdownGraceMs).unref();
  }
}
