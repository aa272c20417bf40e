import { type FileHandle, open, readdir, rename, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { makeDirectory } from './make-directory';

/** An open ledger file as the writer uses it: appends, positional reads, truncation, sync. */
export interface LedgerFileHandle {
  /** Appends all of `data` at the end of the file (the file is opened in append mode). */
  append(data: Uint8Array): Promise<void>;
  /** Reads up to `length` bytes at byte `position` into `buffer` (from offset 0); resolves the count read. */
  read(buffer: Uint8Array, length: number, position: number): Promise<number>;
  /** Current size in bytes. */
  size(): Promise<number>;
  /** Cuts the file to `length` bytes. */
  truncate(length: number): Promise<void>;
  /** Makes written data durable (`fdatasync`). */
  sync(): Promise<void>;
  /** Closes the file. */
  close(): Promise<void>;
}

/**
 * The file-system operations the ledger writer performs, behind one small seam: {@link nodeFileSystem} is the real
 * one; a test may wrap it (for example to count syncs) or replace it.
 */
export interface LedgerFileSystem {
  /** Opens (creating if missing) `path` for appending and reading. */
  openAppend(path: string): Promise<LedgerFileHandle>;
  /** Opens an existing `path` read-only (its `append`, `truncate` and `sync` fail). */
  openRead(path: string): Promise<LedgerFileHandle>;
  /** Names of the entries of directory `dir`. */
  list(dir: string): Promise<string[]>;
  /** Size in bytes of `path`, or `null` when it does not exist. */
  sizeOf(path: string): Promise<number | null>;
  /** Renames `from` to `to` (atomic within a directory). */
  rename(from: string, to: string): Promise<void>;
  /** Makes directory `dir` exist (with parents). */
  ensureDir(dir: string): Promise<void>;
  /** Makes the directory entries of `dir` durable (fsync of the directory), so a rename or create survives a crash. */
  syncDir(dir: string): Promise<void>;
  /** The first `maxBytes` bytes of a file (all of a shorter one), or `null` when it does not exist. */
  readStart(path: string, maxBytes: number): Promise<Buffer | null>;
  /**
   * Replaces `path` with `data` atomically and durably: writes `<path>.tmp`, syncs it, renames it over `path` and syncs
   * the directory, so a crash leaves the old content or the new one, never a mix.
   */
  replaceFile(path: string, data: Uint8Array): Promise<void>;
}

class NodeFileHandle implements LedgerFileHandle {
  constructor(private readonly handle: FileHandle) {}

  async append(data: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < data.length) {
      const { bytesWritten } = await this.handle.write(data, offset, data.length - offset);
      offset += bytesWritten;
    }
  }

  async read(buffer: Uint8Array, length: number, position: number): Promise<number> {
    const { bytesRead } = await this.handle.read(buffer, 0, length, position);
    return bytesRead;
  }

  async size(): Promise<number> {
    return (await this.handle.stat()).size;
  }

  truncate(length: number): Promise<void> {
    return this.handle.truncate(length);
  }

  sync(): Promise<void> {
    return this.handle.datasync();
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

/** The real file system (`node:fs/promises`). */
export const nodeFileSystem: LedgerFileSystem = {
  async openAppend(path) {
    return new NodeFileHandle(await open(path, 'a+'));
  },
  async openRead(path) {
    return new NodeFileHandle(await open(path, 'r'));
  },
  list(dir) {
    return readdir(dir);
  },
  async sizeOf(path) {
    try {
      return (await stat(path)).size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  },
  rename(from, to) {
    return rename(from, to);
  },
  ensureDir(dir) {
    return makeDirectory(dir);
  },
  syncDir,
  async readStart(path, maxBytes) {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    try {
      const buffer = Buffer.alloc(maxBytes);
      let done = 0;
      while (done < maxBytes) {
        const { bytesRead } = await handle.read(buffer, done, maxBytes - done, done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return buffer.subarray(0, done);
    } finally {
      await handle.close();
    }
  },
  async replaceFile(path, data) {
    const temp = `${path}.tmp`;
    const handle = await open(temp, 'w');
    try {
      await new NodeFileHandle(handle).append(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
    await syncDir(dirname(path));
  },
};

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
