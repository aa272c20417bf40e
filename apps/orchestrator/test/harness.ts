import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Writable } from 'node:stream';
import { createApp } from '../src/app.factory';
import { loadConfig, type Env } from '../src/config/config';

/** A running orchestrator on a real loopback socket, and the JSON log lines it wrote. */
export interface RunningOrchestrator {
  readonly url: string;
  readonly app: NestFastifyApplication;
  readonly logs: Record<string, unknown>[];
  close(): Promise<void>;
}

/** Starts the orchestrator from an environment, on 127.0.0.1 and a free port, capturing its log lines. */
export async function startOrchestrator(env: Env): Promise<RunningOrchestrator> {
  const { config } = loadConfig({ ORCH_ALLOW_INSECURE: '1', ORCH_PORT: '0', ...env });
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
  const app = await createApp(config, { logDestination: sink });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = await app.getUrl();
  return { url: url.replace('[::1]', '127.0.0.1'), app, logs, close: () => app.close() };
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
