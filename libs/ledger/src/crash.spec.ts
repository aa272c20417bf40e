import { type ChildProcess, fork } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { compileLedgerLib } from './testing/compile-lib';
import { tempDir } from './testing/helpers';
import { verifyLedger } from './verify';
import { LedgerWriter } from './writer';
import type { LedgerRecovery } from './writer-options';

/**
 * The child: opens the ledger (running recovery), reports where it resumed, then appends bursts as fast as it can,
 * reporting the durable seq as it goes, until it is killed.
 */
const CHILD = `
import { LedgerWriter } from './lib/index.js';
const [path, ...rest] = process.argv.slice(2);
const [rotateBytes, batchMaxEntries, padBytes] = rest.slice(0, 3).map(Number);
const secret = rest[3];
const signed = secret === undefined ? {} : { signingKey: { kind: 'hmac', secret }, checkpointEvery: 50, headIntervalMs: 5 };
const writer = await LedgerWriter.open({ path, service: 'crash-child', rotateBytes, batchMaxEntries, ...signed });
const pad = 'p'.repeat(padBytes);
process.send({ kind: 'opened', lastSeq: writer.stats.lastSeq, recovery: writer.recovery });
for (let round = 0; ; round++) {
  for (let i = 0; i < 50; i++) writer.enqueue({ type: 'burst', data: { round, i, pad: pad.slice(0, (i * 7919) % (padBytes + 1)) } });
  // Keep writes in flight all the time (the kill must not line up with a flush), with a bound on what is queued.
  if (writer.stats.pendingEntries > 4 * batchMaxEntries) await writer.flush();
  else await new Promise((done) => setImmediate(done));
  process.send({ kind: 'synced', syncedSeq: writer.stats.syncedSeq });
}
`;

interface ChildRun {
  rotateBytes: number;
  batchMaxEntries: number;
  /** Entries carry a pad of 0..padBytes characters. */
  padBytes: number;
  /** Entries to see synced before the kill. */
  atLeast: number;
  /** Sign checkpoints (every 50 entries) with this HMAC secret, and write the head every 5 ms. */
  secret?: string;
}

interface ChildMessage {
  kind: 'opened' | 'synced';
  lastSeq?: number;
  recovery?: LedgerRecovery | null;
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
  function runAndKill(
    path: string,
    { rotateBytes, batchMaxEntries, padBytes, atLeast, secret }: ChildRun,
  ): Promise<{ resumedAt: number; lastSynced: number }> {
    return new Promise((resolvePromise, reject) => {
      const args = [path, rotateBytes, batchMaxEntries, padBytes, ...(secret === undefined ? [] : [secret])].map(
        String,
      );
      const child = fork(script, args, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
      children.add(child);
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      let resumedAt = -1;
      let lastSynced = -1;
      let killed = false;
      child.on('message', (message: ChildMessage) => {
        // With a recovery, lastSeq already counts the ledger.recovered entry: the chain resumed after afterSeq.
        if (message.kind === 'opened') resumedAt = message.recovery?.afterSeq ?? message.lastSeq!;
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

  it.each([
    [
      'small entries, rotating every 256 KiB',
      { rotateBytes: 256 * 1024, batchMaxEntries: 64, padBytes: 300, atLeast: 3000 },
    ],
    // Batches of several MB: a SIGKILL usually lands inside a write, leaving a torn last line to recover from.
    ['multi-MB batches', { rotateBytes: 32 * 1024 * 1024, batchMaxEntries: 128, padBytes: 60_000, atLeast: 500 }],
  ] satisfies [string, ChildRun][])(
    'kill -9 during write bursts (%s), three times: each restart recovers, resumes the chain, and it verifies',
    async (name, run) => {
      const path = join(dir, name.replace(/\W+/g, '-'), 'ledger.jsonl');
      let durable = 0;
      for (let round = 0; round < 3; round++) {
        const { resumedAt, lastSynced } = await runAndKill(path, run);
        // The restarted child resumed after everything the previous one had synced: nothing durable was lost.
        expect(resumedAt).toBeGreaterThanOrEqual(durable);
        durable = lastSynced;
      }

      const writer = await LedgerWriter.open({ path, service: 'after-crash', rotateBytes: run.rotateBytes });
      const resumed = writer.stats.lastSeq;
      expect(writer.recovery?.afterSeq ?? resumed).toBeGreaterThanOrEqual(durable);
      for (let i = 0; i < 100; i++) writer.enqueue({ type: 'after', data: { i } });
      const last = await writer.append({ type: 'after', data: { i: 100 } });
      await writer.close();
      expect(last.seq).toBe(resumed + 101);

      const result = await verifyLedger(path);
      expect(result).toMatchObject({ ok: true, firstSeq: 1, lastSeq: last.seq, entries: last.seq, tornTail: null });
    },
    60_000,
  );

  it('kill -9 with a signing key, three times: checkpoints stay within the interval and the head is never ahead of the disk', async () => {
    const secret = 'crash test secret of 32 bytes...';
    const path = join(dir, 'signed', 'ledger.jsonl');
    for (let round = 0; round < 3; round++) {
      await runAndKill(path, { rotateBytes: 256 * 1024, batchMaxEntries: 64, padBytes: 300, atLeast: 1000, secret });
      // Every restart checks the ledger against its head first; a head ahead of the disk would refuse the open.
      const reopened = await LedgerWriter.open({
        path,
        service: 'check',
        signingKey: { kind: 'hmac', secret },
        checkpointEvery: 50,
      });
      expect(reopened.headCheck.status).toBe('matched');
      await reopened.close();
    }
    const key = { kind: 'hmac', secret } as const;
    const result = await verifyLedger(path, { key, checkpointEvery: 50 });
    expect(result).toMatchObject({
      ok: true,
      firstSeq: 1,
      signaturesChecked: true,
      head: { closed: true, signed: true },
    });
    if (result.ok) expect(result.checkpoints).toBeGreaterThan(3000 / 50);
  }, 60_000);
});
