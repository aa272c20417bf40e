// What the browser suites share: their child processes (the orchestrator, the identity provider, redis-server and the
// UI itself), the orchestrator built from source, free ports, and where Chromium and the artifacts are.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** Screenshots and builds of the browser suites. */
export const ARTIFACTS = join(ROOT, 'test-artifacts/admin-ui');
/** Debian's Chromium, driven by playwright-core. */
export const CHROMIUM = '/usr/bin/chromium';

/** A free loopback port (a listener opened and closed on port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Builds the orchestrator from the current source into `test-artifacts/admin-ui/<folder>` (inside the repository, so
 * its imports resolve) and returns its entry point.
 */
export function buildOrchestrator(folder: string): string {
  const build = join(ARTIFACTS, folder);
  rmSync(build, { recursive: true, force: true });
  const swc = spawnSync(
    'npx',
    ['swc', 'apps/orchestrator/src', 'libs', '--config-file', 'apps/orchestrator/.swcrc', '-d', build, '--quiet'],
    { cwd: ROOT, encoding: 'utf8' },
  );
  if (swc.status !== 0) throw new Error(`building the orchestrator failed:\n${swc.stderr}`);
  writeFileSync(join(build, 'package.json'), '{"type":"module"}');
  return join(build, 'apps/orchestrator/src/main.js');
}

/** Starts a child process and resolves once `ready` holds (a line of its output matches, or a URL answers 200). */
export function startProcess(
  command: string,
  args: string[],
  env: Record<string, string>,
  ready: RegExp | URL,
  timeoutMs: number,
): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let settled = false;
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error === undefined) {
        resolve({ child, output: () => output });
        return;
      }
      // Never leave a process behind that the test's clean-up cannot see.
      if (child.exitCode === null) child.kill('SIGKILL');
      reject(error);
    };
    const timer = setTimeout(
      () => done(new Error(`${args.join(' ')} not ready in ${timeoutMs} ms:\n${output}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (ready instanceof RegExp && ready.test(output)) done();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => done(new Error(`${args.join(' ')} exited with ${code}:\n${output}`)));
    if (ready instanceof URL) {
      const poll = (): void => {
        if (settled) return;
        fetch(ready, { signal: AbortSignal.timeout(1000) })
          .then((response) => (response.ok ? done() : setTimeout(poll, 100)))
          .catch(() => setTimeout(poll, 100));
      };
      poll();
    }
  });
}

export function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
