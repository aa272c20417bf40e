import {
  GENESIS_HASH,
  hashEntry,
  type LedgerEntry,
  type LedgerHead,
  LedgerWriter,
  readLedgerHead,
  verifyLedger,
  type VerifyOptions,
} from '@shieldx/ledger';
import { type ChildProcess, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SecurityEvents } from '../../src/events/security-events';
import { denyEvent } from '../security-event';
import { LedgerOpenError } from '../../src/ledger/ledger-types';
import { compileOrchestrator } from '../compile';
import { post, type RunningOrchestrator, startOrchestrator } from '../harness';
import { eventually } from '../eventually';
import { denyUntilKilled, launchLedgerGateway, ledgerGatewayEnv, type LaunchedGateway } from '../ledger-process';

/**
 * The audit ledger against someone who can edit its files (security review, class 4): removing the newest entries
 * (while the gateway runs, after a clean stop, after kill -9), stripping the signed checkpoints and re-hashing, a
 * duplicate member before the real one, a number beyond 2^53, a byte edited so a line is no longer UTF-8, the head
 * file removed with the newest entries (with a forged line appended, or with the active file itself); and the honest
 * ledgers that must still verify or start (fresh, crash-recovered, rotated, shorter than the checkpoint interval,
 * written before heads existed). Verified over HTTP (`GET /admin/ledger/verify`),
 * with `npx shieldx ledger verify`, with the library, and by starting the gateway again.
 */

const ROOT = join(__dirname, '../../../..');
const CLOSED = 'http://127.0.0.1:9';
const SECRET = 'ledger-tamper-secret-0123456789abcdef';
const KEY = { kind: 'hmac', secret: SECRET } as const;
const SIGNED = { ORCH_POOL_API: CLOSED, ORCH_LEDGER_SIGNING_KEY: `hmac:${SECRET}` };
const CHECKPOINT = '"type":"ledger.checkpoint"';

function readLines(path: string): string[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line !== '');
}

function writeLines(path: string, lines: readonly string[]): void {
  writeFileSync(path, lines.map((line) => `${line}\n`).join(''));
}

const entryOf = (line: string) => JSON.parse(line) as LedgerEntry;

async function headOf(path: string): Promise<LedgerHead> {
  const found = await readLedgerHead(`${path}.head`);
  if (found.kind !== 'ok') throw new Error(`no head for ${path}: ${JSON.stringify(found)}`);
  return found.head;
}

/** Re-chains lines from the first one on, as a forger without the key does: seq, prevHash and hash recomputed. */
function rechain(lines: readonly string[]): string[] {
  const out: string[] = [];
  for (const line of lines) {
    const entry = entryOf(line);
    entry.seq = out.length + 1;
    entry.prevHash = out.length === 0 ? GENESIS_HASH : entryOf(out.at(-1)!).hash;
    entry.hash = hashEntry(entry);
    out.push(JSON.stringify(entry));
  }
  return out;
}

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function putPool(url: string, name: string): Promise<number> {
  const response = await fetch(`${url}/admin/pools/${name}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ urls: [CLOSED] }),
  });
  return response.status;
}

/** `npx shieldx ledger verify …` with the HMAC secret in a file. */
function cliVerify(dir: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const secretFile = join(dir, 'secret');
  writeFileSync(secretFile, `${SECRET}\n`);
  const run = spawnSync(
    process.execPath,
    [join(ROOT, 'packages/cli/shieldx.mjs'), 'ledger', 'verify', ...args, '--hmac-secret-file', secretFile],
    { encoding: 'utf8', timeout: 180_000 },
  );
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

const signedVerify = (path: string, options: VerifyOptions = {}) => verifyLedger(path, { key: KEY, ...options });

describe('audit ledger tamper matrix', () => {
  let dir: string;
  let ledgerPath: string;
  let orch: RunningOrchestrator | undefined;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'shieldx-ledger-tamper-'));
  });

  afterEach(async () => {
    await orch?.close();
    orch = undefined;
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  let cases = 0;
  /** A fresh ledger path for one case. */
  function freshLedger(): string {
    ledgerPath = join(dir, `case-${++cases}`, 'ledger.jsonl');
    return ledgerPath;
  }

  async function start(env: Record<string, string> = {}): Promise<RunningOrchestrator> {
    orch = await startOrchestrator({ ...SIGNED, ORCH_LEDGER_PATH: ledgerPath, ...env });
    return orch;
  }

  async function stop(): Promise<void> {
    await orch?.close();
    orch = undefined;
  }

  /** An admin pool edit, then the index of its first ledger line (everything from there on is "the newest entries"). */
  async function poolEdit(running: RunningOrchestrator): Promise<number> {
    expect(await putPool(running.url, 'edited')).toBe(200);
    // GET /admin/audit flushes first: the edit is on disk when it answers.
    const { body } = await getJson(`${running.url}/admin/audit?type=admin.action&limit=1`);
    const [edit] = body.entries as LedgerEntry[];
    expect(edit.data).toMatchObject({ pool: 'edited' });
    const index = readLines(ledgerPath).findIndex((line) => /"type":"(?:pool\.changed|admin\.action)"/.test(line));
    expect(index).toBeGreaterThan(0);
    return index;
  }

  describe('the newest entries removed', () => {
    it('while the gateway runs: GET /admin/ledger/verify answers 409 at once, and still after a restart', async () => {
      freshLedger();
      const running = await start();
      const from = await poolEdit(running);
      expect((await getJson(`${running.url}/admin/ledger/verify`)).status).toBe(200);
      writeLines(ledgerPath, readLines(ledgerPath).slice(0, from));

      const broken = await getJson(`${running.url}/admin/ledger/verify`);
      expect(broken.status).toBe(409);
      const details = broken.body.details as { reason: string; seq: number };
      // The writer's own durable position is past the end of the file (or, had it appended meanwhile, a gap shows).
      if (details.reason === 'seq_gap') expect(details.seq).toBeGreaterThan(from + 1);
      else expect(details).toMatchObject({ reason: 'truncated', seq: from + 1 });

      // Restarted (a clean stop appends after the hole): the hole is still reported.
      await stop();
      const again = await start();
      const after = await getJson(`${again.url}/admin/ledger/verify`);
      expect(after.status).toBe(409);
      expect(after.body.details).toMatchObject({ reason: 'seq_gap', seq: expect.any(Number) as unknown });
    });

    it('after a clean stop: the gateway refuses to start, verify says truncated (library and CLI)', async () => {
      freshLedger();
      const from = await poolEdit(await start());
      await stop();
      const closedHead = await headOf(ledgerPath);
      expect(closedHead).toMatchObject({ closed: true, alg: 'hmac-sha256' });
      writeLines(ledgerPath, readLines(ledgerPath).slice(0, from));

      await expect(start()).rejects.toThrow(LedgerOpenError);
      await expect(start()).rejects.toThrow(
        new RegExp(
          `^refusing to open the audit ledger .*: it does not match its head \\(ORCH_LEDGER_HEAD_PATH\\): .* ends at seq ${from}, but its head .* witnesses seq ${closedHead.seq}`,
        ),
      );
      // Nothing was changed by the refused starts.
      expect(readLines(ledgerPath)).toHaveLength(from);
      expect(await signedVerify(ledgerPath)).toMatchObject({ ok: false, reason: 'truncated', seq: from + 1 });
      const cli = cliVerify(dir, ledgerPath);
      expect(cli.status).toBe(1);
      expect(cli.stdout).toContain(`ledger BROKEN at seq ${from + 1}: truncated`);
      // The head file removed as well: with the key that is reported, not passed.
      rmSync(`${ledgerPath}.head`);
      expect(await signedVerify(ledgerPath)).toMatchObject({ ok: false, reason: 'no_head' });
      expect(cliVerify(dir, ledgerPath).stdout).toMatch(/no_head\n.*no head file at .*ledger\.jsonl\.head/);
      // And the gateway does not take a ledger that has had a head as one that never had any.
      await expect(start()).rejects.toThrow(
        /the head file .* is missing, though this ledger has had one since seq \d+/,
      );
      expect(readLines(ledgerPath)).toHaveLength(from);
    });

    it('without a key: the head file removed together with the newest entries is refused at start', async () => {
      freshLedger();
      const from = await poolEdit(await start({ ORCH_LEDGER_SIGNING_KEY: '' }));
      await stop();
      writeLines(ledgerPath, readLines(ledgerPath).slice(0, from));
      rmSync(`${ledgerPath}.head`);
      await expect(start({ ORCH_LEDGER_SIGNING_KEY: '' })).rejects.toThrow(LedgerOpenError);
      expect(readLines(ledgerPath)).toHaveLength(from);
      // The operator's deliberate override starts it, and says so in the ledger.
      const accepted = await start({ ORCH_LEDGER_SIGNING_KEY: '', ORCH_LEDGER_ACCEPT_HEADLESS: '1' });
      expect((await getJson(`${accepted.url}/admin/audit?type=audit.started&limit=1`)).body.entries).toMatchObject([
        { data: { head: 'missing' } },
      ]);
    });

    it('with a key: a forged unsigned head over a cut ledger is refused at start', async () => {
      freshLedger();
      const from = await poolEdit(await start());
      await stop();
      const lines = readLines(ledgerPath).slice(0, from);
      writeLines(ledgerPath, lines);
      const last = JSON.parse(lines.at(-1) as string) as LedgerEntry;
      const forged = { ...(await headOf(ledgerPath)), seq: last.seq, hash: last.hash, alg: null, sig: null };
      writeFileSync(`${ledgerPath}.head`, `${JSON.stringify(forged)}\n`);
      await expect(start()).rejects.toThrow(/the head is not signed/);
      expect(readLines(ledgerPath)).toHaveLength(from);
    });
  });

  describe('the head file removed with the newest entries', () => {
    const EVERY_20 = { ORCH_LEDGER_CHECKPOINT_EVERY: '20' };
    const LOST_HEAD = /the head file .* is missing, though this ledger has had one since seq 1\b/;

    /** One clean run of the gateway with `count` distinct denials (none folded); the ledger's lines after it. */
    async function denials(env: Record<string, string>, count: number): Promise<string[]> {
      const running = await start(env);
      const events = running.app.get(SecurityEvents);
      for (let i = 0; i < count; i++) events.emit(denyEvent({ path: `/internal/${i}`, reason: 'test' }));
      await stop();
      return readLines(ledgerPath);
    }

    it('and a forged audit.started line appended: the newest line read without its hash decides nothing', async () => {
      freshLedger();
      const lines = await denials(EVERY_20, 60);
      rmSync(`${ledgerPath}.head`);
      // What the refusal used to trust: the newest line holding "type":"audit.started", read without its hash.
      const tampered = [...lines.slice(0, -20), '{"seq":1,"type":"audit.started","data":{"head":"x"}}'];
      writeLines(ledgerPath, tampered);

      await expect(start(EVERY_20)).rejects.toThrow(LOST_HEAD);
      expect(readLines(ledgerPath)).toEqual(tampered);
      // The documented override still starts it, and says so.
      const accepted = await start({ ...EVERY_20, ORCH_LEDGER_ACCEPT_HEADLESS: '1' });
      expect(accepted.logs).toContainEqual(
        expect.objectContaining({ event: 'ledger_head_lost_accepted', sinceSeq: 1 }),
      );
      expect((await getJson(`${accepted.url}/admin/audit?type=audit.started&limit=1`)).body.entries).toMatchObject([
        { data: { head: 'missing', recovered: true } },
      ]);
    });

    it('with rotation, the active file removed too (rotated files kept): refused, not resumed after the last rotated seq', async () => {
      freshLedger();
      const env = { ...EVERY_20, ORCH_LEDGER_ROTATE_BYTES: '30k' };
      await denials(env, 300);
      const rotated = () => readdirSync(dirname(ledgerPath)).filter((name) => /^ledger\.\d{6}\.jsonl$/.test(name));
      expect(rotated().length).toBeGreaterThan(1);
      rmSync(`${ledgerPath}.head`);
      rmSync(ledgerPath);

      await expect(start(env)).rejects.toThrow(LOST_HEAD);
      expect(existsSync(ledgerPath)).toBe(false);
      // Only rotated files, and a head: the writer's own check refuses it as cut short.
      expect(rotated().length).toBeGreaterThan(1);
    });

    it('a ledger written before heads existed still starts without the setting; one that does not verify does not', async () => {
      // As the gateway wrote it before heads: audit.started without "head", no head file.
      freshLedger();
      const legacy = await LedgerWriter.open({ path: ledgerPath, service: 'orchestrator', headPath: false });
      legacy.enqueue({ type: 'audit.started', data: { pid: 1, resumedAfterSeq: 0, recovered: false } });
      for (let i = 0; i < 5; i++) legacy.enqueue({ type: 'policy.deny', data: { path: `/internal/${i}` } });
      await legacy.close();
      const lines = readLines(ledgerPath);

      const running = await start();
      expect(running.logs).toContainEqual(expect.objectContaining({ event: 'ledger_head_missing' }));
      // With the key, opening first signs the unsigned entries (a checkpoint), then the start is recorded.
      expect((await getJson(`${running.url}/admin/audit?type=audit.started&limit=1`)).body.entries).toMatchObject([
        { seq: lines.length + 2, data: { head: 'missing', resumedAfterSeq: lines.length + 1 } },
      ]);
      await stop();
      expect(await signedVerify(ledgerPath)).toMatchObject({ ok: true, head: { closed: true, signed: true } });

      // The same, but one line edited: nothing verified says whether it has had a head, so it is refused.
      mkdirSync(dirname(freshLedger()));
      const edited = [...lines];
      edited[2] = edited[2].replace('/internal/1', '/internal/X');
      writeLines(ledgerPath, edited);
      await expect(start()).rejects.toThrow(
        /the head file .* is missing and the ledger does not verify .*hash_mismatch/,
      );
      expect(readLines(ledgerPath)).toEqual(edited);
    });

    it('a fresh, empty ledger directory starts, and restarts with its head', async () => {
      freshLedger();
      await denials({}, 3);
      const again = await start();
      expect((await getJson(`${again.url}/admin/audit?type=audit.started&limit=2`)).body.entries).toMatchObject([
        { data: { head: 'matched' } },
        { seq: 1, data: { head: 'missing', resumedAfterSeq: 0 } },
      ]);
    });
  });

  describe('signed checkpoints stripped and the chain re-hashed', () => {
    it('is reported with the key (missing_checkpoint without the head, the head does not match with it) and the gateway refuses to start', async () => {
      freshLedger();
      const running = await start({ ORCH_LEDGER_CHECKPOINT_EVERY: '5' });
      const events = running.app.get(SecurityEvents);
      for (let i = 0; i < 30; i++) events.emit(denyEvent({ path: `/internal/${i}`, reason: 'test' }));
      await stop();
      const lines = readLines(ledgerPath);
      expect(lines.filter((line) => line.includes(CHECKPOINT)).length).toBeGreaterThanOrEqual(6);
      expect(await signedVerify(ledgerPath, { checkpointEvery: 5 })).toMatchObject({ ok: true });

      writeLines(ledgerPath, rechain(lines.filter((line) => !line.includes(CHECKPOINT))));
      // The chain alone is intact again, and without the key nothing can tell.
      expect(await verifyLedger(ledgerPath, { headPath: false })).toMatchObject({ ok: true, checkpoints: 0 });
      expect(await signedVerify(ledgerPath, { checkpointEvery: 5, headPath: false })).toMatchObject({
        ok: false,
        reason: 'missing_checkpoint',
      });
      // The head alone shows it too (it names the closing checkpoint, gone, or an entry whose hash changed).
      const byHead = await signedVerify(ledgerPath, { checkpointEvery: 0 });
      expect(byHead.ok).toBe(false);
      expect(['truncated', 'head_mismatch']).toContain(byHead.ok ? 'ok' : byHead.reason);
      const cli = cliVerify(dir, ledgerPath, '--checkpoint-every', '5', '--no-head');
      expect(cli.status).toBe(1);
      expect(cli.stdout).toMatch(/: missing_checkpoint\n/);
      await expect(start({ ORCH_LEDGER_CHECKPOINT_EVERY: '5' })).rejects.toThrow(/does not match its head/);
    });
  });

  describe('lines a second JSON reader would read otherwise', () => {
    async function tamperOneLine(change: (line: string) => string): Promise<number> {
      freshLedger();
      const running = await start();
      await post(`${running.url}/route`, { service: 'api', tenant: 'acme', scope: 'read', path: '/internal/secrets' });
      await stop();
      const lines = readLines(ledgerPath);
      const index = lines.findIndex((line) => line.includes('"type":"policy.deny"'));
      const changed = change(lines[index]);
      expect(changed).not.toBe(lines[index]);
      lines[index] = changed;
      writeLines(ledgerPath, lines);
      return index + 1;
    }

    it('a duplicate "data" placed before the real one: non_canonical (JSON.parse keeps the last, the hash matches)', async () => {
      const seq = await tamperOneLine((line) => line.replace('"data":', '"data":{"path":"/harmless"},"data":'));
      expect(await signedVerify(ledgerPath)).toMatchObject({ ok: false, reason: 'non_canonical', seq });
      // The newest entry is untouched, so the gateway starts; its verify endpoint reports the line.
      const running = await start();
      const broken = await getJson(`${running.url}/admin/ledger/verify`);
      expect(broken).toMatchObject({ status: 409, body: { details: { reason: 'non_canonical', seq } } });
      const cli = cliVerify(dir, ledgerPath);
      expect(cli.status).toBe(1);
      expect(cli.stdout).toContain(`ledger BROKEN at seq ${seq}: non_canonical`);
    });

    it('a number beyond 2^53 in a line: refused as malformed (unsafe number)', async () => {
      const seq = await tamperOneLine((line) => line.replace('"data":{', '"data":{"id":9007199254740993,'));
      const result = await signedVerify(ledgerPath);
      expect(result).toMatchObject({ ok: false, reason: 'malformed', seq });
      expect(result.ok === false && result.message).toMatch(/unsafe number/);
    });
  });

  describe('bytes that are not UTF-8', () => {
    it('U+FFFD edited into a lone 0xFF byte: unparsable with the library, over HTTP and in the CLI', async () => {
      freshLedger();
      const running = await start();
      running.app.get(SecurityEvents).emit(denyEvent({ path: '/internal/\uFFFD', reason: 'test' }));
      await stop();
      const bytes = readFileSync(ledgerPath);
      const at = bytes.indexOf(Buffer.from('\uFFFD'));
      expect(at).toBeGreaterThan(0);
      // A lenient decoder reads 0xFF as U+FFFD again: the same text, the same hash.
      writeFileSync(ledgerPath, Buffer.concat([bytes.subarray(0, at), Buffer.from([0xff]), bytes.subarray(at + 3)]));
      const seq = bytes.subarray(0, at).toString('latin1').split('\n').length;

      const result = await signedVerify(ledgerPath);
      expect(result).toMatchObject({ ok: false, reason: 'unparsable', seq, line: seq });
      expect(result.ok === false && result.message).toMatch(/not valid UTF-8/);
      const cli = cliVerify(dir, ledgerPath);
      expect(cli.status).toBe(1);
      expect(cli.stdout).toContain(`ledger BROKEN at seq ${seq}: unparsable`);
      // The newest entry is untouched, so the gateway starts; its verify endpoint reports the line.
      const again = await start();
      const broken = await getJson(`${again.url}/admin/ledger/verify`);
      expect(broken).toMatchObject({ status: 409, body: { details: { reason: 'unparsable', seq } } });
    });
  });

  describe('event data the writer cannot write as is', () => {
    it('is recorded with those values replaced by text; the gateway stays up and the ledger verifies', async () => {
      freshLedger();
      const running = await start();
      const cyclic: Record<string, unknown> = { name: 'loop' };
      cyclic.self = cyclic;
      running.app
        .get(SecurityEvents)
        .emit(
          denyEvent(
            { big: 2 ** 60, exact: 12345678901234567890n, nan: Number.NaN, cyclic, path: '/internal/x' },
            'unsafe-data',
          ),
        );
      const { body } = await getJson(`${running.url}/admin/audit?type=policy.deny&limit=1`);
      expect((body.entries as LedgerEntry[])[0]).toMatchObject({
        corrId: 'unsafe-data',
        data: {
          big: '1152921504606846976',
          exact: '12345678901234567890',
          nan: 'NaN',
          cyclic: { name: 'loop', self: '[cycle]' },
          path: '/internal/x',
        },
      });
      expect(running.logs.some((line) => line.event === 'ledger_event_sanitised')).toBe(true);
      expect((await getJson(`${running.url}/readyz`)).status).toBe(200);
      expect((await getJson(`${running.url}/admin/ledger/verify`)).status).toBe(200);
    });
  });

  describe('honest ledgers verify', () => {
    it('a fresh ledger shorter than the checkpoint interval: over HTTP while running, with the CLI after a clean stop', async () => {
      freshLedger();
      const running = await start();
      const ok = await getJson(`${running.url}/admin/ledger/verify`);
      expect(ok).toMatchObject({
        status: 200,
        body: { ok: true, checkpoints: 0, signaturesChecked: true, head: { source: 'writer' } },
      });
      await stop();
      expect(await signedVerify(ledgerPath)).toMatchObject({
        ok: true,
        checkpoints: 1,
        head: { closed: true, signed: true },
      });
      const cli = cliVerify(dir, ledgerPath, '--checkpoint-every', '1000');
      expect(cli.status).toBe(0);
      expect(cli.stdout).toMatch(/^ledger OK: \d+ entries/);
      expect(cli.stdout).toMatch(/head: reaches seq \d+ of .* \(signature verified, written .*, closed\)/);
    });

    it('a rotated ledger with checkpoints every 7 entries, across a restart', async () => {
      freshLedger();
      const env = { ORCH_LEDGER_ROTATE_BYTES: '4k', ORCH_LEDGER_CHECKPOINT_EVERY: '7' };
      for (let round = 0; round < 2; round++) {
        const running = await start(env);
        const events = running.app.get(SecurityEvents);
        for (let i = 0; i < 40; i++) events.emit(denyEvent({ path: `/r${round}/${i}` }));
        expect((await getJson(`${running.url}/admin/ledger/verify`)).status).toBe(200);
        await stop();
      }
      const result = await signedVerify(ledgerPath, { checkpointEvery: 7 });
      expect(result).toMatchObject({ ok: true, head: { closed: true, signed: true } });
      expect(result.ok && result.files.length).toBeGreaterThan(2);
    });
  });
});

/** The real gateway process: kill -9, then start it again on the same ledger. */
describe('audit ledger tamper matrix: the gateway process killed and started again', () => {
  let work: string;
  let build: string;
  let child: ChildProcess | undefined;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'shieldx-ledger-tamper-proc-'));
    build = compileOrchestrator('e2e-ledger-tamper-');
  }, 120_000);

  afterEach(() => {
    child?.kill('SIGKILL');
    child = undefined;
  });

  afterAll(() => {
    rmSync(build, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  /** Starts the built gateway with the signing key and waits until it is ready. */
  async function launch(ledgerPath: string): Promise<LaunchedGateway> {
    const gateway = await launchLedgerGateway(build, ledgerPath, SIGNED);
    child = gateway.process;
    return gateway;
  }

  /** Runs the built gateway expecting it to refuse to start. */
  function refusedStart(ledgerPath: string): { status: number | null; stderr: string } {
    const run = spawnSync(process.execPath, [join(build, 'apps/orchestrator/src/main.js')], {
      env: ledgerGatewayEnv(ledgerPath, 0, SIGNED),
      encoding: 'utf8',
      timeout: 30_000,
    });
    return { status: run.status, stderr: run.stderr };
  }

  it('crash-recovered: kill -9 in a burst of writes, the next start resumes and everything verifies with the key', async () => {
    const ledgerPath = join(work, 'crashed', 'ledger.jsonl');
    const gateway = await launch(ledgerPath);
    await denyUntilKilled(gateway, 8, 300);
    expect(await gateway.exited).toBe('SIGKILL');
    // As the kill left it: the chain, the checkpoints so far and the head (never ahead of the disk) hold.
    expect(await signedVerify(ledgerPath)).toMatchObject({ ok: true, head: { signed: true } });

    const next = await startOrchestrator({ ...SIGNED, ORCH_LEDGER_PATH: ledgerPath });
    try {
      expect((await getJson(`${next.url}/admin/ledger/verify`)).status).toBe(200);
    } finally {
      await next.close();
    }
    const result = await signedVerify(ledgerPath);
    expect(result).toMatchObject({ ok: true, head: { closed: true }, tornTail: null });
    const entries = readLines(ledgerPath).map(entryOf);
    const started = entries.filter((e) => e.type === 'audit.started');
    expect(started.at(-1)?.data).toMatchObject({ head: 'matched' });
  }, 60_000);

  it('the newest entries removed after kill -9 (once the head covered them): the process exits 2 with one line', async () => {
    const ledgerPath = join(work, 'truncated', 'ledger.jsonl');
    const { origin, exited } = await launch(ledgerPath);
    expect(await putPool(origin, 'edited')).toBe(200);
    const { body } = await getJson(`${origin}/admin/audit?type=admin.action&limit=1`);
    const edit = (body.entries as LedgerEntry[])[0];
    // The head follows the disk within a second: wait until it covers the edit.
    await eventually(async () => (await headOf(ledgerPath)).seq >= edit.seq, { what: 'the head covers the edit' });
    child?.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const lines = readLines(ledgerPath);
    const from = lines.findIndex((line) => /"type":"(?:pool\.changed|admin\.action)"/.test(line));
    writeLines(ledgerPath, lines.slice(0, from));

    const run = refusedStart(ledgerPath);
    expect(run.status).toBe(2);
    expect(run.stderr.split('\n').filter((line) => line !== '')).toHaveLength(1);
    expect(run.stderr).toMatch(
      /^shieldx: refusing to open the audit ledger .*ledger\.jsonl: it does not match its head \(ORCH_LEDGER_HEAD_PATH\): .* removed or changed/,
    );
    expect(readLines(ledgerPath)).toHaveLength(from);
    expect(await signedVerify(ledgerPath)).toMatchObject({ ok: false, reason: 'truncated', seq: from + 1 });
  }, 60_000);
});
