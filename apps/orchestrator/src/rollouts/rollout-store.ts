import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseRecord, type RolloutRecord } from './rollout-record';

/** Format version of the state file. */
const FORMAT = 1;

/**
 * The rollouts of one process without Redis, in a small JSON file beside its ledger. Every change rewrites the file
 * whole and atomically (a temporary file, synced, then renamed over the old one), synchronously, so a transition is on disk
 * before the next request sees it and a crash leaves the old or the new file, never half of one.
 */
export class RolloutStateFile {
  constructor(readonly path: string) {}

  /**
   * The records of the file; none when there is no file. @throws Error when the file cannot be read or parsed (the
   * caller starts without rollouts: no split, hence no canary traffic).
   */
  load(): RolloutRecord[] {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const parsed = JSON.parse(text) as { format?: unknown; rollouts?: unknown };
    if (parsed?.format !== FORMAT || !Array.isArray(parsed.rollouts)) throw new Error('not a rollouts state file');
    return parsed.rollouts.map((record) => parseRecord(record));
  }

  /** Writes `records` atomically. @throws Error when the directory or file cannot be written */
  save(records: readonly RolloutRecord[]): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const temporary = `${this.path}.${process.pid}.tmp`;
    const fd = openSync(temporary, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify({ format: FORMAT, rollouts: records }));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, this.path);
  }
}
