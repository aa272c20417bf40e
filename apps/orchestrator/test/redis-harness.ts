import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';

/** A `redis-server` started by a test on 127.0.0.1 and a free port, without persistence. */
export interface RunningRedis {
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** SIGKILL: the server vanishes as in a crash; connections drop without a goodbye. */
  kill(): Promise<void>;
  /** SIGTERM and wait for exit. Safe to call twice. */
  stop(): Promise<void>;
  /** Starts a fresh (empty) server on the same port once the previous one is gone; resolves when it answers PING. */
  restart(): Promise<void>;
}

const REDIS_SERVER = 'redis-server';
const runningServers = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Starts `redis-server --port <free> --save '' --appendonly no` on 127.0.0.1 (or on `options.port`) and waits until
 * it answers PING.
 * Fails with a clear message when redis-server is not installed. Every server started here is killed when the
 * test process exits, whatever happens.
 */
export async function startRedis(options: { port?: number } = {}): Promise<RunningRedis> {
  const probe = spawnSync(REDIS_SERVER, ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined) {
    throw new Error(
      `redis-server is needed by this test and was not found (${probe.error.message}); ` +
        'install it (Debian: apt-get install -y redis-server)',
    );
  }
  const port = options.port ?? (await freePort());
  let child = await launchRedisServer(port);

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill: () => stopChild(child, 'SIGKILL'),
    stop: () => stopChild(child, 'SIGTERM'),
    restart: async () => {
      await stopChild(child, 'SIGTERM');
      child = await launchRedisServer(port);
    },
  };
}

/** Sends `signal` and resolves once the process has exited (at once when it already has). */
export function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  return exited;
}

/**
 * Starts one `redis-server` on 127.0.0.1:`port` without persistence (plus `extraArgs`, e.g. cluster mode) and resolves
 * once it logs that it is ready and answers PING. Killed when the test process exits, whatever happens.
 */
export async function launchRedisServer(port: number, extraArgs: readonly string[] = []): Promise<ChildProcess> {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const running of runningServers) running.kill('SIGKILL');
    });
  }
  const child = spawn(
    REDIS_SERVER,
    [
      ...['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
      ...extraArgs,
    ],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  runningServers.add(child);
  child.once('exit', () => runningServers.delete(child));
  // Wait for the server's own "Ready to accept connections" line (or its exit), then confirm with a PING.
  let output = '';
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 10_000);
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      output = (output + chunk).slice(-4096);
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve(true);
      }
    });
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  if (!ready || !(await ping(port))) {
    child.kill('SIGKILL');
    throw new Error(`redis-server on port ${port} did not become ready:\n${output}`);
  }
  return child;
}

/** True when a server on the port answers `PING` with `+PONG`. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let reply = '';
    const finish = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'));
    });
  });
}

/** A free TCP port on 127.0.0.1 (the kernel's choice, released at once). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address() as net.AddressInfo;
      server.close(() => resolve(address.port));
    });
  });
}
