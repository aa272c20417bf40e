import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { LOCALITY_TOKEN } from '@shieldx/lb';
import { normalizeIp, TrustedProxies } from '@shieldx/security';
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import { RegionTable } from './region-table';

/** Reads a file's text; injected so tests need no file on disk. */
export type ReadRegionTable = (path: string) => string;

/** Injection token of the {@link ReadRegionTable} used at boot (the file system unless a test overrides it). */
export const READ_REGION_TABLE = Symbol('READ_REGION_TABLE');

/**
 * Where a client is, for locality-aware routing: the region named by the edge in ORCH_CLIENT_REGION_HEADER — believed
 * only when the connection comes from ORCH_TRUSTED_PROXIES, and only when it is a valid region name — else the region
 * of the client IP in the ORCH_CLIENT_REGION_TABLE file. Off (and free) when neither is configured.
 */
@Injectable()
export class ClientRegions {
  /** True when a header or a table is configured; when false, {@link of} is never worth calling. */
  readonly enabled: boolean;
  private readonly header: string | undefined;
  private readonly trusted: TrustedProxies;
  private readonly table: RegionTable | undefined;

  /** @throws Error naming the table file and its first bad line */
  constructor(
    @Inject(ORCH_CONFIG) config: OrchestratorConfig,
    @Optional() @Inject(READ_REGION_TABLE) readText: ReadRegionTable = (path) => readFileSync(path, 'utf8'),
  ) {
    const { clientRegionHeader, clientRegionTable } = config.locality;
    this.header = clientRegionHeader;
    this.trusted = new TrustedProxies(config.rateLimit.trustedProxies);
    if (clientRegionTable !== undefined) {
      try {
        this.table = new RegionTable(readText(clientRegionTable));
      } catch (error) {
        throw new Error(`ORCH_CLIENT_REGION_TABLE: '${clientRegionTable}': ${(error as Error).message}`, {
          cause: error,
        });
      }
    }
    this.enabled = this.header !== undefined || this.table !== undefined;
    if (this.header !== undefined && this.trusted.size === 0) {
      new Logger('locality').warn({
        event: 'client_region_header_unused',
        msg: 'ORCH_CLIENT_REGION_HEADER is set but ORCH_TRUSTED_PROXIES is empty: the header is never believed',
      });
    }
  }

  /**
   * The client's region for one request: `peerIp` is the socket's address, `clientIp` the resolved client IP (after
   * trusted X-Forwarded-For), `headers` the request's headers. Undefined when unknown.
   */
  of(peerIp: string | undefined, clientIp: string, headers: IncomingHttpHeaders): string | undefined {
    const header = this.header;
    if (header !== undefined && this.trusted.size > 0) {
      const value = headers[header];
      if (typeof value === 'string' && LOCALITY_TOKEN.test(value) && this.trusted.has(normalizeIp(peerIp ?? ''))) {
        return value;
      }
    }
    return this.table?.lookup(clientIp);
  }
}
