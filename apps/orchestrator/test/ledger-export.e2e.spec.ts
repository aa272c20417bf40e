import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './eventually';
import { post, startOrchestrator, type RunningOrchestrator } from './harness';

const ROOT = join(__dirname, '../../..');
const SECRET = 'ledger-export-e2e-secret';
const EVERY = 5;

interface Entry {
  seq: number;
  ts: string;
  type: string;
  data: Record<string, unknown>;
}

function cli(...args: string[]) {
  return spawnSync(process.execPath, [join(ROOT, 'packages/cli/shieldx.mjs'), ...args], {
    encoding: 'utf8',
    timeout: 180_000,
  });
}

describe('GET /admin/ledger/export, verified offline by shieldx ledger verify', () => {
  let orch: RunningOrchestrator;
  let dir: string;
  let secretFile: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'shieldx-e2e-ledger-export-'));
    secretFile = join(dir, 'ledger.secret');
    writeFileSync(secretFile, `${SECRET}\n`);
    orch = await startOrchestrator({
      ORCH_POOL_API: 'http://127.0.0.1:9',
      ORCH_LEDGER_PATH: join(dir, 'ledger.jsonl'),
      ORCH_LEDGER_SIGNING_KEY: `hmac:${SECRET}`,
      ORCH_LEDGER_CHECKPOINT_EVERY: String(EVERY),
    });
    for (let i = 0; i < 12; i++) {
      const denied = { service: 'api', tenant: 'acme', scope: 'read', path: `/internal/export-${i}` };
      expect((await post(`${orch.url}/route`, denied)).status).toBe(403);
    }
    await eventually(async () => {
      const body = (await (await fetch(`${orch.url}/admin/audit?limit=1`)).json()) as { lastSeq: number };
      return body.lastSeq >= 14 ? true : undefined;
    });
  });

  afterAll(async () => {
    await orch?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function download(query: string): Promise<{ response: Response; file: string; lines: string[] }> {
    const response = await fetch(`${orch.url}/admin/ledger/export?${query}`);
    const text = await response.text();
    const file = join(dir, `export-${encodeURIComponent(query)}.jsonl`);
    writeFileSync(file, text);
    return { response, file, lines: text.split('\n').filter((line) => line !== '') };
  }

  it('streams a seq range extended to the next signed checkpoint; the CLI verifies it with the key alone', async () => {
    const { response, file, lines } = await download('fromSeq=2&toSeq=4');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    expect(response.headers.get('content-disposition')).toBe('attachment; filename="ledger-export-2-6.jsonl"');
    const header = JSON.parse(lines[0]) as { fromSeq: number; toSeq: number; range: unknown };
    expect(header).toMatchObject({ fromSeq: 2, toSeq: 6, range: { by: 'seq', fromSeq: 2, toSeq: 4 } });
    expect((JSON.parse(lines.at(-1)!) as Entry).type).toBe('ledger.checkpoint');
    const run = cli('ledger', 'verify', file, '--hmac-secret-file', secretFile, '--checkpoint-every', String(EVERY));
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^ledger export OK: 5 entries, seq 2\.\.6 \(asked for seq 2\.\.4\)/);
    expect(run.stdout).toContain('every entry is covered by a signature');

    // One byte changed in an entry: the CLI names the seq.
    const edited = file.replace(/\.jsonl$/, '-edited.jsonl');
    writeFileSync(edited, readFileSync(file, 'utf8').replace('/internal/export-1', '/internal/export-X'));
    const broken = cli('ledger', 'verify', edited);
    expect(broken.status).toBe(1);
    expect(broken.stdout).toMatch(/^ledger BROKEN at seq \d+: hash_mismatch/);
  });

  it('exports by time; without a key the chain alone is checked, and said', async () => {
    const page = (await (await fetch(`${orch.url}/admin/audit?order=asc&after=0&limit=3`)).json()) as {
      entries: Entry[];
    };
    const since = page.entries[1].ts;
    const { response, file, lines } = await download(`since=${since}&until=2999-01-01T00:00:00Z`);
    expect(response.status).toBe(200);
    expect((JSON.parse(lines[0]) as { fromSeq: number }).fromSeq).toBe(2);
    const run = cli('ledger', 'verify', file);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('no signatures checked (no key given)');
  });

  it('answers 400 invalid_query for a bad query and 404 no_entries for an empty range', async () => {
    for (const query of [
      '',
      'fromSeq=1',
      'fromSeq=0&toSeq=3',
      'fromSeq=5&toSeq=3',
      'fromSeq=1&toSeq=2&since=2026-01-01T00:00:00Z',
      'fromSeq=1&toSeq=2000000',
      'since=yesterday&until=2999-01-01T00:00:00Z',
      'since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z',
      'fromSeq=1&toSeq=2&format=csv',
      'fromSeq=1&fromSeq=2&toSeq=3',
    ]) {
      const response = await fetch(`${orch.url}/admin/ledger/export?${query}`);
      expect(response.status, query).toBe(400);
      expect(((await response.json()) as { error: string }).error, query).toBe('invalid_query');
    }
    const empty = await fetch(`${orch.url}/admin/ledger/export?fromSeq=900000&toSeq=900001`);
    expect(empty.status).toBe(404);
    expect(((await empty.json()) as { error: string }).error).toBe('no_entries');
  });

  it('audits each export as admin.action ledger.export', async () => {
    const entries = await eventually(async () => {
      const body = (await (await fetch(`${orch.url}/admin/audit?type=admin.action&limit=10`)).json()) as {
        entries: Entry[];
      };
      const found = body.entries.filter((entry) => entry.data.action === 'ledger.export');
      return found.length >= 2 ? found : undefined;
    });
    expect(entries.at(-1)!.data).toMatchObject({ range: { by: 'seq', fromSeq: 2, toSeq: 4 }, fromSeq: 2, toSeq: 6 });
  });
});
