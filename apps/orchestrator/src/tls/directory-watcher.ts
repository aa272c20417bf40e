import { watch, type FSWatcher } from 'node:fs';

/** A running watch; `close()` stops it. */
export interface WatchHandle {
  close(): void;
}

/**
 * Calls back when something in one of the given directories may have changed. Directories, not files: certificate
 * files are usually replaced by rename (an editor's save, `mv`, Kubernetes secret volumes swapping a `..data`
 * symlink), which a watch on the old file would miss.
 */
export interface DirectoryWatcher {
  watch(dirs: readonly string[], onChange: () => void, onError: (error: Error) => void): WatchHandle;
}

/** {@link DirectoryWatcher} over `fs.watch` (inotify on Linux). Does not keep the process alive. */
export class FsDirectoryWatcher implements DirectoryWatcher {
  watch(dirs: readonly string[], onChange: () => void, onError: (error: Error) => void): WatchHandle {
    const watchers: FSWatcher[] = [];
    for (const dir of new Set(dirs)) {
      try {
        const watcher = watch(dir, { persistent: false }, () => onChange());
        watcher.on('error', onError);
        watchers.push(watcher);
      } catch (error) {
        onError(error as Error);
      }
    }
    return { close: () => watchers.forEach((w) => w.close()) };
  }
}
