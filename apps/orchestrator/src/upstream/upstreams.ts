import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { Pool } from './undici';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';

/**
 * Keep-alive connection pools to backends (undici), one per backend origin, created on first use. Shared by the
 * proxy and the health prober so probes reuse warm connections. A pool has one connection more than the proxy may
 * use (the proxy's connection gate admits ORCH_PROXY_MAX_CONNECTIONS requests): a probe never waits behind proxied
 * traffic, so a busy backend is not marked unhealthy for being busy.
 */
@Injectable()
export class Upstreams implements OnApplicationShutdown {
  private readonly pools = new Map<string, Pool>();
  private readonly basePaths = new Map<string, string>();

  constructor(@Inject(ORCH_CONFIG) private readonly config: OrchestratorConfig) {}

  /** The pool for a backend base URL (`http://host:port`, perhaps with a path prefix: only the origin is used). */
  get(baseUrl: string): Pool {
    let pool = this.pools.get(baseUrl);
    if (pool === undefined) {
      const { proxy } = this.config;
      pool = new Pool(new URL(baseUrl).origin, {
        connections: proxy.maxConnections + 1,
        pipelining: 1,
        connect: { timeout: proxy.connectTimeoutMs },
        headersTimeout: proxy.headersTimeoutMs,
        bodyTimeout: proxy.bodyTimeoutMs,
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 60_000,
      });
      this.pools.set(baseUrl, pool);
    }
    return pool;
  }

  /** The path part of a backend base URL (`http://h:1/base` → `/base`; usually empty), prefixed to every request. */
  basePath(baseUrl: string): string {
    let path = this.basePaths.get(baseUrl);
    if (path === undefined) {
      path = new URL(baseUrl).pathname.replace(/\/+$/, '');
      this.basePaths.set(baseUrl, path);
    }
    return path;
  }

  /** Closes the pool of a backend that left every pool. */
  async drop(baseUrl: string): Promise<void> {
    const pool = this.pools.get(baseUrl);
    if (pool === undefined) return;
    this.pools.delete(baseUrl);
    this.basePaths.delete(baseUrl);
    await pool.close();
  }

  async onApplicationShutdown(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((pool) => pool.close().catch(() => pool.destroy())));
  }
}
