import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { acquireLedgerLock, LOCK_LEASE_MS, LOCK_REFRESH_MS, type LockEnvironment } from './ledger-lock';

describe(acquireLedgerLock.name, () => {
  let dir: string;
  let path: string;
  let lockPath: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'shieldx-ledger-lock-'));
    path = join(dir, 'sub', 'ledger.jsonl');
    lockPath = `${path}.lock`;
  });
  afterEach(() => {
    vi.useRealTimers();
    rmSync(dir, { recursive: true, force: true });
  });

  /** This process as a lock sees it, with `overrides`. */
  const env = (overrides: Partial<LockEnvironment> = {}): LockEnvironment => ({
    self: { pid: process.pid, host: hostname(), started: Math.round(performance.timeOrigin) },
    alive: (pid) => pid === process.pid || pid === process.ppid,
    now: Date.now,
    ...overrides,
  });
  /** Writes a lock as another holder would, last refreshed `ageMs` ago. */
  const writeLock = (content: string, ageMs = 0): void => {
    mkdirSync(join(dir, 'sub'), { recursive: true });
    writeFileSync(lockPath, content);
    const at = new Date(Date.now() - ageMs);
    utimesSync(lockPath, at, at);
  };

  it('creates <path>.lock naming this process, refuses a second taker, and removes it on release', async () => {
    const release = await acquireLedgerLock(path);
    expect(JSON.parse(readFileSync(lockPath, 'utf8'))).toEqual({
      pid: process.pid,
      host: hostname(),
      started: Math.round(performance.timeOrigin),
    });
    await expect(acquireLedgerLock(path)).rejects.toThrow(/already open in this process/);
    await release();
    expect(existsSync(lockPath)).toBe(false);
  });

  it('refuses a lock held by another live process and takes over one left by a dead process', async () => {
    const release = await acquireLedgerLock(path);
    await release();
    writeLock(`${process.ppid}\n`);
    await expect(acquireLedgerLock(path)).rejects.toThrow(new RegExp(`in use by process ${process.ppid} on `));
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeLock(JSON.stringify({ pid: Number(dead.stdout), host: hostname(), started: 1 }));
    const again = await acquireLedgerLock(path);
    expect(JSON.parse(readFileSync(lockPath, 'utf8'))).toMatchObject({ pid: process.pid });
    await again();
  });

  it('takes over at once the lock of a restarted container: same host, same pid, another start', async () => {
    writeLock(JSON.stringify({ pid: process.pid, host: hostname(), started: 1_700_000_000_000 }));
    const release = await acquireLedgerLock(path);
    expect(JSON.parse(readFileSync(lockPath, 'utf8'))).toMatchObject({ started: Math.round(performance.timeOrigin) });
    await release();
  });

  it('refuses a fresh lock from another host (a shared volume) and takes it over once its lease has run out', async () => {
    writeLock(JSON.stringify({ pid: 4242, host: 'other-pod', started: 1 }), 1_000);
    await expect(acquireLedgerLock(path)).rejects.toThrow(/in use by process 4242 on other-pod .*refreshed 1 s ago/);
    writeLock(JSON.stringify({ pid: 4242, host: 'other-pod', started: 1 }), LOCK_LEASE_MS + 1_000);
    const release = await acquireLedgerLock(path);
    await release();
  });

  it('takes over a lock whose pid now belongs to an unrelated live process once its lease has run out', async () => {
    const reused = { pid: process.ppid, host: hostname(), started: 1 };
    writeLock(JSON.stringify(reused), 2_000);
    await expect(acquireLedgerLock(path)).rejects.toThrow(/in use by process/);
    writeLock(JSON.stringify(reused), LOCK_LEASE_MS + 1_000);
    const release = await acquireLedgerLock(path);
    await release();
  });

  it('refreshes the lock while it is held, and stops when released', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const later = Date.parse('2030-01-01T00:00:00Z');
    const release = await acquireLedgerLock(path, env({ now: () => later }));
    vi.advanceTimersByTime(LOCK_REFRESH_MS);
    // The refresh writes the file asynchronously: wait for the write, not for a guessed time.
    await vi.waitFor(() => expect(statSync(lockPath).mtimeMs).toBe(later), { timeout: 2000, interval: 10 });
    await release();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('refuses a lock that names no process', async () => {
    writeLock('');
    await expect(acquireLedgerLock(path)).rejects.toThrow(/names no process/);
  });
});
