import { existsSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeDirectory } from './make-directory';

describe('makeDirectory', () => {
  const dirs: string[] = [];
  const scratch = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'shieldx-mkdir-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('makes every missing level, with the mode asked for, and accepts an existing directory', async () => {
    const root = scratch();
    const deep = join(root, 'a', 'b', 'c');
    await makeDirectory(deep, 0o700);
    expect(statSync(deep).isDirectory()).toBe(true);
    expect(statSync(join(root, 'a')).mode & 0o777).toBe(0o700);
    await expect(makeDirectory(deep)).resolves.toBeUndefined();
    await expect(makeDirectory(root)).resolves.toBeUndefined();
  });

  it('fails at once under a dangling symbolic link, where recursive mkdir spins for ever', async () => {
    const root = scratch();
    symlinkSync(join(root, 'not-mounted'), join(root, 'data'));
    await expect(makeDirectory(join(root, 'data', 'ledger'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it.runIf(existsSync('/proc/self'))(
    'fails at once under /proc, which answers ENOENT for a child it cannot hold',
    async () => {
      await expect(makeDirectory('/proc/shieldx-no-such-dir/ledger')).rejects.toMatchObject({ code: 'ENOENT' });
    },
  );

  it('refuses a path whose ancestor is a file', async () => {
    const root = scratch();
    writeFileSync(join(root, 'file'), 'x');
    await expect(makeDirectory(join(root, 'file', 'sub'))).rejects.toMatchObject({ code: 'ENOTDIR' });
  });
});
