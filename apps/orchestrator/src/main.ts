// First: the formatters the framework builds as it loads stay deferred (logging/deferred-intl.ts), and the gateway's
// V8 flags are set before any code is hot (v8-flags.ts).
import { restoreDateTimeFormat } from './logging/deferred-intl';
import './v8-flags';
import cluster from 'node:cluster';
import { ConfigError, loadConfig } from './config/config';
import { runPrimary } from './cluster/workers';
import { compactHeapAfterStartup } from './startup-heap';
import { LedgerOpenError } from './ledger/ledger-types';
import { TlsMaterialError } from './tls/tls-material';
import { keepTickShape } from './tick-shape';

/** A listener could not be opened: the address is taken, not ours, or needs privileges. */
class ListenError extends Error {
  constructor(settings: string, host: string, port: number, cause: NodeJS.ErrnoException) {
    const why =
      cause.code === 'EADDRINUSE'
        ? 'the address is already in use'
        : cause.code === 'EACCES'
          ? 'permission denied (a port below 1024 needs privileges)'
          : 'the address is not available on this host';
    super(`cannot listen on ${host}:${port} (${settings}): ${why}`, { cause });
  }
}

/** Runs `open`, turning the listen errors an operator can fix into a {@link ListenError}. */
async function opening<T>(settings: string, host: string, port: number, open: () => Promise<T>): Promise<T> {
  try {
    return await open();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      throw new ListenError(settings, host, port, error as NodeJS.ErrnoException);
    }
    throw error;
  }
}

/**
 * Entry point: the only place that reads `process.env`. Invalid configuration stops start-up with one message that
 * names every bad key.
 */
async function main(): Promise<void> {
  // Before anything runs a collection (the start-up compaction below, V8's idle ones): see tick-shape.ts.
  keepTickShape();
  let loaded: ReturnType<typeof loadConfig>;
  try {
    loaded = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`shieldx: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const { config, warnings } = loaded;
  // ORCH_WORKERS > 1: this process supervises the workers (cluster/workers.ts); each worker runs the app below. The
  // primary never loads the application's modules (the framework, the pipeline): they are imported here, for a
  // process that serves.
  if (config.cluster.workers > 1 && cluster.isPrimary) {
    restoreDateTimeFormat();
    return runPrimary(config, warnings);
  }
  const [{ createApp }, { installWorkerRuntime }, { startOpsServer }] = await Promise.all([
    import('./app.factory'),
    import('./cluster/worker-runtime'),
    import('./ops/ops-server'),
  ]);
  restoreDateTimeFormat();
  const app = await createApp(config, { configSource: () => loadConfig(process.env).config });
  const worker =
    cluster.isWorker && config.cluster.workerIndex !== undefined
      ? installWorkerRuntime(app, config.cluster.workerIndex)
      : undefined;
  const opsPort = config.ops.port;
  const ops =
    opsPort === undefined
      ? undefined
      : await opening('ORCH_OPS_HOST/ORCH_OPS_PORT', config.ops.host, opsPort, () =>
          startOpsServer(app, { host: config.ops.host, port: opsPort, metrics: worker?.allMetrics }),
        );
  const log = app.getHttpAdapter().getInstance().log;
  for (const warning of warnings) log.warn({ event: 'config_warning' }, warning);
  if (config.listen.insecure) {
    log.warn(
      { event: 'insecure_mode' },
      '!!! ORCH_ALLOW_INSECURE=1: serving plain HTTP without client authentication. Development only. !!!',
    );
  }
  await opening('ORCH_HOST/ORCH_PORT', config.listen.host, config.listen.port, () =>
    app.listen({ port: config.listen.port, host: config.listen.host }),
  );
  const address = await app.getUrl();
  worker?.ready(address);
  log.info(
    {
      event: 'listening',
      url: address,
      pools: [...config.pools.keys()],
      demo: config.demo,
      node: process.version,
      ...(config.cluster.workerIndex === undefined ? {} : { worker: config.cluster.workerIndex }),
      ...(ops === undefined ? {} : { ops: ops.url }),
    },
    `listening on ${address} (Node ${process.version})`,
  );
  setImmediate(compactHeapAfterStartup);
}

main().catch((error: unknown) => {
  if (error instanceof TlsMaterialError) {
    process.stderr.write(`shieldx: cannot serve TLS: ${error.message}\n`);
    process.exit(2);
  }
  if (error instanceof LedgerOpenError || error instanceof ListenError) {
    process.stderr.write(`shieldx: ${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(
    `shieldx: failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
