import { basename, dirname, extname, join } from 'node:path';

/**
 * Rotation naming. The active file is the configured path, e.g. `data/ledger.jsonl`; when it is rotated it is renamed
 * to `<stem>.<n><ext>` in the same directory, with `n` a decimal index zero-padded to at least 6 digits that grows by
 * one per rotation: `ledger.000001.jsonl` is the oldest file, then `ledger.000002.jsonl`, …, and the active
 * `ledger.jsonl` is always the newest. Order is by the numeric value of `n` (so `ledger.1000000.jsonl` follows
 * `ledger.999999.jsonl`). A path without an extension rotates to `<name>.<n>`. An active path whose name already
 * looks like a rotated name (`x.000001.jsonl`) is refused, so a directory listing is never ambiguous.
 */
export interface LedgerFileSet {
  /** The active (newest) file path; it may not exist (e.g. a crash right after a rotation renamed it). */
  readonly active: string;
  /** Whether the active file exists. */
  readonly activeExists: boolean;
  /** Rotated files, oldest first. */
  readonly rotated: readonly RotatedFile[];
}

/** One rotated file of a {@link LedgerFileSet}. */
export interface RotatedFile {
  /** Rotation index `n` (1 for the first rotation). */
  readonly index: number;
  /** Full path. */
  readonly path: string;
}

/** Minimum digits of the rotation index in a rotated file name. */
export const ROTATION_INDEX_DIGITS = 6;

/** Splits `name` into stem and extension (`ledger.jsonl` → `ledger`, `.jsonl`). */
function splitName(name: string): { stem: string; ext: string } {
  const ext = extname(name);
  return { stem: name.slice(0, name.length - ext.length), ext };
}

/**
 * Path of rotated file number `index` of the ledger whose active file is `activePath`.
 * @param activePath the active file
 * @param index rotation index, integer >= 1
 */
export function rotatedPath(activePath: string, index: number): string {
  const { stem, ext } = splitName(basename(activePath));
  return join(dirname(activePath), `${stem}.${String(index).padStart(ROTATION_INDEX_DIGITS, '0')}${ext}`);
}

const ROTATED_NAME = /^(.+)\.(\d{6,})(\.[^.]*)?$/;

/**
 * Parses a file name as a rotated name: `ledger.000003.jsonl` → stem `ledger`, index 3, ext `.jsonl`.
 * @returns `null` when `name` is not a rotated name
 */
export function parseRotatedName(name: string): { stem: string; index: number; ext: string } | null {
  const match = ROTATED_NAME.exec(name);
  if (match === null) return null;
  return { stem: match[1], index: Number(match[2]), ext: match[3] ?? '' };
}

/** Whether the active-file name `name` would be mistaken for a rotated name. */
export function looksRotated(name: string): boolean {
  return parseRotatedName(name) !== null;
}

/**
 * The files of the ledger whose active file is `activePath`, found in its directory.
 * @param activePath the active file path
 * @param names the entries of the directory of `activePath`
 */
export function fileSetFromNames(activePath: string, names: readonly string[]): LedgerFileSet {
  const dir = dirname(activePath);
  const activeName = basename(activePath);
  const { stem, ext } = splitName(activeName);
  const rotated: RotatedFile[] = [];
  let activeExists = false;
  for (const name of names) {
    if (name === activeName) {
      activeExists = true;
      continue;
    }
    const parsed = parseRotatedName(name);
    if (parsed !== null && parsed.stem === stem && parsed.ext === ext) {
      rotated.push({ index: parsed.index, path: join(dir, name) });
    }
  }
  rotated.sort((a, b) => a.index - b.index);
  return { active: activePath, activeExists, rotated };
}

/**
 * Active-file paths of the ledgers in directory `dir`, given its entry names: every `*.jsonl` name, with rotated
 * names mapped to their active name (which may not exist). Sorted, without duplicates.
 */
export function activePathsInDir(dir: string, names: readonly string[]): string[] {
  const actives = new Set<string>();
  for (const name of names) {
    if (!name.endsWith('.jsonl')) continue;
    const parsed = parseRotatedName(name);
    actives.add(join(dir, parsed === null ? name : `${parsed.stem}${parsed.ext}`));
  }
  return [...actives].sort();
}
