export { canonicalJson } from './canonical-json';
export { type WallClock, wallClock } from './clock';
export {
  GENESIS_HASH,
  hashEntry,
  LEDGER_CHECKPOINT_TYPE,
  LEDGER_RECOVERED_TYPE,
  type LedgerEntry,
  type UnhashedLedgerEntry,
} from './entry';
export {
  CanonicalJsonError,
  LedgerClosedError,
  LedgerCorruptError,
  LedgerError,
  type LedgerErrorCode,
  LedgerHeadError,
  LedgerWriteError,
} from './errors';
export {
  LEDGER_EXPORT_VERSION,
  type LedgerExportHeader,
  type LedgerExportRange,
  MAX_EXPORT_ENTRIES,
} from './export-header';
export {
  LedgerExportError,
  ledgerExportLines,
  type LedgerExportOptions,
  type LedgerExportPlan,
  planLedgerExport,
} from './export';
export { type LedgerFileHandle, type LedgerFileSystem, nodeFileSystem } from './file-system';
export {
  defaultHeadPath,
  type HeadFile,
  LEDGER_HEAD_KIND,
  type LedgerHead,
  MAX_HEAD_FILE_BYTES,
  readLedgerHead,
} from './head';
export { MAX_LEDGER_VALUE_DEPTH, toLedgerValue } from './ledger-value';
export { AUDIT_SCAN_BUDGET, type AuditPage, type AuditQuery, readAuditPage } from './reader';
export { makeDirectory } from './make-directory';
export { fileSetFromNames, type LedgerFileSet, rotatedPath, type RotatedFile } from './naming';
export {
  type CheckpointAlg,
  type CheckpointData,
  parseSigningKey,
  parseVerificationKey,
  type SigningKey,
  type VerificationKey,
  verificationKeyFor,
} from './signing';
export {
  DEFAULT_CHECKPOINT_EVERY,
  formatVerifyResult,
  type VerifiedExport,
  type VerifiedHead,
  type VerifyFailure,
  type VerifyFailureReason,
  type VerifyOk,
  type VerifyOptions,
  type VerifyResult,
  verifyLedger,
} from './verify';
export { LedgerWriter } from './writer';
export {
  type AppendInput,
  type LedgerHeadCheck,
  type LedgerRecovery,
  type LedgerTimers,
  type LedgerWriterOptions,
  type LedgerWriterStats,
  systemTimers,
} from './writer-options';
