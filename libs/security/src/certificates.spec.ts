import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CertificateSetError,
  inspectCertificateSet,
  splitPemCertificates,
  type CertificateSetPem,
} from './certificates';

const CLI = fileURLToPath(new URL('../../../packages/cli/shieldx.mjs', import.meta.url));

/** Real certificates from the project's own `shieldx certs dev`. */
function certsDev(dir: string, ...args: string[]): void {
  execFileSync(process.execPath, [CLI, 'certs', 'dev', dir, ...args], { stdio: 'pipe' });
}

describe(inspectCertificateSet.name, () => {
  let root: string;
  let good: CertificateSetPem;
  let read: (dir: string, file: string) => string;

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'shieldx-certs-spec-'));
    read = (dir, file) => readFileSync(join(root, dir, file), 'utf8');
    certsDev(join(root, 'a'));
    certsDev(join(root, 'other'), '--no-clients');
    // Same CA as `a`, server certificates that expired long ago and that start in the future.
    for (const [dir, from, to] of [
      ['expired', '2000-01-01T00:00:00Z', '2001-01-01T00:00:00Z'],
      ['future', '2090-01-01T00:00:00Z', '2091-01-01T00:00:00Z'],
    ]) {
      mkdirSync(join(root, dir), { mode: 0o700 });
      for (const f of ['ca.pem', 'ca.key']) copyFileSync(join(root, 'a', f), join(root, dir, f));
      certsDev(join(root, dir), '--no-clients', '--not-before', from, '--not-after', to);
    }
    good = { cert: read('a', 'server.pem'), key: read('a', 'server.key'), ca: read('a', 'ca.pem') };
  });

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const failure = (pem: CertificateSetPem, now = Date.now()): CertificateSetError => {
    try {
      inspectCertificateSet(pem, now);
    } catch (error) {
      if (error instanceof CertificateSetError) return error;
      throw error;
    }
    throw new Error('expected a CertificateSetError');
  };

  it('describes a valid set: fingerprint, SANs, validity, CA subjects', () => {
    const info = inspectCertificateSet(good, Date.now());
    expect(info.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(info.sans).toEqual(['DNS:localhost']);
    expect(info.notAfter - Date.now()).toBeGreaterThan(360 * 86_400_000);
    expect(info.notBefore).toBeLessThan(Date.now());
    expect(info.caSubjects).toEqual([expect.stringContaining('CN=ShieldX Dev CA')]);
  });

  it('refuses a key that belongs to another certificate', () => {
    const error = failure({ ...good, key: read('other', 'server.key') });
    expect(error.part).toBe('key');
    expect(error.message).toMatch(/does not belong to the certificate/);
  });

  it('refuses an expired certificate and one not valid yet', () => {
    const expired = failure({ ...good, cert: read('expired', 'server.pem'), key: read('expired', 'server.key') });
    expect(expired.part).toBe('cert');
    expect(expired.message).toMatch(/expired on 2001-01-01T00:00:00.000Z/);
    const future = failure({ ...good, cert: read('future', 'server.pem'), key: read('future', 'server.key') });
    expect(future.message).toMatch(/not valid before 2090-01-01/);
  });

  it('judges expiry by the clock it is given', () => {
    const { notAfter } = inspectCertificateSet(good, Date.now());
    expect(failure(good, notAfter).message).toMatch(/expired/);
    expect(inspectCertificateSet(good, notAfter - 1).notAfter).toBe(notAfter);
  });

  it('refuses a client CA file holding a non-CA certificate, or nothing', () => {
    expect(failure({ ...good, ca: read('a', 'client-ingress.pem') })).toMatchObject({
      part: 'ca',
      message: expect.stringMatching(/CN=ingress.* is not a CA certificate/),
    });
    expect(failure({ ...good, ca: '' })).toMatchObject({ part: 'ca', message: 'holds no PEM certificate' });
  });

  it('accepts a CA bundle and names what is unreadable', () => {
    const bundle = read('a', 'ca.pem') + read('other', 'ca.pem');
    expect(splitPemCertificates(bundle)).toHaveLength(2);
    expect(inspectCertificateSet({ ...good, ca: bundle }, Date.now()).caSubjects).toHaveLength(2);
    expect(failure({ ...good, cert: 'not a pem' })).toMatchObject({ part: 'cert' });
    expect(failure({ ...good, key: 'not a key' })).toMatchObject({ part: 'key' });
  });
});
