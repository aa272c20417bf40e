import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transformFile } from '@swc/core';

const SRC = fileURLToPath(new URL('..', import.meta.url));

/**
 * Compiles this library's sources (not its specs or test helpers) with SWC into `outDir` as ES modules that plain
 * `node` can import (`outDir/index.js`), so a child process can run the real writer.
 */
export async function compileLedgerLib(outDir: string): Promise<string> {
  await mkdir(outDir, { recursive: true });
  const names = (await readdir(SRC)).filter((name) => name.endsWith('.ts') && !name.endsWith('.spec.ts'));
  for (const name of names) {
    const { code } = await transformFile(join(SRC, name), {
      swcrc: false,
      configFile: false,
      module: { type: 'es6', resolveFully: true },
      jsc: { baseUrl: resolve(SRC), target: 'es2022', parser: { syntax: 'typescript' } },
    });
    await writeFile(join(outDir, name.replace(/\.ts$/, '.js')), code);
  }
  await writeFile(join(outDir, 'package.json'), '{ "type": "module" }\n');
  return join(outDir, 'index.js');
}
