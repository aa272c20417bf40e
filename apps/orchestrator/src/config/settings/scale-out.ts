/** Settings of worker processes and of coherence between instances through Redis. */
import { availableParallelism, hostname } from 'node:os';
import { basename, dirname, extname, join } from 'node:path';
import {
  integerIn,
  parseFlag,
  parseInteger,
  parseList,
  parsePrintableName,
  parseRedisUrl,
  positiveDuration,
} from '../parse';
import { setting, type ReadContext, type Section } from '../setting';

/** Most worker processes ORCH_WORKERS may ask for. */
const MAX_WORKERS = 64;

/** ORCH_WORKERS: an integer 1..64, or `auto` (the cores Node says are available, at most 64). */
function parseWorkers(raw: string): number {
  const text = raw.trim().toLowerCase();
  if (text === 'auto') return Math.max(1, Math.min(MAX_WORKERS, availableParallelism()));
  return parseInteger(text, 1, MAX_WORKERS);
}

/** REDIS_CLUSTER: seed nodes, each `host:port` or a `redis(s)://` URL, without database numbers; repeats dropped. */
function parseRedisCluster(raw: string): string[] {
  const nodes = parseList(raw).map(parseRedisUrl);
  if (nodes.length === 0) throw new Error('must list at least one node (host:port)');
  if (nodes.some((node) => /\/\d+$/.test(new URL(node).pathname))) {
    throw new Error('a Redis Cluster has no database numbers (drop the /<db>)');
  }
  return [...new Set(nodes)];
}

/** This process's worker slot, given by the primary. */
export const WORKER_INDEX = setting({
  key: 'ORCH_WORKER_INDEX',
  at: 'cluster.workerIndex',
  parse: integerIn(1, MAX_WORKERS),
  fallback: undefined,
  shownDefault: 'set by the primary',
  doc: `internal: the slot (1–${MAX_WORKERS}) the primary gives each worker it starts; not for operators`,
});

/** Seed nodes of a Redis Cluster; REDIS_ADDR/REDIS_URL are then not read. */
export const REDIS_CLUSTER = setting({
  key: 'REDIS_CLUSTER',
  at: 'redis.cluster',
  parse: parseRedisCluster,
  fallback: undefined,
  doc:
    'comma list of Redis Cluster seed nodes (`host:port` or `redis(s)://[user:password@]host:port`, no `/<db>`); ' +
    'instead of `REDIS_ADDR`: setting both is an error',
});

/**
 * A worker's own ledger file: `.w<slot>` before the extension (`data/ledger.jsonl` → `data/ledger.w2.jsonl`), so
 * workers never share a hash chain and a restarted worker continues its slot's chain.
 */
export function workerLedgerPath(path: string, slot: number): string {
  const name = basename(path);
  const ext = extname(name);
  return join(dirname(path), `${name.slice(0, name.length - ext.length)}.w${slot}${ext}`);
}

/** `path` as this process uses it: with its worker slot when it is a worker. */
export function forThisWorker(path: string, ctx: ReadContext): string {
  const slot = ctx.get(WORKER_INDEX);
  return slot === undefined ? path : workerLedgerPath(path, slot);
}

/** Scale-out. */
export const SCALE_OUT: Section = {
  title: 'Scale-out',
  lead: 'Behaviour: [Scale-out](scale-out.md).',
  settings: [
    setting({
      key: 'ORCH_WORKERS',
      at: 'cluster.workers',
      parse: parseWorkers,
      default: '1',
      doc: `worker processes serving the port (1–${MAX_WORKERS}), or \`auto\` = the cores Node reports (\`os.availableParallelism\`)`,
    }),
    WORKER_INDEX,
    setting({
      key: 'ORCH_INSTANCE_ID',
      at: 'cluster.instanceId',
      parse: parsePrintableName,
      fallback: () => `${hostname()}:${process.pid}`,
      // Workers of one host share the id they are given; the slot tells them apart.
      resolve: (id, ctx) => {
        const slot = ctx.get(WORKER_INDEX);
        return slot === undefined ? id : `${id}/w${slot}`;
      },
      shownDefault: '`<hostname>:<pid>`',
      doc:
        "this instance's name in the shared channels and the audit stream (1-128 printable characters, no spaces); " +
        'a worker appends `/w<slot>`',
    }),
    REDIS_CLUSTER,
    setting({
      key: 'ORCH_AUDIT_STREAM',
      at: 'cluster.auditStream',
      parse: parsePrintableName,
      default: 'shieldx:audit',
      doc: "the Redis Stream mirroring every instance's audit entries",
    }),
    setting({
      key: 'ORCH_AUDIT_STREAM_MAXLEN',
      at: 'cluster.auditStreamMaxLen',
      parse: integerIn(0, 100_000_000),
      default: '100000',
      doc: 'approximate length cap of the stream (`XADD MAXLEN ~`); 0 = no mirror',
    }),
    setting({
      key: 'ORCH_CLUSTER_RESYNC_EVERY',
      at: 'cluster.resyncEveryMs',
      parse: positiveDuration,
      default: '5s',
      doc:
        'how often an instance compares the shared version counters with what it has seen (and catches up when it ' +
        'missed a message)',
    }),
    setting({
      key: 'ORCH_ROLLOUT_DECIDER',
      at: 'cluster.rolloutDecider',
      parse: parseFlag,
      default: '1',
      doc:
        'with Redis: `1` = this instance may decide [rollouts](rollouts.md#several-instances) (hold the lease); ' +
        '`0` = it applies them and shares its counts but never decides (a shadow or trial instance)',
    }),
  ],
};
