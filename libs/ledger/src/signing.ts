import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  sign,
  timingSafeEqual,
  verify,
} from 'node:crypto';
import { canonicalJson } from './canonical-json';
import { LedgerError } from './errors';

/**
 * Key that signs checkpoints (`ORCH_LEDGER_SIGNING_KEY`, see {@link parseSigningKey}):
 * - `hmac`: HMAC-SHA-256 with a shared `secret` of at least 16 bytes (UTF-8 for a string);
 * - `ed25519`: an Ed25519 private key in PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
 */
export type SigningKey =
  | { readonly kind: 'hmac'; readonly secret: string | Uint8Array }
  | { readonly kind: 'ed25519'; readonly privateKeyPem: string };

/**
 * Key that checks checkpoint signatures: the same HMAC `secret`, or the Ed25519 public key in SPKI PEM
 * (`-----BEGIN PUBLIC KEY-----`; a private key PEM is accepted too and its public half is used).
 */
export type VerificationKey =
  | { readonly kind: 'hmac'; readonly secret: string | Uint8Array }
  | { readonly kind: 'ed25519'; readonly publicKeyPem: string };

/** Signature algorithm named in a checkpoint's `data.alg`. */
export type CheckpointAlg = 'hmac-sha256' | 'ed25519';

/**
 * `data` of a `ledger.checkpoint` entry: a signature over the chain up to `uptoSeq`, whose entry has hash `uptoHash`
 * (the checkpoint's own `prevHash`). `sig` is lowercase hex over {@link checkpointPayload}.
 */
export interface CheckpointData {
  uptoSeq: number;
  uptoHash: string;
  alg: CheckpointAlg;
  sig: string;
}

/** Minimum HMAC secret length in bytes. */
export const MIN_HMAC_SECRET_BYTES = 16;

/**
 * The bytes a checkpoint signs: canonical JSON of `{alg, service, uptoHash, uptoSeq}` (binding the signature to the
 * writing service as well as to the chain position).
 */
export function checkpointPayload(service: string, uptoSeq: number, uptoHash: string, alg: CheckpointAlg): Buffer {
  return Buffer.from(canonicalJson({ alg, service, uptoHash, uptoSeq }), 'utf8');
}

/** A signing key checked and prepared once. @internal */
export interface CheckpointSigner {
  readonly alg: CheckpointAlg;
  /** Hex signature of `payload`. */
  sign(payload: Buffer): string;
}

/** A verification key checked and prepared once. @internal */
export interface CheckpointVerifier {
  readonly alg: CheckpointAlg;
  /** Whether `sigHex` is a valid signature of `payload`. */
  verify(payload: Buffer, sigHex: string): boolean;
}

function hmacSecret(secret: string | Uint8Array, option: string): Buffer {
  const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
  if (bytes.length < MIN_HMAC_SECRET_BYTES) {
    throw new LedgerError(
      'invalid_options',
      `${option}: HMAC secret must be at least ${MIN_HMAC_SECRET_BYTES} bytes, got ${bytes.length}`,
    );
  }
  return bytes;
}

function ed25519Key(pem: string, visibility: 'private' | 'public', option: string): KeyObject {
  let key: KeyObject;
  try {
    key = visibility === 'private' ? createPrivateKey(pem) : createPublicKey(pem);
  } catch (error) {
    throw new LedgerError(
      'invalid_options',
      `${option}: not a valid ${visibility} key PEM (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new LedgerError(
      'invalid_options',
      `${option}: expected an Ed25519 key, got ${String(key.asymmetricKeyType)}`,
    );
  }
  return key;
}

/**
 * Checks `key` and returns a signer.
 * @throws LedgerError `invalid_options` naming the problem
 * @internal
 */
export function createSigner(key: SigningKey, option = 'signingKey'): CheckpointSigner {
  switch (key.kind) {
    case 'hmac': {
      const secret = hmacSecret(key.secret, option);
      return { alg: 'hmac-sha256', sign: (payload) => createHmac('sha256', secret).update(payload).digest('hex') };
    }
    case 'ed25519': {
      const privateKey = ed25519Key(key.privateKeyPem, 'private', option);
      return { alg: 'ed25519', sign: (payload) => sign(null, payload, privateKey).toString('hex') };
    }
    default: {
      const unknownKey: never = key;
      throw new LedgerError('invalid_options', `${option}: unknown kind ${JSON.stringify(unknownKey)}`);
    }
  }
}

const HEX = /^(?:[0-9a-f]{2})+$/;

/**
 * Checks `key` and returns a verifier.
 * @throws LedgerError `invalid_options` naming the problem
 * @internal
 */
export function createVerifier(key: VerificationKey, option = 'key'): CheckpointVerifier {
  switch (key.kind) {
    case 'hmac': {
      const secret = hmacSecret(key.secret, option);
      return {
        alg: 'hmac-sha256',
        verify: (payload, sigHex) => {
          if (!HEX.test(sigHex)) return false;
          const expected = createHmac('sha256', secret).update(payload).digest();
          const actual = Buffer.from(sigHex, 'hex');
          return actual.length === expected.length && timingSafeEqual(actual, expected);
        },
      };
    }
    case 'ed25519': {
      const publicKey = ed25519Key(key.publicKeyPem, 'public', option);
      return {
        alg: 'ed25519',
        verify: (payload, sigHex) => HEX.test(sigHex) && verify(null, payload, publicKey, Buffer.from(sigHex, 'hex')),
      };
    }
    default: {
      const unknownKey: never = key;
      throw new LedgerError('invalid_options', `${option}: unknown kind ${JSON.stringify(unknownKey)}`);
    }
  }
}

/**
 * Parses a key spec as an operator writes it (e.g. in `ORCH_LEDGER_SIGNING_KEY`): `hmac:<secret>` (the rest of the
 * string, UTF-8, at least 16 bytes) or `ed25519:<PKCS#8 PEM>`, or a bare PEM private key (Ed25519). The key is
 * checked, so a bad value fails here, at boot.
 * @param spec the raw value
 * @param option the name to use in error messages
 * @throws LedgerError `invalid_options` naming `option` (never echoing a secret)
 */
export function parseSigningKey(spec: string, option = 'ORCH_LEDGER_SIGNING_KEY'): SigningKey {
  const trimmed = spec.trim();
  let key: SigningKey;
  if (trimmed.startsWith('hmac:')) key = { kind: 'hmac', secret: trimmed.slice('hmac:'.length) };
  else if (trimmed.startsWith('ed25519:')) key = { kind: 'ed25519', privateKeyPem: trimmed.slice('ed25519:'.length) };
  else if (trimmed.startsWith('-----BEGIN')) key = { kind: 'ed25519', privateKeyPem: trimmed };
  else throw new LedgerError('invalid_options', `${option}: expected "hmac:<secret>" or "ed25519:<PEM private key>"`);
  createSigner(key, option);
  return key;
}

/**
 * Parses a verification key spec: `hmac:<secret>`, `ed25519:<PEM>` or a bare PEM (public, or private whose public
 * half is used).
 * @throws LedgerError `invalid_options` naming `option`
 */
export function parseVerificationKey(spec: string, option = 'key'): VerificationKey {
  const trimmed = spec.trim();
  let key: VerificationKey;
  if (trimmed.startsWith('hmac:')) key = { kind: 'hmac', secret: trimmed.slice('hmac:'.length) };
  else if (trimmed.startsWith('ed25519:')) key = { kind: 'ed25519', publicKeyPem: trimmed.slice('ed25519:'.length) };
  else if (trimmed.startsWith('-----BEGIN')) key = { kind: 'ed25519', publicKeyPem: trimmed };
  else throw new LedgerError('invalid_options', `${option}: expected "hmac:<secret>" or "ed25519:<PEM key>"`);
  createVerifier(key, option);
  return key;
}

/**
 * The verification key matching a signing key (the same secret for HMAC, the public half for Ed25519).
 * @throws LedgerError `invalid_options` when the signing key is invalid
 */
export function verificationKeyFor(key: SigningKey): VerificationKey {
  switch (key.kind) {
    case 'hmac':
      return { kind: 'hmac', secret: key.secret };
    case 'ed25519': {
      const publicKeyPem = createPublicKey(ed25519Key(key.privateKeyPem, 'private', 'signingKey'))
        .export({ type: 'spki', format: 'pem' })
        .toString();
      return { kind: 'ed25519', publicKeyPem };
    }
    default: {
      const unknownKey: never = key;
      throw new LedgerError('invalid_options', `signingKey: unknown kind ${JSON.stringify(unknownKey)}`);
    }
  }
}
