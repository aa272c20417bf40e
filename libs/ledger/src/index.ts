export { canonicalJson } from './canonical-json';
export { type Clock, systemClock } from './clock';
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
  LedgerWriteError,
} from './errors';
export { type LedgerFileHandle, type LedgerFileSystem, nodeFileSystem } from './file-system';
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
  formatVerifyResult,
  type VerifyFailure,
  type VerifyFailureReason,
  type VerifyOk,
  type VerifyOptions,
  type VerifyResult,
  verifyLedger,
} from './verify';
export {
  type AppendInput,
  type LedgerRecovery,
  LedgerWriter,
  type LedgerWriterOptions,
  type LedgerWriterStats,
  type LedgerTimers,
  systemTimers,
} from './writer';
