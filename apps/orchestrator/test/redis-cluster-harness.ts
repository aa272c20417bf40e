import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from './eventually';
import { launchRedisServer, stopChild } from './redis-harness';

/** A Redis Cluster of three masters (no replicas) on 127.0.0.1, started by a test. */
export interface RunningRedisCluster {
  /** `127.0.0.1:<port>` of each node, for REDIS_CLUSTER. */
  readonly nodes: readonly string[];
  stop(): Promise<void>;
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free port p whose cluster bus port p + 10000 is free too. */
async function clusterPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    if (taken.has(port) || taken.has(port + 10_000)) continue;
    if ((await bindable(port)) && (await bindable(port + 10_000))) return port;
  }
  throw new Error('no free port pair for a Redis Cluster node');
}

function cli(args: readonly string[]): string {
  const result = spawnSync('redis-cli', args, { encoding: 'utf8', timeout: 20_000 });
  if (result.status !== 0) throw new Error(`redis-cli ${args.join(' ')}: ${result.stderr}${result.stdout}`);
  return result.stdout;
}

/**
 * Starts three `redis-server --cluster-enabled yes` nodes on loopback (no persistence), joins them with
 * `redis-cli --cluster create … --cluster-replicas 0`, and waits until every node says `cluster_state:ok`. Needs
 * redis-server and redis-cli (Debian: redis-server, redis-tools); fails saying so when they are missing. Every node
 * is killed when the test process exits.
 */
export async function startRedisCluster(): Promise<RunningRedisCluster> {
  for (const tool of ['redis-server', 'redis-cli']) {
    if (spawnSync(tool, ['--version']).error !== undefined) {
      throw new Error(`${tool} is needed by this test and was not found (Debian: apt-get install -y redis-server)`);
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'shieldx-redis-cluster-'));
  const taken = new Set<number>();
  const ports: number[] = [];
  for (let i = 0; i < 3; i++) {
    const port = await clusterPort(taken);
    taken.add(port).add(port + 10_000);
    ports.push(port);
  }
  const children = await Promise.all(
    ports.map((port) =>
      launchRedisServer(port, [
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        join(dir, `nodes-${port}.conf`),
        '--cluster-node-timeout',
        '2000',
        '--dir',
        dir,
      ]),
    ),
  );
  const nodes = ports.map((port) => `127.0.0.1:${port}`);
  cli(['--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes']);
  await eventually(
    () => ports.every((port) => cli(['-p', String(port), 'cluster', 'info']).includes('cluster_state:ok')),
    {
      timeoutMs: 20_000,
      everyMs: 100,
      what: 'the Redis Cluster at cluster_state:ok',
    },
  );
  return {
    nodes,
    stop: async () => {
      await Promise.all(children.map((child) => stopChild(child, 'SIGTERM')));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
