// Compiles the operator CLI (apps/cli/src) and the libraries it imports into dist/cli with SWC, the same compiler as
// the orchestrator's build. The `shieldx` bin calls ensureCli() on every run so that a fresh clone (npm ci, no build)
// and a tree whose sources changed both work; `nx run cli:build` runs this file directly. Nothing is downloaded.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Output directory, relative to the repository root. */
export const CLI_OUT = 'dist/cli';
/** The compiled entry point (exports runCli), relative to the repository root. */
export const CLI_ENTRY = `${CLI_OUT}/apps/cli/src/cli.js`;
const CLI_SRC = 'apps/cli/src';
/** Written last into a finished build: what the sources looked like when it was made. */
const STAMP = '.sources';

/**
 * The aliases of tsconfig.base.json (`@shieldx/ledger` → `./libs/ledger/src/index.ts`): SWC rewrites them to
 * relative imports, and every library they name is compiled beside the CLI, so an import the type checker accepts
 * also resolves at run time.
 * @param {string} root
 * @returns {Record<string, string[]>}
 */
function aliases(root) {
  const config = JSON.parse(readFileSync(join(root, 'tsconfig.base.json'), 'utf8'));
  return config.compilerOptions.paths;
}

/**
 * Every TypeScript source of the CLI and of the libraries, tests and test helpers left out, sorted.
 * @param {string} root
 * @returns {string[]} paths relative to root
 */
function sources(root) {
  const dirs = [
    CLI_SRC,
    ...Object.values(aliases(root)).map((targets) => relative(root, dirname(resolve(root, targets[0])))),
  ];
  /** @type {string[]} */
  const files = [];
  const walk = (/** @type {string} */ dir) => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'testing') walk(path);
      } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') && !entry.name.endsWith('.d.ts')) {
        files.push(path);
      }
    }
  };
  for (const dir of new Set(dirs)) walk(dir);
  return files.sort();
}

/**
 * Names, sizes and modification times of the sources (and of this file, which holds the compiler options and
 * of tsconfig.base.json, which holds the aliases): a build made from other sources has another stamp.
 * @param {string} root
 * @param {string[]} files
 */
function stampOf(root, files) {
  const hash = createHash('sha256');
  for (const file of [...files, 'tsconfig.base.json', relative(root, fileURLToPath(import.meta.url))]) {
    const { size, mtimeMs } = statSync(join(root, file));
    hash.update(`${file}\0${size}\0${mtimeMs}\n`);
  }
  return hash.digest('hex');
}

/**
 * Compiles `files` into the empty directory `out`, mirroring their paths (so the relative imports SWC writes for the
 * aliases hold), and marks `out` as an ES module package.
 * @param {string} root
 * @param {string[]} files
 * @param {string} out
 */
async function compile(root, files, out) {
  const { transformFile } = await import('@swc/core');
  const paths = aliases(root);
  await Promise.all(
    files.map(async (file) => {
      const { code } = await transformFile(join(root, file), {
        swcrc: false,
        configFile: false,
        module: { type: 'es6', resolveFully: true },
        jsc: {
          target: 'es2022',
          parser: { syntax: 'typescript' },
          // tsconfig.base.json's class-field semantics, as in the orchestrator's build.
          transform: { useDefineForClassFields: false },
          keepClassNames: true,
          baseUrl: root,
          paths,
        },
      });
      const target = join(out, file.replace(/\.ts$/, '.js'));
      mkdirSync(dirname(target), { recursive: true });
      await writeFile(target, code);
    }),
  );
  await writeFile(join(out, 'package.json'), '{ "type": "module" }\n');
}

/**
 * Builds dist/cli from the current sources. The build is made in a temporary directory beside it and renamed into
 * place, so a concurrent `shieldx` never imports half a build; when two runs build at once, the first rename wins.
 * @param {string} root the repository root
 */
export async function buildCli(root) {
  const files = sources(root);
  const stamp = stampOf(root, files);
  const out = join(root, CLI_OUT);
  mkdirSync(dirname(out), { recursive: true });
  const next = mkdtempSync(`${out}.next-`);
  try {
    await compile(root, files, next);
    await writeFile(join(next, STAMP), `${stamp}\n`);
    const old = `${next}.old`;
    try {
      renameSync(out, old);
    } catch (error) {
      // None yet, or another run is replacing it right now.
      if (/** @type {NodeJS.ErrnoException} */ (error).code !== 'ENOENT') throw error;
    }
    try {
      renameSync(next, out);
    } catch (error) {
      // Another run put its build in place between the two renames: it is as fresh as this one.
      if (!existsSync(out)) {
        if (existsSync(old)) renameSync(old, out);
        throw error;
      }
    }
    rmSync(old, { recursive: true, force: true });
  } finally {
    rmSync(next, { recursive: true, force: true });
  }
  return files.length;
}

/**
 * The compiled CLI's entry, building it first when dist/cli is missing or was made from other sources. Quiet: the
 * CLI's output is the command's. Where the sources are absent (a runtime image), the build present is used as is.
 * @param {string} root the repository root
 * @returns {Promise<string>} absolute path of the entry
 */
export async function ensureCli(root) {
  const entry = join(root, CLI_ENTRY);
  if (!existsSync(join(root, CLI_SRC))) {
    if (existsSync(entry)) return entry;
    throw new Error(`the CLI is not built (${CLI_OUT}) and its sources (${CLI_SRC}) are not here`);
  }
  const stampFile = join(root, CLI_OUT, STAMP);
  const built = existsSync(stampFile) ? readFileSync(stampFile, 'utf8').trim() : undefined;
  if (built !== stampOf(root, sources(root)) || !existsSync(entry)) await buildCli(root);
  return entry;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const count = await buildCli(root);
  process.stdout.write(`built ${CLI_OUT} (${count} files)\n`);
}
