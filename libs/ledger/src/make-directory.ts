import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/**
 * `mkdir -p` that fails where Node's `mkdir(dir, { recursive: true })` never returns: when an ancestor exists but
 * cannot hold children (a path under `/proc`, a dangling symbolic link such as a volume that is not mounted), Node's
 * recursive walk retries the child forever at 100 % CPU (nodejs/node, libuv: ENOENT on the child, EEXIST on the
 * parent, again). Here the missing directories are made one by one from the deepest existing ancestor down, each
 * with a plain `mkdir`, and the first failure is thrown (ENOENT, ENOTDIR, EACCES…). An existing directory is fine.
 */
export async function makeDirectory(dir: string, mode?: number): Promise<void> {
  const missing: string[] = [];
  for (let current = resolve(dir); ;) {
    const kind = await kindOf(current);
    if (kind === 'directory') break;
    if (kind === 'other') throw notADirectory(current);
    missing.push(current);
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const path of missing.reverse()) {
    try {
      await mkdir(path, mode === undefined ? undefined : { mode });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // Made meanwhile by someone else: fine when it is a directory now. Else a file, or a link that leads nowhere.
      const kind = await kindOf(path);
      if (kind === 'directory') continue;
      throw kind === 'other' ? notADirectory(path) : danglingLink(path);
    }
  }
}

async function kindOf(path: string): Promise<'directory' | 'other' | 'missing'> {
  try {
    return (await stat(path)).isDirectory() ? 'directory' : 'other';
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw error;
  }
}

function notADirectory(path: string): NodeJS.ErrnoException {
  return fsError('ENOTDIR', `ENOTDIR: not a directory, mkdir '${path}'`, path);
}

function danglingLink(path: string): NodeJS.ErrnoException {
  return fsError('ENOENT', `ENOENT: '${path}' is a symbolic link to nothing, mkdir '${path}'`, path);
}

function fsError(code: string, message: string, path: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(message);
  error.code = code;
  error.path = path;
  return error;
}
