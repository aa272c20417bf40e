import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { certificateIdentity, type ClientIdentity } from './san';

/** The PEM texts of one serving set: certificate (leaf first, then any intermediates), private key, client CA. */
export interface CertificateSetPem {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  readonly ca: string | Buffer;
}

/** What was learnt about a valid serving set. Times are epoch milliseconds. */
export interface CertificateSetInfo {
  /** SHA-256 fingerprint of the serving (leaf) certificate, `AA:BB:…`. */
  readonly fingerprint256: string;
  readonly subject: string;
  /** The serving certificate's DNS/URI SANs. */
  readonly sans: readonly string[];
  readonly notBefore: number;
  readonly notAfter: number;
  /** Subjects of the client CA certificates that are still valid. */
  readonly caSubjects: readonly string[];
}

/** Which part of a set is wrong, and why. */
export class CertificateSetError extends Error {
  constructor(
    /** `cert`, `key` or `ca`: the file at fault. */
    readonly part: 'cert' | 'key' | 'ca',
    message: string,
  ) {
    super(message);
    this.name = 'CertificateSetError';
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Splits a PEM bundle into its certificates (other blocks are ignored). */
export function splitPemCertificates(pem: string | Buffer): string[] {
  return [...pem.toString().matchAll(PEM_CERTIFICATE)].map((m) => m[0]);
}

/** `X509Certificate#validTo`/`validFrom` text (`Jan  1 00:00:00 2031 GMT`) as epoch milliseconds. */
export function certificateTime(text: string): number {
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new Error(`unreadable certificate time '${text}'`);
  return ms;
}

/**
 * Checks a serving set before it is used: the certificate parses and is valid at `nowMs` (not expired, not yet
 * valid), the key parses and belongs to the certificate, and the client CA file holds only CA certificates, at
 * least one of them unexpired. Throws {@link CertificateSetError} naming the part at fault.
 */
export function inspectCertificateSet(pem: CertificateSetPem, nowMs: number): CertificateSetInfo {
  const leafPem = splitPemCertificates(pem.cert);
  if (leafPem.length === 0) throw new CertificateSetError('cert', 'holds no PEM certificate');
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(leafPem[0]);
  } catch (error) {
    throw new CertificateSetError('cert', `is not a readable certificate: ${(error as Error).message}`);
  }
  const notBefore = certificateTime(leaf.validFrom);
  const notAfter = certificateTime(leaf.validTo);
  if (nowMs >= notAfter) throw new CertificateSetError('cert', `expired on ${new Date(notAfter).toISOString()}`);
  if (nowMs < notBefore) {
    throw new CertificateSetError('cert', `is not valid before ${new Date(notBefore).toISOString()}`);
  }

  let key: KeyObject;
  try {
    key = createPrivateKey(pem.key);
  } catch (error) {
    throw new CertificateSetError('key', `is not a readable private key: ${(error as Error).message}`);
  }
  if (!leaf.checkPrivateKey(key)) {
    throw new CertificateSetError('key', `does not belong to the certificate (${leaf.subject.replace(/\n/g, ', ')})`);
  }

  const caPem = splitPemCertificates(pem.ca);
  if (caPem.length === 0) throw new CertificateSetError('ca', 'holds no PEM certificate');
  const caSubjects: string[] = [];
  for (const block of caPem) {
    let ca: X509Certificate;
    try {
      ca = new X509Certificate(block);
    } catch (error) {
      throw new CertificateSetError('ca', `holds an unreadable certificate: ${(error as Error).message}`);
    }
    if (!ca.ca) throw new CertificateSetError('ca', `'${oneLine(ca.subject)}' is not a CA certificate`);
    if (nowMs < certificateTime(ca.validTo)) caSubjects.push(oneLine(ca.subject));
  }
  if (caSubjects.length === 0) throw new CertificateSetError('ca', 'every CA certificate in it has expired');

  let identity: ClientIdentity;
  try {
    ({ identity } = certificateIdentity(leaf.raw));
  } catch (error) {
    throw new CertificateSetError('cert', `has unreadable subject alternative names: ${(error as Error).message}`);
  }
  return {
    fingerprint256: leaf.fingerprint256,
    subject: oneLine(leaf.subject),
    sans: [...identity.dns.map((d) => `DNS:${d}`), ...identity.uris.map((u) => `URI:${u}`)],
    notBefore,
    notAfter,
    caSubjects,
  };
}

function oneLine(subject: string): string {
  return subject.replace(/\n/g, ', ');
}
