import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PolicyEngine, PolicyInput } from '@shieldx/policy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoBackend, type RunningDemoBackend } from '../../src/demo/demo-backends';
import { POLICY_ENGINE } from '../../src/policy/policy.module';
import { tlsCall } from '../json-client';
import { startOrchestrator, type RunningOrchestrator } from '../harness';

/**
 * Identity confusion between SAN kinds, against the real TLS listener, with certificates made by `openssl` here: a
 * DNS SAN spelling a SPIFFE ID, a DNS SAN holding `, URI:…`, URI vs DNS entries, case, trailing dots, NUL and
 * non-ASCII bytes, several SANs, IP and email SANs. Both the client SAN allowlist and ORCH_ADMIN_SANS.
 */

const INGRESS = 'spiffe://shieldx.local/ns/default/sa/ingress';
const ADMIN = 'spiffe://shieldx.local/ns/ops/sa/admin';
const VALID = { service: 'api', tenant: 'acme', scope: 'read', path: '/v1/items' };

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

/** A GeneralName as raw DER bytes: `dns`/`uri`/`email` take the value's bytes as they are (latin1), `ip` 4 bytes. */
type RawName = readonly ['dns' | 'uri' | 'email' | 'ip', string];
const TAGS = { email: 0x81, dns: 0x82, uri: 0x86, ip: 0x87 } as const;

function derElement(tag: number, body: Buffer): Buffer {
  const length = body.length < 0x80 ? [body.length] : [0x81, body.length];
  return Buffer.concat([Buffer.from([tag, ...length]), body]);
}

/** `subjectAltName = DER:…` for names openssl's own syntax cannot write (NUL, non-ASCII bytes). */
function rawSan(names: readonly RawName[]): string {
  const body = Buffer.concat(
    names.map(([kind, value]) =>
      derElement(TAGS[kind], kind === 'ip' ? Buffer.from(value.split('.').map(Number)) : Buffer.from(value, 'latin1')),
    ),
  );
  return `DER:${[...derElement(0x30, body)].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
}

/** A little PKI made with openssl: a CA, a server certificate for 127.0.0.1, and client certificates on demand. */
class Pki {
  readonly dir = mkdtempSync(join(tmpdir(), 'shieldx-identity-confusion-'));
  private count = 0;

  constructor() {
    openssl(
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        'ca.key',
        '-out',
        'ca.pem',
        '-subj',
        '/CN=Identity confusion CA',
        '-days',
        '2',
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ],
      this.dir,
    );
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'leaf.key'], this.dir);
    this.issue('server', 'serverAuth', 'subjectAltName = DNS:localhost, IP:127.0.0.1');
  }

  file(name: string): string {
    return join(this.dir, name);
  }

  /**
   * A client certificate whose SAN extension is `san`: openssl's section syntax (one `KIND.n = value` line each, so a
   * value may hold a comma) or a `DER:` value.
   */
  client(san: readonly string[] | { der: readonly RawName[] }): { ca: Buffer; cert: Buffer; key: Buffer } {
    const name = `client-${++this.count}`;
    const line = (entry: string, i: number) =>
      `${entry.slice(0, entry.indexOf(':'))}.${i + 1} = ${entry.slice(entry.indexOf(':') + 1)}`;
    const extension =
      'der' in san
        ? `subjectAltName = ${rawSan(san.der)}`
        : `subjectAltName = @${name}_san\n[ ${name}_san ]\n${san.map(line).join('\n')}`;
    this.issue(name, 'clientAuth', extension);
    return {
      ca: readFileSync(this.file('ca.pem')),
      cert: readFileSync(this.file(`${name}.pem`)),
      key: readFileSync(this.file('leaf.key')),
    };
  }

  private issue(name: string, usage: string, extension: string): void {
    writeFileSync(
      this.file(`${name}.cnf`),
      [
        '[ req ]',
        'distinguished_name = dn',
        'prompt = no',
        '[ dn ]',
        // The CN spells the admin identity: it must never count.
        `CN = ${ADMIN}`,
        '[ v3 ]',
        'basicConstraints = critical, CA:FALSE',
        'keyUsage = critical, digitalSignature',
        `extendedKeyUsage = ${usage}`,
        extension,
        '',
      ].join('\n'),
    );
    openssl(
      [
        'req',
        '-new',
        '-key',
        'leaf.key',
        '-config',
        `${name}.cnf`,
        '-extensions',
        'v3',
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca.key',
        '-days',
        '1',
        '-out',
        `${name}.pem`,
      ],
      this.dir,
    );
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

describe('client SAN allowlist: each SAN kind matches only entries of its kind', () => {
  let pki: Pki;
  let backend: RunningDemoBackend;
  let orch: RunningOrchestrator;
  const seen: PolicyInput['identity'][] = [];
  const lastRefusal = () =>
    orch.logs.filter((line) => line['event'] === 'auth.failed' && line['context'] === 'security').at(-1);

  beforeAll(async () => {
    pki = new Pki();
    backend = await startDemoBackend({ name: 'a', delayMs: 0, jitterMs: 0 });
    orch = await startOrchestrator({
      ORCH_TLS_CERT_FILE: pki.file('server.pem'),
      ORCH_TLS_KEY_FILE: pki.file('leaf.key'),
      ORCH_TLS_CLIENT_CA_FILE: pki.file('ca.pem'),
      ORCH_ALLOWED_CLIENT_SAN_PREFIXES: `${INGRESS},spiffe://shieldx.local/ns/apps/,web.internal`,
      ORCH_POOL_API: backend.url,
    });
    const engine = orch.app.get<PolicyEngine>(POLICY_ENGINE);
    const decide = engine.decide.bind(engine);
    engine.decide = (input) => {
      seen.push(input.identity);
      return decide(input);
    };
  });

  afterAll(async () => {
    await orch?.close();
    await backend?.close();
    pki?.remove();
  });

  const route = (client: ReturnType<Pki['client']>) => tlsCall(orch.url, 'POST', '/route', client, VALID);

  it.each([
    ['a DNS SAN spelling an allowed SPIFFE ID', [`DNS:${INGRESS}`]],
    ['a DNS SAN under an allowed SPIFFE prefix', ['DNS:spiffe://shieldx.local/ns/apps/sa/x']],
    ['a DNS SAN holding ", URI:<allowed ID>"', [`DNS:x.internal, URI:${INGRESS}`]],
    ['a DNS SAN holding "URI:<allowed ID>"', [`DNS:URI:${INGRESS}`]],
    ['a URI SAN spelling an allowed DNS name', ['URI:dns://web.internal']],
    ['a URI SAN differing from the allowed ID in path case', ['URI:spiffe://shieldx.local/ns/default/sa/INGRESS']],
    ['a URI SAN one segment longer', [`URI:${INGRESS}/x`]],
    ['a URI SAN under the prefix with a dot segment', ['URI:spiffe://shieldx.local/ns/apps/../ops/sa/admin']],
    ['a DNS SAN with a trailing dot', ['DNS:web.internal.']],
    ['a DNS SAN with a wildcard', ['DNS:*.internal']],
    ['an IP SAN and an email SAN', ['IP:127.0.0.1', 'email:web.internal@shieldx.local']],
  ])('refuses %s with 403 client_identity_refused', async (_label, sans) => {
    const answer = await route(pki.client(sans));
    expect(answer).toMatchObject({ status: 403, body: { error: 'client_identity_refused' } });
  });

  it.each([
    ['a DNS SAN with a NUL byte', { der: [['dns', 'web.internal\u0000.evil.com']] as RawName[] }],
    ['a DNS SAN with non-ASCII bytes', { der: [['dns', 'web.int\u00c3\u00a9rnal']] as RawName[] }],
    ['a URI SAN with a NUL byte', { der: [['uri', `${INGRESS}\u0000`]] as RawName[] }],
    ['a URI SAN with a space', { der: [['uri', `${INGRESS} `]] as RawName[] }],
  ])('refuses %s (written as raw DER)', async (_label, san) => {
    const answer = await route(pki.client(san));
    expect(answer).toMatchObject({ status: 403, body: { error: 'client_identity_refused' } });
  });

  it('reports what was presented, escaped, and that a DNS SAN spelling a URI was ignored', async () => {
    await route(pki.client({ der: [['dns', `${INGRESS}\u0000`]] }));
    expect(lastRefusal()).toMatchObject({
      data: { reason: 'client_san_not_allowed', presentedSans: [`DNS:${INGRESS}\\x00 (ignored: not a DNS name)`] },
    });
    await route(pki.client([`DNS:x.internal, URI:${INGRESS}`, 'URI:spiffe://shieldx.local/ns/other/sa/x']));
    expect(lastRefusal()).toMatchObject({
      data: {
        presentedSans: [
          `DNS:x.internal, URI:${INGRESS} (ignored: not a DNS name)`,
          'URI:spiffe://shieldx.local/ns/other/sa/x',
        ],
      },
    });
  });

  it('matches DNS names case-insensitively and gives the policy the normalised name, in dns only', async () => {
    seen.length = 0;
    expect((await route(pki.client(['DNS:WEB.Internal']))).status).toBe(200);
    expect(seen).toEqual([{ uris: [], dns: ['web.internal'] }]);
  });

  it('matches URI scheme and host case-insensitively, the path exactly, and keeps uris apart from dns', async () => {
    seen.length = 0;
    const answer = await route(pki.client(['URI:SPIFFE://ShieldX.Local/ns/default/sa/ingress', 'DNS:Other.Internal']));
    expect(answer.status).toBe(200);
    expect(seen).toEqual([{ uris: [INGRESS], dns: ['other.internal'] }]);
  });

  it('admits a certificate with one allowed SAN among others, and drops the malformed ones from the identity', async () => {
    seen.length = 0;
    const answer = await route(
      pki.client([`DNS:${ADMIN}`, 'URI:spiffe://shieldx.local/ns/apps/sa/worker', 'IP:10.0.0.1', 'DNS:a.internal']),
    );
    expect(answer.status).toBe(200);
    expect(seen).toEqual([{ uris: ['spiffe://shieldx.local/ns/apps/sa/worker'], dns: ['a.internal'] }]);
  });

  it('never reads the CN (which spells the admin ID in every certificate here)', async () => {
    expect((await route(pki.client(['DNS:nobody.internal']))).status).toBe(403);
  });
});

describe('ORCH_ADMIN_SANS: each SAN kind matches only admin entries of its kind', () => {
  let pki: Pki;
  let orch: RunningOrchestrator;

  beforeAll(async () => {
    pki = new Pki();
    orch = await startOrchestrator({
      ORCH_TLS_CERT_FILE: pki.file('server.pem'),
      ORCH_TLS_KEY_FILE: pki.file('leaf.key'),
      ORCH_TLS_CLIENT_CA_FILE: pki.file('ca.pem'),
      ORCH_ADMIN_SANS: `${ADMIN},ops.internal`,
    });
  });

  afterAll(async () => {
    await orch?.close();
    pki?.remove();
  });

  const pools = (sans: readonly string[] | { der: readonly RawName[] }) =>
    tlsCall(orch.url, 'GET', '/admin/pools', pki.client(sans));

  it.each([
    ['the admin SPIFFE ID as a URI SAN', [`URI:${ADMIN}`]],
    ['the admin SPIFFE ID with scheme and host in upper case', ['URI:SPIFFE://SHIELDX.LOCAL/ns/ops/sa/admin']],
    ['the admin DNS name in another case', ['DNS:OPS.Internal']],
    ['the admin ID among other SANs', ['DNS:a.internal', `URI:${ADMIN}`, 'IP:127.0.0.1']],
  ])('admits %s', async (_label, sans) => {
    expect((await pools(sans)).status).toBe(200);
  });

  it.each([
    ['a DNS SAN spelling the admin SPIFFE ID', [`DNS:${ADMIN}`]],
    ['a DNS SAN holding ", URI:<admin ID>"', [`DNS:ops.example, URI:${ADMIN}`]],
    ['a URI SAN spelling the admin DNS name', ['URI:https://ops.internal']],
    ['a URI SAN with the admin path in another case', ['URI:spiffe://shieldx.local/ns/ops/sa/Admin']],
    ['a URI SAN under the admin ID', [`URI:${ADMIN}/x`]],
    ['a DNS SAN with a trailing dot', ['DNS:ops.internal.']],
    ['an email SAN spelling the admin DNS name', ['email:admin@ops.internal']],
  ])('refuses %s with 403 admin_identity_refused', async (_label, sans) => {
    expect(await pools(sans)).toMatchObject({ status: 403, body: { error: 'admin_identity_refused' } });
  });

  it.each([
    ['a URI SAN of the admin ID followed by a NUL byte', [['uri', `${ADMIN}\u0000`]] as RawName[]],
    ['a DNS SAN of the admin name with a NUL byte inside', [['dns', 'ops.internal\u0000.evil']] as RawName[]],
    ['a DNS SAN of the admin name with a non-ASCII byte', [['dns', 'ops.interna\u00ecl']] as RawName[]],
  ])('refuses %s', async (_label, der) => {
    expect(await pools({ der })).toMatchObject({ status: 403, body: { error: 'admin_identity_refused' } });
  });
});
