import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import {
  fileSetFromNames,
  nodeFileSystem,
  type LedgerEntry,
  LedgerHeadError,
  type VerificationKey,
  type VerifyFailure,
  verifyLedger,
  type VerifyResult,
} from '@shieldx/ledger';
import { STARTED_TYPE } from './ledger-types';

/** What {@link refuseLostHead} needs of the ledger settings. */
export interface LostHeadSettings {
  /** ORCH_LEDGER_HEAD_PATH. */
  readonly headPath: string;
  /** ORCH_LEDGER_ACCEPT_HEADLESS. */
  readonly acceptHeadless: boolean;
  /** ORCH_LEDGER_CHECKPOINT_EVERY: the ledger is verified with it, as `shieldx ledger verify` would. */
  readonly checkpointEvery: number;
  /** The verification key of ORCH_LEDGER_SIGNING_KEY, if any: checkpoint signatures are checked with it. */
  readonly key: VerificationKey | undefined;
}

/**
 * A missing head file is accepted only for a ledger written before heads existed: once a start has recorded its head
 * (`audit.started` with `head`), losing the file is what removing it together with the newest entries looks like.
 * Throws {@link LedgerHeadError} then, unless the operator accepts the ledger as it is (ORCH_LEDGER_ACCEPT_HEADLESS),
 * which is logged through `warn`.
 *
 * Whether the ledger has had a head is read from verified entries only: the whole ledger (rotated files included,
 * older ones possibly pruned) is verified with the key and interval, as `shieldx ledger verify --no-head
 * --allow-pruned-start` does, and an `audit.started` entry counts once its line, hash, link and checkpoint are found
 * good. A line anyone can append (the newest one, read without its hash) must not decide it; and a ledger that does
 * not verify, or whose oldest files were archived (with the starts they recorded), cannot show that it never had a
 * head, so it is refused as well. A missing active file is not a fresh ledger when rotated files are left: it is what
 * removing the newest file looks like. Only a ledger without any entry (no file, or an empty active file alone)
 * starts afresh. The cost (one pass over the ledger) is paid only at a start without a head file.
 */
export async function refuseLostHead(
  path: string,
  settings: LostHeadSettings,
  warn: (line: Record<string, unknown>) => void,
): Promise<void> {
  const headPath = resolve(settings.headPath);
  if (existsSync(headPath)) return;
  const files = fileSetFromNames(path, await listDir(dirname(path)));
  // An empty active file alone (or /dev/full, whose size reads 0) is a fresh ledger.
  if (files.rotated.length === 0 && (!files.activeExists || ((await nodeFileSystem.sizeOf(path)) ?? 0) === 0)) return;
  const { result, sinceSeq } = await verifiedHistory(path, settings);
  // Written before heads existed, whole and intact: the start records "head": "missing".
  if (result.ok && result.startsAt === null && sinceSeq === null) return;
  const broken = result.ok ? null : result;
  // Its oldest files archived: the starts they recorded are not there to say whether it has had a head.
  const prunedAt = result.ok ? (result.startsAt?.seq ?? null) : null;
  if (settings.acceptHeadless) {
    warn({
      event: 'ledger_head_lost_accepted',
      path,
      headPath,
      sinceSeq,
      ...(prunedAt === null ? {} : { prunedBeforeSeq: prunedAt }),
      ...(broken === null ? {} : { verify: { reason: broken.reason, seq: broken.seq, message: broken.message } }),
    });
    return;
  }
  const why =
    sinceSeq !== null
      ? `, though this ledger has had one since seq ${sinceSeq}: its newest entries may have been removed with it` +
        (broken === null ? '' : ` (and the ledger does not verify: ${describe(broken)})`)
      : broken !== null
        ? ` and the ledger does not verify (${describe(broken)}), so nothing shows it never had one`
        : ` and the ledger starts at seq ${prunedAt} (older files archived), so nothing shows it never had one`;
  throw new LedgerHeadError(
    headPath,
    `the head file ${headPath} is missing${why}. Run "shieldx ledger verify ${path} --head ${headPath}"; restore the head file, move the ledger ` +
      'aside to start a new one, or start once with ORCH_LEDGER_ACCEPT_HEADLESS=1 to accept it as it is',
  );
}

/**
 * Verifies the ledger as `shieldx ledger verify --no-head --allow-pruned-start` does (as a ledger, whatever its first
 * line looks like), and finds the first verified start that recorded a head.
 */
async function verifiedHistory(
  path: string,
  settings: LostHeadSettings,
): Promise<{ result: VerifyResult; sinceSeq: number | null }> {
  let sinceSeq: number | null = null;
  const result = await verifyLedger(path, {
    ...(settings.key === undefined ? {} : { key: settings.key }),
    checkpointEvery: settings.checkpointEvery,
    headPath: false,
    allowPrunedStart: true,
    asLedger: true,
    onVerifiedEntry: (entry) => {
      if (sinceSeq === null && recordsHead(entry)) sinceSeq = entry.seq;
    },
  });
  return { result, sinceSeq };
}

/**
 * Whether an `audit.started` entry was written by a start that also wrote a head (every start since heads exist:
 * `matched`, or `missing` when it began again without one).
 */
function recordsHead(entry: LedgerEntry): boolean {
  if (entry.type !== STARTED_TYPE) return false;
  const head = (entry.data as { head?: unknown } | null)?.head;
  return head === 'matched' || head === 'missing';
}

/** The names in `dir`; none when it does not exist (yet). */
async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** A verify failure in one clause: the reason, where, and why. */
function describe(failure: VerifyFailure): string {
  const seq = failure.seq === null ? '' : ` at seq ${failure.seq}`;
  const where =
    failure.file === null ? '' : ` (${basename(failure.file)}${failure.line === null ? '' : ` line ${failure.line}`})`;
  return `${failure.reason}${seq}${where}: ${failure.message}`;
}
