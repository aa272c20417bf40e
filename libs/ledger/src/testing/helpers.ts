import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WallClock } from '../clock';
import { hashEntry, type LedgerEntry } from '../entry';
import { type LedgerFileHandle, type LedgerFileSystem, nodeFileSystem } from '../file-system';
import type { LedgerTimers } from '../writer-options';

/** A fresh temporary directory and a function that removes it. */
export async function tempDir(prefix = 'ledger-'): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** A clock that starts at 2025-01-01T00:00:00Z and advances 1 ms per reading. */
export function steppingClock(start = Date.UTC(2025, 0, 1)): WallClock {
  let now = start;
  return { now: () => now++ };
}

/** Timers that fire only when the test says so. */
export class ManualTimers implements LedgerTimers {
  private next = 1;
  private readonly pending = new Map<number, { callback: () => void; ms: number }>();

  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.next++;
    this.pending.set(id, { callback, ms });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  /** Delays (ms) of the timers now pending. */
  get delays(): number[] {
    return [...this.pending.values()].map((t) => t.ms);
  }

  /** Fires every pending timer. */
  fireAll(): void {
    const due = [...this.pending.values()];
    this.pending.clear();
    for (const timer of due) timer.callback();
  }
}

/** The real file system, counting appends and syncs on the files it opens. */
export function countingFileSystem(): { fs: LedgerFileSystem; counts: { appends: number; syncs: number } } {
  const counts = { appends: 0, syncs: 0 };
  const wrap = (handle: LedgerFileHandle): LedgerFileHandle => ({
    append: (data) => {
      counts.appends++;
      return handle.append(data);
    },
    read: (buffer, length, position) => handle.read(buffer, length, position),
    size: () => handle.size(),
    truncate: (length) => handle.truncate(length),
    sync: () => {
      counts.syncs++;
      return handle.sync();
    },
    close: () => handle.close(),
  });
  return {
    counts,
    fs: { ...nodeFileSystem, openAppend: async (path) => wrap(await nodeFileSystem.openAppend(path)) },
  };
}

/** A fake failure on top of the real file system: appends fail with ENOSPC once `failAfter` appends succeeded. */
export function diskFullAfter(failAfter: number): LedgerFileSystem {
  let appends = 0;
  return {
    ...nodeFileSystem,
    openAppend: async (path) => {
      const handle = await nodeFileSystem.openAppend(path);
      return {
        read: (buffer, length, position) => handle.read(buffer, length, position),
        size: () => handle.size(),
        truncate: (length) => handle.truncate(length),
        sync: () => handle.sync(),
        close: () => handle.close(),
        append: (data) => {
          if (appends++ >= failAfter) {
            return Promise.reject(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }));
          }
          return handle.append(data);
        },
      };
    },
  };
}

/** The lines of a file (without the final empty string after the last newline). */
export async function readLines(path: string): Promise<string[]> {
  const text = await readFile(path, 'utf8');
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/** Writes `lines` to `path`, each followed by a newline. */
export async function writeLines(path: string, lines: readonly string[]): Promise<void> {
  await writeFile(path, lines.map((line) => `${line}\n`).join(''));
}

/** The entry of a line with `change` applied; with `rehash`, its hash is recomputed (a careful forger). */
export function editLine(line: string, change: (entry: LedgerEntry) => void, rehash = false): string {
  const entry = JSON.parse(line) as LedgerEntry;
  change(entry);
  if (rehash) entry.hash = hashEntry(entry);
  return JSON.stringify(entry);
}
