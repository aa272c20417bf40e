import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileOrchestrator } from './compile';

/**
 * What a platform engineer sees when start-up cannot succeed: the process exits 2 with one line naming the setting
 * and the reason (no stack trace), instead of a stack, or hanging.
 */
describe('start-up failures an operator can fix', () => {
  let work: string;
  let build: string;
  let busy: Server;
  let busyPort: number;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'shieldx-e2e-startup-'));
    build = compileOrchestrator('e2e-startup-');
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    busyPort = (busy.address() as { port: number }).port;
  }, 120_000);

  afterAll(async () => {
    await new Promise<void>((resolve) => busy.close(() => resolve()));
    rmSync(build, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  function start(env: Record<string, string>): { status: number | null; stderr: string } {
    const run = spawnSync(process.execPath, [join(build, 'apps/orchestrator/src/main.js')], {
      env: {
        PATH: process.env.PATH,
        ORCH_ALLOW_INSECURE: '1',
        ORCH_HOST: '127.0.0.1',
        ORCH_PORT: '0',
        ORCH_POOL_API: 'http://127.0.0.1:9',
        ORCH_LOG_LEVEL: 'error',
        ORCH_LEDGER_PATH: join(mkdtempSync(join(work, 'ledger-')), 'ledger.jsonl'),
        ...env,
      },
      encoding: 'utf8',
      timeout: 30_000,
    });
    return { status: run.status, stderr: run.stderr };
  }

  it('a taken port: exit 2, naming ORCH_HOST/ORCH_PORT', () => {
    const run = start({ ORCH_PORT: String(busyPort) });
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(
      `shieldx: cannot listen on 127.0.0.1:${busyPort} (ORCH_HOST/ORCH_PORT): the address is already in use\n`,
    );
  }, 40_000);

  it('a taken ops port: exit 2, naming ORCH_OPS_HOST/ORCH_OPS_PORT', () => {
    const run = start({ ORCH_OPS_PORT: String(busyPort) });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^shieldx: cannot listen on .*:\d+ \(ORCH_OPS_HOST\/ORCH_OPS_PORT\): the address is/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  }, 40_000);

  it('a ledger under a link to nothing: exit 2 with the reason, at once', () => {
    const dir = mkdtempSync(join(work, 'dangling-'));
    symlinkSync(join(dir, 'not-mounted'), join(dir, 'data'));
    const started = Date.now();
    const run = start({ ORCH_LEDGER_PATH: join(dir, 'data', 'ledger.jsonl') });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(
      /^shieldx: cannot open the audit ledger .* \(ORCH_LEDGER_PATH\): ENOENT: .* is a symbolic link to nothing/,
    );
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(Date.now() - started).toBeLessThan(20_000);
  }, 40_000);
});
