import { type ChildProcess, fork } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { compileLedgerLib } from './testing/compile-lib';
import { tempDir } from './testing/helpers';
import { verifyLedger } from './verify';
import { LedgerWriter } from './writer';

/**
 * The child: opens the ledger (running recovery), reports where it resumed, then appends bursts as fast as it can,
 * reporting the durable seq after each flush, until it is killed.
 */
const CHILD = `
import { LedgerWriter } from './lib/index.js';
const [path, rotateBytes, batchMaxEntries, padBytes] = process.argv.slice(2).map((arg, i) => (i === 0 ? arg : Number(arg)));
const writer = await LedgerWriter.open({ path, service: 'crash-child', rotateBytes, batchMaxEntries });
const pad = 'p'.repeat(padBytes);
process.send({ kind: 'opened', lastSeq: writer.stats.lastSeq, recovery: writer.recovery });
for (let round = 0; ; round++) {
  for (let i = 0; i < 500; i++) writer.enqueue({ type: 'burst', data: { round, i, pad: pad.slice(0, (i * 7919) % (padBytes + 1)) } });
  await writer.flush();
  process.send({ kind: 'synced', syncedSeq: writer.stats.syncedSeq });
}
`;

interface ChildMessage {
  kind: 'opened' | 'synced';
  lastSeq?: number;
  syncedSeq?: number;
}

describe(`${LedgerWriter.name} crash safety`, () => {
  let dir: string;
  let remove: () => Promise<void>;
  let script: string;
  const children = new Set<ChildProcess>();

  beforeAll(async () => {
    ({ dir, remove } = await tempDir('ledger-crash-'));
    await compileLedgerLib(join(dir, 'lib'));
    script = join(dir, 'child.mjs');
    await writeFile(script, CHILD);
  }, 30_000);

  afterEach(() => {
    for (const child of children) child.kill('SIGKILL');
    children.clear();
  });

  afterAll(() => remove());

  /** Runs the child until its durable seq passes `atLeast` entries beyond where it resumed, then SIGKILLs it. */
  function runAndKill(path: string, atLeast: number): Promise<{ resumedAt: number; lastSynced: number }> {
    return new Promise((resolvePromise, reject) => {
      const child = fork(script, [path, String(256 * 1024)], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
      children.add(child);
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      let resumedAt = -1;
      let lastSynced = -1;
      let killed = false;
      child.on('message', (message: ChildMessage) => {
        if (message.kind === 'opened') resumedAt = message.lastSeq!;
        else lastSynced = message.syncedSeq!;
        if (!killed && resumedAt >= 0 && lastSynced >= resumedAt + atLeast) {
          killed = true;
          child.kill('SIGKILL');
        }
      });
      child.on('error', reject);
      child.on('exit', (code, signal) => {
        children.delete(child);
        if (signal === 'SIGKILL' && killed) resolvePromise({ resumedAt, lastSynced });
        else reject(new Error(`child exited early (code ${code}, signal ${signal}): ${stderr}`));
      });
    });
  }

  it('kill -9 during write bursts, three times: every restart recovers, resumes the chain, and it verifies', async () => {
    const path = join(dir, 'crash', 'ledger.jsonl');
    let durable = 0;
    for (let round = 0; round < 3; round++) {
      const { resumedAt, lastSynced } = await runAndKill(path, 3000);
      // The restarted child resumed at or after everything the previous one had synced (plus its recovery entry).
      expect(resumedAt).toBeGreaterThanOrEqual(durable);
      durable = lastSynced;
    }

    const writer = await LedgerWriter.open({ path, service: 'after-crash', rotateBytes: 256 * 1024 });
    const resumed = writer.stats.lastSeq;
    expect(resumed).toBeGreaterThanOrEqual(durable);
    const recovered = writer.recovery === null ? 0 : 1;
    for (let i = 0; i < 100; i++) writer.enqueue({ type: 'after', data: { i } });
    const last = await writer.append({ type: 'after', data: { i: 100 } });
    await writer.close();
    expect(last.seq).toBe(resumed + recovered + 101);

    const result = await verifyLedger(path);
    console.log('DEBUG', JSON.stringify(result.ok && { recoveries: result.recoveries, files: result.files.length, entries: result.entries }));
    expect(result).toMatchObject({ ok: true, firstSeq: 1, lastSeq: last.seq, entries: last.seq, tornTail: null });
    expect(result.ok && result.files.length).toBeGreaterThan(1);
  }, 60_000);
});
