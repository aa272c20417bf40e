import { canonicalJson } from './canonical-json';
import { decodeLine, NOT_UTF8_MESSAGE } from './entry';
import { type LedgerFileSystem, nodeFileSystem } from './file-system';
import type { CheckpointAlg, CheckpointSigner, CheckpointVerifier } from './signing';

/** `kind` of every head file, so a head cannot pass for anything else that is signed (a checkpoint signs other members). */
export const LEDGER_HEAD_KIND = 'ledger.head';

/** Largest head file read; a head is about 300 bytes. */
export const MAX_HEAD_FILE_BYTES = 4096;

/**
 * The head of a ledger's chain, witnessed outside the ledger file (by default `<active file>.head`): the newest entry
 * the writer knew to be durable when it wrote the head, so removing the newest entries from the ledger shows.
 * - `seq`/`hash`: that entry (0 and the genesis hash for an empty ledger);
 * - `ts`: when the head was written (ISO-8601);
 * - `closed`: written by a clean close (nothing may follow `seq` until the writer opens the ledger again);
 * - `alg`/`sig`: with a signing key, the signature (hex) over {@link headPayload}; both `null` without a key.
 */
export interface LedgerHead {
  readonly kind: typeof LEDGER_HEAD_KIND;
  readonly service: string;
  readonly seq: number;
  readonly hash: string;
  readonly ts: string;
  readonly closed: boolean;
  readonly alg: CheckpointAlg | null;
  readonly sig: string | null;
}

/** What {@link readLedgerHead} found. */
export type HeadFile =
  | { readonly kind: 'ok'; readonly head: LedgerHead }
  | { readonly kind: 'missing' }
  | { readonly kind: 'invalid'; readonly message: string };

const HEX64 = /^[0-9a-f]{64}$/;
const HEX = /^(?:[0-9a-f]{2})+$/;
const HEAD_KEYS = ['alg', 'closed', 'hash', 'kind', 'seq', 'service', 'sig', 'ts'];

/** The head file of a ledger whose active file is `activePath`, when none is configured. */
export function defaultHeadPath(activePath: string): string {
  return `${activePath}.head`;
}

/** The bytes a head's signature covers: canonical JSON of every member but `sig`. @internal */
export function headPayload(head: Omit<LedgerHead, 'sig'>): Buffer {
  const { alg, closed, hash, kind, seq, service, ts } = head;
  return Buffer.from(canonicalJson({ alg, closed, hash, kind, seq, service, ts }), 'utf8');
}

/** A head for the given position, signed when `signer` is given. @internal */
export function makeHead(
  position: { service: string; seq: number; hash: string; ts: string; closed: boolean },
  signer: CheckpointSigner | null,
): LedgerHead {
  const unsigned = { kind: LEDGER_HEAD_KIND, ...position, alg: signer?.alg ?? null } as const;
  return { ...unsigned, sig: signer === null ? null : signer.sign(headPayload(unsigned)) };
}

/** The head file's text: canonical JSON and a newline. @internal */
export function encodeHead(head: LedgerHead): string {
  return `${canonicalJson(head)}\n`;
}

/**
 * Parses a head file's text strictly: exactly the members of {@link LedgerHead}, in canonical form.
 * @internal
 */
export function parseHead(text: string): { ok: true; head: LedgerHead } | { ok: false; message: string } {
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (error) {
    return { ok: false, message: `not JSON (${error instanceof Error ? error.message : String(error)})` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { ok: false, message: 'not an object' };
  const head = value as Record<string, unknown>;
  const keys = Object.keys(head).sort();
  if (keys.join() !== HEAD_KEYS.join()) return { ok: false, message: `members must be ${HEAD_KEYS.join(', ')}` };
  if (head.kind !== LEDGER_HEAD_KIND) return { ok: false, message: `kind must be "${LEDGER_HEAD_KIND}"` };
  if (typeof head.service !== 'string') return { ok: false, message: 'service must be a string' };
  if (!Number.isSafeInteger(head.seq) || (head.seq as number) < 0) return { ok: false, message: 'seq must be >= 0' };
  if (typeof head.hash !== 'string' || !HEX64.test(head.hash)) return { ok: false, message: 'hash must be 64 hex' };
  if (typeof head.ts !== 'string' || Number.isNaN(Date.parse(head.ts)))
    return { ok: false, message: 'ts must be a time' };
  if (typeof head.closed !== 'boolean') return { ok: false, message: 'closed must be a boolean' };
  const signed = head.alg !== null || head.sig !== null;
  if (
    signed &&
    !((head.alg === 'hmac-sha256' || head.alg === 'ed25519') && typeof head.sig === 'string' && HEX.test(head.sig))
  ) {
    return { ok: false, message: 'alg and sig must both be null, or a known algorithm and a hex signature' };
  }
  if (canonicalJson(head) !== body) return { ok: false, message: 'not in canonical form' };
  return { ok: true, head: head as unknown as LedgerHead };
}

/**
 * Why a head does not verify with `verifier`, or `null` when it does.
 * @internal
 */
export function headSignatureProblem(head: LedgerHead, verifier: CheckpointVerifier): string | null {
  if (head.alg === null || head.sig === null) return 'the head is not signed';
  if (head.alg !== verifier.alg) return `the head is signed with ${head.alg}, the key is ${verifier.alg}`;
  return verifier.verify(headPayload(head), head.sig) ? null : 'the head signature does not verify with the key';
}

/**
 * Reads a head file (see {@link LedgerHead}).
 * @param path the head file, e.g. `data/ledger-orchestrator.jsonl.head`
 * @param fileSystem file-system seam, default the real one
 * @returns the head, `missing` when there is no file, `invalid` (with why) when it is not a head
 * @throws on an I/O error other than a missing file
 */
export async function readLedgerHead(path: string, fileSystem: LedgerFileSystem = nodeFileSystem): Promise<HeadFile> {
  const bytes = await fileSystem.readStart(path, MAX_HEAD_FILE_BYTES + 1);
  if (bytes === null) return { kind: 'missing' };
  if (bytes.length > MAX_HEAD_FILE_BYTES)
    return { kind: 'invalid', message: `longer than ${MAX_HEAD_FILE_BYTES} bytes` };
  // The bytes are judged, not a lenient decoding of them (which would read a byte edited into 0xFF as U+FFFD).
  const text = decodeLine(bytes);
  if (text === null) return { kind: 'invalid', message: NOT_UTF8_MESSAGE };
  const parsed = parseHead(text);
  return parsed.ok ? { kind: 'ok', head: parsed.head } : { kind: 'invalid', message: parsed.message };
}
