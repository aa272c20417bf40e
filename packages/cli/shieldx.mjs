#!/usr/bin/env node
// `npx shieldx <command>`: runs the compiled operator CLI (apps/cli, docs/cli.md), compiling it first when it is
// missing or older than its sources.
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ensureCli } from './build.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** @type {string} */
let entry;
try {
  entry = await ensureCli(root);
} catch (error) {
  process.stderr.write(`shieldx: cannot build the CLI: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
/** @type {{ runCli(argv: string[], context: object): Promise<number> }} */
const cli = await import(pathToFileURL(entry).href);
const code = await cli.runCli(process.argv.slice(2), {
  root,
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
});
process.exit(code);
