import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createApp } from '../src/app.factory';
import { loadConfig, type Env } from '../src/config/config';

/** Rate limits far above what a test sends: per-IP (normal and degraded) and per-tenant buckets of a million. */
export const UNLIMITED = { ORCH_IP_BURST: '1000000', ORCH_IP_BURST_DEGRADED: '1000000', ORCH_TENANT_BURST: '1000000' };

/** A running orchestrator on a real loopback socket, and the JSON log lines it wrote. */
export interface RunningOrchestrator {
  readonly url: string;
  readonly app: NestFastifyApplication;
  readonly logs: Record<string, unknown>[];
  /** The audit ledger file (a fresh temporary one, removed on close, unless the environment names one). */
  readonly ledgerPath: string;
  close(): Promise<void>;
}

/** Options of {@link startOrchestrator}. */
export interface StartOptions {
  /** Listen address: `127.0.0.1` (default) or `::1` (an IPv6 client). */
  readonly host?: '127.0.0.1' | '::1';
  /** Trace every request into this exporter (an in-memory one in tests). */
  readonly spanExporter?: SpanExporter;
}

/**
 * Starts the orchestrator from an environment, on loopback and a free port, capturing its log lines. Each instance
 * writes its audit ledger to its own temporary directory unless `ORCH_LEDGER_PATH` is given (one process may open a
 * ledger file once).
 */
export async function startOrchestrator(env: Env, options: StartOptions = {}): Promise<RunningOrchestrator> {
  const ledgerDir = env.ORCH_LEDGER_PATH === undefined ? mkdtempSync(join(tmpdir(), 'shieldx-e2e-ledger-')) : undefined;
  const ledgerPath = env.ORCH_LEDGER_PATH ?? join(ledgerDir as string, 'ledger.jsonl');
  const fullEnv = { ORCH_ALLOW_INSECURE: '1', ORCH_PORT: '0', ORCH_LEDGER_PATH: ledgerPath, ...env };
  const { config } = loadConfig(fullEnv);
  const logs: Record<string, unknown>[] = [];
  let pending = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      pending += chunk.toString('utf8');
      let newline = pending.indexOf('\n');
      while (newline !== -1) {
        logs.push(JSON.parse(pending.slice(0, newline)) as Record<string, unknown>);
        pending = pending.slice(newline + 1);
        newline = pending.indexOf('\n');
      }
      callback();
    },
  });
  const app = await createApp(config, {
    logDestination: sink,
    spanExporter: options.spanExporter,
    configSource: () => loadConfig(fullEnv).config,
  });
  const host = options.host ?? '127.0.0.1';
  await app.listen({ port: 0, host });
  const url = await app.getUrl();
  return {
    url: host === '::1' ? url : url.replace('[::1]', '127.0.0.1'),
    app,
    logs,
    ledgerPath,
    close: async () => {
      await app.close();
      if (ledgerDir !== undefined) rmSync(ledgerDir, { recursive: true, force: true });
    },
  };
}

/** POSTs JSON (or a raw string) and returns status, headers and the parsed body. */
export async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as Record<string, unknown>,
  };
}
