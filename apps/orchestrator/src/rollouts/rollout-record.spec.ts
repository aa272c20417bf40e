import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Rollout } from './rollout';
import { parseRecord, rolloutStatePath, type RolloutRecord } from './rollout-record';
import { RolloutStateFile } from './rollout-store';

const SPEC = {
  steps: [10, 100],
  intervalMs: 1000,
  maxErrorRate: 0.05,
  maxP99Ratio: 1.5,
  minRequests: 20,
  sticky: false,
};

function record(): RolloutRecord {
  const rollout = new Rollout({ ...SPEC, preview: true, previewMethods: ['GET'] }, 0);
  return {
    pool: 'web',
    run: 'run-1',
    stableUrls: ['http://127.0.0.1:1'],
    canaryUrls: ['http://127.0.0.1:2'],
    snapshot: rollout.snapshot(),
  };
}

/** A record's JSON, loosely typed so a test can spoil any field. */
interface Loose {
  pool: unknown;
  stableUrls: unknown;
  snapshot: { state: unknown; phase: unknown; index: unknown; spec: { steps: unknown }; history: unknown };
}

describe(parseRecord.name, () => {
  it('reads back what it is given through JSON', () => {
    const original = record();
    expect(parseRecord(JSON.parse(JSON.stringify(original)))).toEqual(JSON.parse(JSON.stringify(original)));
  });

  it('refuses malformed records field by field', () => {
    const good = JSON.parse(JSON.stringify(record())) as Loose;
    const bad: [string, (r: Loose) => void][] = [
      ['pool', (r) => (r.pool = '')],
      ['state', (r) => (r.snapshot.state = 'exploded')],
      ['phase', (r) => (r.snapshot.phase = 'later')],
      ['index', (r) => (r.snapshot.index = 7)],
      ['steps', (r) => (r.snapshot.spec.steps = [0])],
      ['history', (r) => (r.snapshot.history = [{ kind: 'teleported' }])],
      ['urls', (r) => (r.stableUrls = [42])],
    ];
    for (const [field, spoil] of bad) {
      const copy = structuredClone(good);
      spoil(copy);
      expect(() => parseRecord(copy), field).toThrow();
    }
    expect(() => parseRecord(good, 'other')).toThrow(/stored as 'other'/);
    expect(() => parseRecord(null)).toThrow();
  });

  it('names the state file after the ledger, a worker its own', () => {
    expect(rolloutStatePath('data/ledger-orchestrator.jsonl')).toBe(join('data', 'ledger-orchestrator.rollouts.json'));
    expect(rolloutStatePath('data/ledger.w2.jsonl')).toBe(join('data', 'ledger.w2.rollouts.json'));
    expect(rolloutStatePath('audit')).toBe('audit.rollouts.json');
  });
});

describe(RolloutStateFile.name, () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('saves atomically (no temporary file left) and loads what it saved; no file is no rollout', () => {
    const dir = mkdtempSync(join(tmpdir(), 'shieldx-rollout-state-'));
    dirs.push(dir);
    const file = new RolloutStateFile(join(dir, 'sub', 'ledger.rollouts.json'));
    expect(file.load()).toEqual([]);
    file.save([record()]);
    expect(readdirSync(join(dir, 'sub'))).toEqual(['ledger.rollouts.json']);
    expect(file.load()).toEqual([JSON.parse(JSON.stringify(record()))]);
  });

  it('refuses a file that is not its own', () => {
    const dir = mkdtempSync(join(tmpdir(), 'shieldx-rollout-state-'));
    dirs.push(dir);
    const path = join(dir, 'x.json');
    writeFileSync(path, '{"rollouts": []}');
    expect(() => new RolloutStateFile(path).load()).toThrow(/not a rollouts state file/);
    writeFileSync(path, '{half');
    expect(() => new RolloutStateFile(path).load()).toThrow();
  });
});
