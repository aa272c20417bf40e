import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import type { SecureContextOptions } from 'node:tls';
import { CertificateSetError, inspectCertificateSet, type CertificateSetInfo } from '@shieldx/security';

/** The three files of a serving set (ORCH_TLS_CERT_FILE, ORCH_TLS_KEY_FILE, ORCH_TLS_CLIENT_CA_FILE). */
export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly clientCaFile: string;
}

/** The TLS files of a configuration, when all three are set (config validation refuses one or two). */
export function tlsFilesOf(tls: {
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly clientCaFile?: string;
}): TlsFiles | undefined {
  const { certFile, keyFile, clientCaFile } = tls;
  return certFile !== undefined && keyFile !== undefined && clientCaFile !== undefined
    ? { certFile, keyFile, clientCaFile }
    : undefined;
}

/** A validated serving set: the bytes as read, what they say, and a digest that identifies this exact set. */
export interface TlsMaterial {
  readonly files: TlsFiles;
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer;
  readonly info: CertificateSetInfo;
  /** SHA-256 over the three files' bytes; equal digests mean nothing changed. */
  readonly digest: string;
}

/** A serving set that cannot be used; the message names the file and the reason. */
export class TlsMaterialError extends Error {
  constructor(
    /** The file at fault. */
    readonly file: string,
    readonly reason: string,
  ) {
    super(`TLS file '${file}' ${reason}`);
    this.name = 'TlsMaterialError';
  }
}

/** Reads a whole file; injected so tests can hand in bytes. */
export type ReadFileBytes = (path: string) => Buffer;

/** Handshake and HTTP limits applied to the TLS listener (see SERVER_LIMITS in pipeline/server-limits.ts). */
export interface TlsListenerLimits {
  readonly handshakeTimeoutMs: number;
  readonly requestHeadersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly maxHeaderBytes: number;
  /**
   * How often the header and request timeouts are checked (Node's `connectionsCheckingInterval`, 30 s by default:
   * a request is only cut at the first check after its limit, so up to that much late).
   */
  readonly connectionsCheckingIntervalMs?: number;
}

/** The TLS version floor and ceiling: TLS 1.3 only (docs/tls.md). */
const TLS_VERSIONS = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' } as const;

/** The three files as one digest: rotation compares these, so rewriting identical bytes does nothing. */
export function digestFiles(cert: Buffer, key: Buffer, ca: Buffer): string {
  const hash = createHash('sha256');
  for (const part of [cert, key, ca]) hash.update(String(part.length)).update(':').update(part);
  return hash.digest('hex');
}

/** The raw bytes of a serving set and their digest, before validation. */
export interface TlsBytes {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer;
  readonly digest: string;
}

/** Reads the three files. Throws {@link TlsMaterialError} naming a file that cannot be read. */
export function readTlsBytes(files: TlsFiles, read: ReadFileBytes = readFileSync): TlsBytes {
  const bytes = (file: string): Buffer => {
    try {
      return read(file);
    } catch (error) {
      throw new TlsMaterialError(file, `cannot be read: ${(error as Error).message}`);
    }
  };
  const cert = bytes(files.certFile);
  const key = bytes(files.keyFile);
  const ca = bytes(files.clientCaFile);
  return { cert, key, ca, digest: digestFiles(cert, key, ca) };
}

/**
 * Validates a serving set (see `inspectCertificateSet`: key matches certificate, certificate valid at `nowMs`, CA
 * file holds CA certificates). Throws {@link TlsMaterialError} naming the file at fault.
 */
export function validateTlsBytes(files: TlsFiles, bytes: TlsBytes, nowMs: number): TlsMaterial {
  try {
    return { files, ...bytes, info: inspectCertificateSet(bytes, nowMs) };
  } catch (error) {
    if (!(error instanceof CertificateSetError)) throw error;
    const file = error.part === 'cert' ? files.certFile : error.part === 'key' ? files.keyFile : files.clientCaFile;
    throw new TlsMaterialError(file, error.message);
  }
}

/** Reads and validates a serving set: {@link readTlsBytes} then {@link validateTlsBytes}. */
export function readTlsMaterial(files: TlsFiles, nowMs: number, read: ReadFileBytes = readFileSync): TlsMaterial {
  return validateTlsBytes(files, readTlsBytes(files, read), nowMs);
}

/** The secure-context part of the listener options, also what `server.setSecureContext` receives on rotation. */
export function secureContextOptions(material: TlsMaterial): SecureContextOptions {
  return { cert: material.cert, key: material.key, ca: material.ca, ...TLS_VERSIONS };
}

/**
 * Options for `https.createServer` (Fastify's `https` option): TLS 1.3 only, a client certificate required and
 * verified against the client CA (a client without one, or with one from another CA, fails in the handshake), plus
 * the HTTP limits, which Fastify does not copy from its `http` option when it serves HTTPS.
 */
export function buildHttpsOptions(material: TlsMaterial, limits: TlsListenerLimits): HttpsServerOptions {
  return {
    ...secureContextOptions(material),
    requestCert: true,
    rejectUnauthorized: true,
    handshakeTimeout: limits.handshakeTimeoutMs,
    headersTimeout: limits.requestHeadersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    maxHeaderSize: limits.maxHeaderBytes,
    connectionsCheckingInterval: limits.connectionsCheckingIntervalMs,
  };
}
