import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireLedgerLock } from './ledger-lock';

describe(acquireLedgerLock.name, () => {
  let dir: string;
  let path: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'shieldx-ledger-lock-'));
    path = join(dir, 'sub', 'ledger.jsonl');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates <path>.lock with this pid, refuses a second taker, and removes it on release', async () => {
    const release = await acquireLedgerLock(path);
    expect(readFileSync(`${path}.lock`, 'utf8')).toBe(`${process.pid}\n`);
    await expect(acquireLedgerLock(path)).rejects.toThrow(/already open in this process/);
    await release();
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it('refuses a lock held by another live process and takes over one left by a dead process', async () => {
    const release = await acquireLedgerLock(path);
    await release();
    writeFileSync(`${path}.lock`, `${process.ppid}\n`);
    await expect(acquireLedgerLock(path)).rejects.toThrow(new RegExp(`in use by process ${process.ppid}`));
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(`${path}.lock`, `${dead.stdout}\n`);
    const again = await acquireLedgerLock(path);
    expect(readFileSync(`${path}.lock`, 'utf8')).toBe(`${process.pid}\n`);
    await again();
  });
});
