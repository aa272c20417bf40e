import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { eventually } from './eventually';
import { post } from './harness';
import { freePort } from './redis-harness';

/**
 * The environment of a built gateway that writes every denial as its own ledger entry, in small batches (so a kill
 * lands while writes are in flight), with limits no test reaches; `extra` adds to it.
 */
export function ledgerGatewayEnv(ledgerPath: string, port: number, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    ORCH_ALLOW_INSECURE: '1',
    ORCH_HOST: '127.0.0.1',
    ORCH_PORT: String(port),
    ORCH_POOL_API: 'http://127.0.0.1:9',
    ORCH_LOG_LEVEL: 'warn',
    ORCH_LEDGER_PATH: ledgerPath,
    ORCH_LEDGER_AGGREGATE_WINDOW: '0ms',
    ORCH_LEDGER_MAX_PER_SECOND: '1000000',
    ORCH_LEDGER_BATCH: '8',
    ORCH_LEDGER_FLUSH_INTERVAL: '1ms',
    ORCH_IP_BURST: '1000000000',
    ORCH_IP_BURST_DEGRADED: '1000000000',
    ORCH_TENANT_BURST: '1000000000',
    ...extra,
  };
}

/** A built gateway process that answered `/readyz`. */
export interface LaunchedGateway {
  readonly process: ChildProcess;
  readonly origin: string;
  /** Resolves with the exit signal, or the exit code when no signal ended it. */
  readonly exited: Promise<number | string | null>;
}

/** Starts the gateway built in `build` on a free port with {@link ledgerGatewayEnv} and waits until it is ready. */
export async function launchLedgerGateway(
  build: string,
  ledgerPath: string,
  extra: NodeJS.ProcessEnv = {},
): Promise<LaunchedGateway> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const proc = spawn(process.execPath, [join(build, 'apps/orchestrator/src/main.js')], {
    env: ledgerGatewayEnv(ledgerPath, port, extra),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | string | null>((resolve) =>
    proc.once('exit', (code, signal) => resolve(signal ?? code)),
  );
  await eventually(async () => {
    if (proc.exitCode !== null) throw new Error(`the gateway exited: ${stderr}`);
    const status = await fetch(`${origin}/readyz`).then(
      (r) => r.status,
      () => 0,
    );
    return status === 200 ? true : undefined;
  });
  return { process: proc, origin, exited };
}

/**
 * `clients` callers send denied `/route` requests (one ledger append each) in a loop; once `denials` were answered the
 * gateway is killed with SIGKILL, mid-write. Resolves when every caller has stopped.
 */
export async function denyUntilKilled(gateway: LaunchedGateway, clients: number, denials: number): Promise<void> {
  let answered = 0;
  let killed = false;
  const client = async (id: number): Promise<void> => {
    for (let i = 0; !killed; i++) {
      const status = await post(`${gateway.origin}/route`, {
        service: 'api',
        tenant: 'acme',
        scope: 'read',
        path: `/internal/c${id}/r${i}`,
      }).then(
        (answer) => answer.status,
        () => 0,
      );
      if (status === 403 && ++answered >= denials && !killed) {
        killed = true;
        gateway.process.kill('SIGKILL');
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, (_, id) => client(id)));
}
