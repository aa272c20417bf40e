import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { LedgerHeadError, readAuditPage } from '@shieldx/ledger';
import { STARTED_TYPE } from './ledger-types';

/**
 * A missing head file is accepted only for a ledger written before heads existed: once a start has recorded its head
 * (`audit.started` with `head`), losing the file is what removing it together with the newest entries looks like.
 * Throws {@link LedgerHeadError} then, unless the operator accepts the ledger as it is (ORCH_LEDGER_ACCEPT_HEADLESS),
 * which is logged through `warn`.
 */
export async function refuseLostHead(
  path: string,
  settings: { readonly headPath: string; readonly acceptHeadless: boolean },
  warn: (line: Record<string, unknown>) => void,
): Promise<void> {
  const headPath = resolve(settings.headPath);
  if (existsSync(headPath) || !existsSync(path)) return;
  const lastStart = await readAuditPage(
    path,
    { type: STARTED_TYPE, order: 'desc', limit: 1 },
    Number.POSITIVE_INFINITY,
  ).catch(() => undefined);
  const entry = lastStart?.entries[0];
  const head = (entry?.data as { head?: unknown } | undefined)?.head;
  if (entry === undefined || (head !== 'matched' && head !== 'missing')) return;
  if (settings.acceptHeadless) {
    warn({ event: 'ledger_head_lost_accepted', path, headPath, sinceSeq: entry.seq });
    return;
  }
  throw new LedgerHeadError(
    headPath,
    `the head file ${headPath} is missing, though this ledger has had one since seq ${entry.seq}: its newest ` +
      'entries may have been removed with it. Restore the head file, move the ledger aside to start a new one, or ' +
      'start once with ORCH_LEDGER_ACCEPT_HEADLESS=1 to accept it as it is',
  );
}
