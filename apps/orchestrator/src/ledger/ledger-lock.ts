import { makeDirectory } from '@shieldx/ledger';
import { open, readFile, rm, stat, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';

/** How often the holder refreshes its lock's modification time. */
export const LOCK_REFRESH_MS = 5_000;
/** A lock not refreshed for this long is taken over, whoever holds it. */
export const LOCK_LEASE_MS = 15_000;

/** Who holds a lock: process id, host name and the process's start (ms since the epoch). */
export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  /** Absent in locks written before hosts and starts were recorded (a bare pid). */
  readonly started?: number;
}

/** What the lock needs to know about this process and the machine; replaceable in tests. */
export interface LockEnvironment {
  readonly self: Required<LockHolder>;
  /** True when a process with this pid exists on this host (whatever it is). */
  readonly alive: (pid: number) => boolean;
  readonly now: () => number;
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const systemEnvironment = (): LockEnvironment => ({
  self: { pid: process.pid, host: hostname(), started: Math.round(performance.timeOrigin) },
  alive: processExists,
  now: Date.now,
});

/** The holder a lock file names, or undefined when it names none (being written, or left empty by a crash). */
export function parseLockHolder(text: string, localHost: string): LockHolder | undefined {
  const trimmed = text.trim();
  // Written by earlier versions: a bare pid, on this host.
  if (/^\d{1,10}$/.test(trimmed)) return { pid: Number(trimmed), host: localHost };
  try {
    const value = JSON.parse(trimmed) as Partial<LockHolder>;
    if (!Number.isSafeInteger(value.pid) || typeof value.host !== 'string') return undefined;
    return {
      pid: value.pid as number,
      host: value.host,
      ...(Number.isSafeInteger(value.started) ? { started: value.started } : {}),
    };
  } catch {
    return undefined;
  }
}

/**
 * Whether a lock is left over (its holder cannot be running), from what the lock says and how long ago it was last
 * refreshed. The pid alone says little once containers are involved: a restarted container runs its process under the
 * same pid (often 1) as the one that crashed, on the same host name, and a pid from another host (two pods sharing a
 * volume) means nothing here. So: a holder on this host whose pid is ours but whose start is not, or whose pid is
 * gone, is over at once; any other holder is over only once its lock has gone {@link LOCK_LEASE_MS} unrefreshed.
 */
export function isStale(holder: LockHolder, refreshedAt: number, env: LockEnvironment): boolean {
  if (holder.host === env.self.host) {
    if (holder.pid === env.self.pid) return holder.started !== env.self.started;
    if (!env.alive(holder.pid)) return true;
  }
  return env.now() - refreshedAt > LOCK_LEASE_MS;
}

/**
 * Takes the inter-process lock of a ledger: `<path>.lock`, created exclusively, naming this process (pid, host,
 * start), refreshed every {@link LOCK_REFRESH_MS} while held. Two processes appending to one ledger would fork its
 * chain; the writer's own lock covers one process only. A lock whose holder cannot be running ({@link isStale}) is
 * taken over: at once after a crash on this host, after {@link LOCK_LEASE_MS} without a refresh otherwise.
 * @returns the release function (stops the refresh, removes the lock file)
 * @throws Error naming the process (and host) that holds the lock
 */
export async function acquireLedgerLock(
  path: string,
  env: LockEnvironment = systemEnvironment(),
): Promise<() => Promise<void>> {
  const lockPath = `${path}.lock`;
  await makeDirectory(dirname(path));
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(lockPath, 'wx', 0o600);
      try {
        await handle.writeFile(`${JSON.stringify(env.self)}\n`);
      } finally {
        await handle.close();
      }
      const refresh = setInterval(() => {
        const at = new Date(env.now());
        utimes(lockPath, at, at).catch(() => undefined);
      }, LOCK_REFRESH_MS);
      refresh.unref();
      return () => {
        clearInterval(refresh);
        return rm(lockPath, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw error;
    }
    const [text, refreshedAt] = await Promise.all([
      readFile(lockPath, 'utf8').catch(() => ''),
      stat(lockPath).then(
        (s) => s.mtimeMs,
        () => env.now(),
      ),
    ]);
    const holder = parseLockHolder(text, env.self.host);
    if (holder === undefined) {
      // Being written by a process starting right now, or left empty by a crash at that instant.
      throw new Error(`the ledger lock ${lockPath} names no process; remove it if no orchestrator uses this ledger`);
    }
    if (holder.host === env.self.host && holder.pid === env.self.pid && holder.started === env.self.started) {
      throw new Error(`the ledger is already open in this process (${lockPath})`);
    }
    if (!isStale(holder, refreshedAt, env)) {
      const ago = Math.max(0, Math.round((env.now() - refreshedAt) / 1000));
      throw new Error(
        `the ledger is in use by process ${holder.pid} on ${holder.host} (${lockPath}, refreshed ${ago} s ago; ` +
          `taken over once ${LOCK_LEASE_MS / 1000} s pass without a refresh); one process per ledger file`,
      );
    }
    await rm(lockPath, { force: true });
  }
}
