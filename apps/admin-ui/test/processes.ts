// Child processes of the browser suites: the orchestrator, the identity provider, redis-server and the UI itself.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

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
