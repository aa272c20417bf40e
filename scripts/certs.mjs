// `shieldx certs dev <dir>`: a development PKI made with the system `openssl` — a CA, a server certificate for
// localhost/127.0.0.1/::1 and client certificates with SPIFFE URI SANs — plus a README showing how to call the
// orchestrator with them. Keys are EC P-256 (PKCS#8), written 0600 into a 0700 directory; every file is written to a
// temporary name and renamed, so a watching orchestrator never reads half a file.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { makeDirectorySync } from './make-directory.mjs';

/** Trust domain and path of the default client identities. */
export const DEFAULT_SPIFFE_PREFIX = 'spiffe://shieldx.local/ns/default/sa/';
/** Client certificates made when no `--client` is given. */
export const DEFAULT_CLIENTS = ['ingress'];

export const CERTS_USAGE = `usage: shieldx certs dev <dir> [options]

Writes a development CA, a server certificate and client certificates into <dir> (created 0700; keys 0600):
  ca.pem ca.key                 the dev CA (reused when both files already exist in <dir>)
  server.pem server.key         server certificate: DNS:localhost, IP:127.0.0.1, IP:::1 (+ --server-san)
  client-<name>.pem/.key        one per client, with its SPIFFE URI SAN
  README.md                     how to run the orchestrator and curl it with these files

options:
  --client <name>[=<san>,…]     a client certificate; a SAN is a URI (spiffe://…) or dns:<name>. Without '=':
                                ${DEFAULT_SPIFFE_PREFIX}<name>. Repeatable. Default: ${DEFAULT_CLIENTS.join(', ')}
  --server-san <DNS:x|IP:x>     extra server SAN. Repeatable
  --days <n>                    validity of server and client certificates (default 365; the CA: 3650)
  --not-before <date>           validity start of server and client certificates (ISO 8601; default 5 min ago)
  --not-after <date>            validity end (ISO 8601; overrides --days). A date in the past makes an expired
                                certificate, for testing rotation
  --no-server | --no-clients    skip the server or the client certificates
`;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const URI_SAN = /^[A-Za-z][A-Za-z0-9+.-]*:[\x21-\x7e]+$/;
const DNS_SAN = /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/;
const IP_SAN = /^[0-9A-Fa-f:.]+$/;

class UsageError extends Error {}

/** Entry point for `shieldx certs …`; returns the process exit code. */
export function certsCommand(args) {
  try {
    const [sub, ...rest] = args;
    if (sub === undefined || sub === 'help' || sub === '--help' || sub === '-h') {
      process.stdout.write(CERTS_USAGE);
      return sub === undefined ? 2 : 0;
    }
    if (sub !== 'dev') throw new UsageError(`unknown certs command '${sub}'`);
    const options = parseDevArgs(rest);
    const written = makeDevCerts(options);
    process.stdout.write(`shieldx: wrote ${written.files.length} files to ${written.dir}\n`);
    for (const file of written.files) process.stdout.write(`  ${file}\n`);
    if (written.reusedCa) process.stdout.write('  (reused the existing ca.pem/ca.key)\n');
    process.stdout.write(`see ${join(written.dir, 'README.md')}\n`);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`shieldx certs: ${error.message}\n\n${CERTS_USAGE}`);
      return 2;
    }
    process.stderr.write(`shieldx certs: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

/** Parses `certs dev` arguments into options for {@link makeDevCerts}. */
export function parseDevArgs(args) {
  let dir;
  const clients = [];
  const serverSans = [];
  let days = 365;
  let notBefore;
  let notAfter;
  let server = true;
  let withClients = true;
  const value = (i, flag) => {
    if (i >= args.length || args[i].startsWith('--')) throw new UsageError(`${flag} needs a value`);
    return args[i];
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? splitOnce(arg, '=') : [arg, undefined];
    const take = () => inline ?? value(++i, flag);
    switch (flag) {
      case '--client':
        clients.push(parseClient(take()));
        break;
      case '--server-san':
        serverSans.push(parseServerSan(take()));
        break;
      case '--days': {
        const raw = take();
        days = Number(raw);
        if (!Number.isInteger(days) || days < 1 || days > 3650) throw new UsageError(`--days '${raw}': 1 to 3650`);
        break;
      }
      case '--not-before':
        notBefore = parseDate(take(), flag);
        break;
      case '--not-after':
        notAfter = parseDate(take(), flag);
        break;
      case '--no-server':
        server = false;
        break;
      case '--no-clients':
        withClients = false;
        break;
      default:
        if (arg.startsWith('-')) throw new UsageError(`unknown option '${arg}'`);
        if (dir !== undefined) throw new UsageError(`one directory only (got '${dir}' and '${arg}')`);
        dir = arg;
    }
  }
  if (dir === undefined) throw new UsageError('the output directory is missing');
  const start = notBefore ?? new Date(Date.now() - 5 * 60_000);
  const end = notAfter ?? new Date(start.getTime() + days * 86_400_000);
  if (end <= start) throw new UsageError('--not-after must be later than --not-before');
  const byName = new Map();
  for (const client of withClients ? (clients.length > 0 ? clients : DEFAULT_CLIENTS.map(parseClient)) : []) {
    if (byName.has(client.name)) throw new UsageError(`client '${client.name}' is given twice`);
    byName.set(client.name, client);
  }
  return { dir: resolve(dir), clients: [...byName.values()], serverSans, notBefore: start, notAfter: end, server };
}

function splitOnce(text, separator) {
  const at = text.indexOf(separator);
  return [text.slice(0, at), text.slice(at + 1)];
}

function parseClient(raw) {
  const [name, list] = raw.includes('=') ? splitOnce(raw, '=') : [raw, undefined];
  if (!NAME.test(name)) throw new UsageError(`client name '${name}' must match ${NAME.source}`);
  const sans = (list ?? `${DEFAULT_SPIFFE_PREFIX}${name}`)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((san) => {
      if (/^dns:/i.test(san)) {
        const host = san.slice(4);
        if (!DNS_SAN.test(host)) throw new UsageError(`client '${name}': '${host}' is not a DNS name`);
        return `DNS:${host}`;
      }
      if (!URI_SAN.test(san)) throw new UsageError(`client '${name}': '${san}' is not a URI (spiffe://…)`);
      return `URI:${san}`;
    });
  if (sans.length === 0) throw new UsageError(`client '${name}' needs at least one SAN`);
  return { name, sans };
}

function parseServerSan(raw) {
  const [kind, v] = raw.includes(':') ? splitOnce(raw, ':') : ['', raw];
  const type = kind.toUpperCase();
  if (type === 'DNS' && DNS_SAN.test(v)) return `DNS:${v}`;
  if ((type === 'IP' || type === 'IP ADDRESS') && IP_SAN.test(v)) return `IP:${v}`;
  throw new UsageError(`--server-san '${raw}': write DNS:<name> or IP:<address>`);
}

function parseDate(raw, flag) {
  const date = new Date(raw);
  if (Number.isNaN(date.getTime())) throw new UsageError(`${flag} '${raw}' is not a date (ISO 8601)`);
  return date;
}

/** openssl's GeneralizedTime form, YYYYMMDDHHMMSSZ. */
function asn1Time(date) {
  return `${date.toISOString().slice(0, 19).replace(/[-T:]/g, '')}Z`;
}

/**
 * @param {string[]} args
 * @param {{ input?: string, cwd?: string }} [options]
 */
function openssl(args, { input, cwd } = {}) {
  const result = spawnSync('openssl', args, { cwd, input, encoding: 'utf8' });
  if (/** @type {NodeJS.ErrnoException | undefined} */ (result.error)?.code === 'ENOENT') {
    throw new Error('the openssl command is needed and was not found (Debian/Ubuntu: apt-get install openssl)');
  }
  if (result.error) throw result.error;
  if (result.status !== 0) {
    throw new Error(`openssl ${args[0]} failed (exit ${result.status}):\n${result.stderr.trim()}`);
  }
  return result.stdout;
}

/** Writes a file atomically (temporary name, then rename) with the given mode. */
function writeAtomic(path, data, mode) {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data, { mode, flag: 'w' });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

function newKey() {
  return openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']);
}

function opensslConfig(work, extensions) {
  return `# generated by shieldx certs dev
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = ShieldX Dev CA
O = ShieldX development
[ v3_ca ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ ca ]
default_ca = dev
[ dev ]
database = ${join(work, 'index.txt')}
new_certs_dir = ${work}
serial = ${join(work, 'serial')}
default_md = sha256
policy = any_cn
unique_subject = no
email_in_dn = no
copy_extensions = none
[ any_cn ]
commonName = supplied
organizationName = optional
${extensions}`;
}

function leafExtensions(section, usage, sans) {
  return `[ ${section} ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = ${usage}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = @${section}_san
[ ${section}_san ]
${sans.map((san, i) => `${splitOnce(san, ':')[0]}.${i + 1} = ${splitOnce(san, ':')[1]}`).join('\n')}
`;
}

/**
 * Makes the development PKI described in {@link CERTS_USAGE}. Returns the directory, the files written and whether
 * an existing CA was reused.
 */
export function makeDevCerts({ dir, clients, serverSans = [], notBefore, notAfter, server = true }) {
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new Error(`'${dir}' exists and is not a directory`);
  if (!existsSync(dir)) makeDirectorySync(dir, 0o700);
  const work = mkdtempSync(join(tmpdir(), 'shieldx-certs-'));
  const files = [];
  try {
    const leaves = [];
    if (server) {
      leaves.push({
        file: 'server',
        cn: 'localhost',
        usage: 'serverAuth',
        sans: ['DNS:localhost', 'IP:127.0.0.1', 'IP:::1', ...serverSans],
      });
    }
    for (const client of clients) {
      leaves.push({ file: `client-${client.name}`, cn: client.name, usage: 'clientAuth', sans: client.sans });
    }
    const extensions = leaves.map((leaf, i) => leafExtensions(`leaf${i}`, leaf.usage, leaf.sans)).join('');
    const config = join(work, 'openssl.cnf');
    writeFileSync(config, opensslConfig(work, extensions), { mode: 0o600 });
    writeFileSync(join(work, 'index.txt'), '');
    writeFileSync(join(work, 'serial'), `${openssl(['rand', '-hex', '16']).trim()}\n`);

    const caPem = join(dir, 'ca.pem');
    const caKey = join(dir, 'ca.key');
    const reusedCa = existsSync(caPem) && existsSync(caKey);
    if (!reusedCa) {
      const key = newKey();
      writeAtomic(caKey, key, 0o600);
      const cert = openssl([
        'req',
        '-x509',
        '-new',
        '-key',
        caKey,
        '-config',
        config,
        '-extensions',
        'v3_ca',
        '-days',
        '3650',
      ]);
      writeAtomic(caPem, cert, 0o644);
      files.push('ca.pem', 'ca.key');
    }

    leaves.forEach((leaf, i) => {
      const key = newKey();
      const keyTmp = join(work, `${leaf.file}.key`);
      writeFileSync(keyTmp, key, { mode: 0o600 });
      const csr = join(work, `${leaf.file}.csr`);
      openssl(['req', '-new', '-key', keyTmp, '-subj', `/CN=${leaf.cn}/O=ShieldX development`, '-out', csr]);
      const certTmp = join(work, `${leaf.file}.pem`);
      openssl([
        'ca',
        '-batch',
        '-config',
        config,
        '-cert',
        caPem,
        '-keyfile',
        caKey,
        '-extensions',
        `leaf${i}`,
        '-notext',
        '-startdate',
        asn1Time(notBefore),
        '-enddate',
        asn1Time(notAfter),
        '-in',
        csr,
        '-out',
        certTmp,
      ]);
      writeAtomic(join(dir, `${leaf.file}.key`), key, 0o600);
      writeAtomic(join(dir, `${leaf.file}.pem`), readFileSync(certTmp), 0o644);
      files.push(`${leaf.file}.pem`, `${leaf.file}.key`);
    });

    writeAtomic(join(dir, 'README.md'), readme(dir, clients), 0o644);
    files.push('README.md');
    return { dir, files, reusedCa };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function readme(dir, clients) {
  const client = clients[0]?.name ?? 'ingress';
  const uri = clients[0]?.sans.find((s) => s.startsWith('URI:'))?.slice(4) ?? `${DEFAULT_SPIFFE_PREFIX}${client}`;
  const list = clients.map((c) => `- \`client-${c.name}.pem\`: ${c.sans.join(', ')}`).join('\n');
  return `# ShieldX development certificates

Made by \`npx shieldx certs dev\`. For development and tests only: the CA key sits next to the certificates.

- \`ca.pem\`, \`ca.key\`: the development CA (running \`certs dev\` again on this directory reuses it)
- \`server.pem\`, \`server.key\`: the orchestrator's certificate for localhost, 127.0.0.1 and ::1
${list}

Run the orchestrator with TLS 1.3 and required client certificates:

\`\`\`sh
ORCH_TLS_CERT_FILE=${dir}/server.pem \\
ORCH_TLS_KEY_FILE=${dir}/server.key \\
ORCH_TLS_CLIENT_CA_FILE=${dir}/ca.pem \\
ORCH_ALLOWED_CLIENT_SAN_PREFIXES=${uri} \\
ORCH_PORT=8443 ORCH_DEMO=1 npx shieldx serve
\`\`\`

Call it with a client certificate:

\`\`\`sh
curl --cacert ${dir}/ca.pem --cert ${dir}/client-${client}.pem --key ${dir}/client-${client}.key \\
  -H 'content-type: application/json' \\
  -d '{"service":"api","tenant":"acme","scope":"read","path":"/v1/items"}' \\
  https://127.0.0.1:8443/route
\`\`\`

Inspect the handshake (TLS 1.3 only; a TLS 1.2 client or one without a certificate is refused):

\`\`\`sh
openssl s_client -connect 127.0.0.1:8443 -tls1_3 -CAfile ${dir}/ca.pem \\
  -cert ${dir}/client-${client}.pem -key ${dir}/client-${client}.key </dev/null
\`\`\`
`;
}
