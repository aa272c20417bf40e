import { makeDirectory } from '@shieldx/ledger';
import { open, readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the inter-process lock of a ledger: `<path>.lock`, created exclusively, holding this process's pid. Two
 * processes appending to one ledger would fork its chain; the writer's own lock covers one process only. A lock left
 * by a process that is gone (kill -9) is taken over.
 * @returns the release function (removes the lock file)
 * @throws Error naming the process that holds the lock
 */
export async function acquireLedgerLock(path: string): Promise<() => Promise<void>> {
  const lockPath = `${path}.lock`;
  await makeDirectory(dirname(path));
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(lockPath, 'wx', 0o600);
      try {
        await handle.writeFile(`${process.pid}\n`);
      } finally {
        await handle.close();
      }
      return () => rm(lockPath, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw error;
    }
    const text = (await readFile(lockPath, 'utf8').catch(() => '')).trim();
    const holder = Number(text);
    if (!/^\d{1,10}$/.test(text)) {
      // Being written by a process starting right now, or left empty by a crash at that instant.
      throw new Error(`the ledger lock ${lockPath} names no process; remove it if no orchestrator uses this ledger`);
    }
    if (holder === process.pid) throw new Error(`the ledger is already open in this process (${lockPath})`);
    if (alive(holder)) {
      throw new Error(`the ledger is in use by process ${holder} (${lockPath}); one process per ledger file`);
    }
    await rm(lockPath, { force: true });
  }
}
