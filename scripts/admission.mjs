// `shieldx admission sign`: prints a valid admission header value for scripts (docs/security.md).
import { createHmac, randomBytes } from 'node:crypto';

/** Usage of `shieldx admission`. */
export const ADMISSION_USAGE = `usage: shieldx admission sign --method <M> --path </path?query> [--secret <s>] [--time <unix>] [--nonce <n>] [--curl]

Prints the value of the admission header (t=<unix>,n=<nonce>,v1=<hex HMAC-SHA256>) for one request.
The secret is --secret, else the first entry of ADMISSION_SECRET. --curl prints a curl -H argument instead,
using ADMISSION_HEADER (default X-ShieldX-Admission). Each value is good for one request within ±60 s.
`;

const NONCE = /^[A-Za-z0-9_-]{16,64}$/;

/** Same message and HMAC as libs/security/src/admission.ts (signAdmission). */
export function signAdmission({ secret, method, path, time, nonce }) {
  const mac = createHmac('sha256', secret).update(`${time}.${nonce}.${method}.${path}`).digest('hex');
  return `t=${time},n=${nonce},v1=${mac}`;
}

/** Runs the command; returns the exit code. */
export function admissionCommand(args, env = process.env) {
  const [sub, ...rest] = args;
  if (sub !== 'sign') {
    process.stderr.write(ADMISSION_USAGE);
    return sub === 'help' || sub === '--help' ? 0 : 2;
  }
  const options = { curl: false };
  for (let i = 0; i < rest.length; i++) {
    const name = rest[i];
    if (name === '--curl') {
      options.curl = true;
      continue;
    }
    const value = rest[i + 1];
    if (!['--method', '--path', '--secret', '--time', '--nonce'].includes(name) || value === undefined) {
      process.stderr.write(`shieldx admission: unexpected argument '${name}'\n\n${ADMISSION_USAGE}`);
      return 2;
    }
    options[name.slice(2)] = value;
    i++;
  }
  const secret = options.secret ?? (env.ADMISSION_SECRET ?? '').split(',')[0].trim();
  const problems = [];
  if (!options.method || !/^[A-Za-z]+$/.test(options.method)) problems.push('--method is required (e.g. POST)');
  if (!options.path || !options.path.startsWith('/'))
    problems.push('--path is required and starts with / (e.g. /route)');
  if (!secret) problems.push('no secret: pass --secret or set ADMISSION_SECRET');
  const time = options.time ?? String(Math.floor(Date.now() / 1000));
  if (!/^[0-9]{1,12}$/.test(time)) problems.push('--time must be unix seconds');
  const nonce = options.nonce ?? randomBytes(16).toString('base64url');
  if (!NONCE.test(nonce)) problems.push('--nonce must be 16–64 characters of [A-Za-z0-9_-]');
  if (problems.length > 0) {
    process.stderr.write(`shieldx admission: ${problems.join('; ')}\n`);
    return 2;
  }
  // The method is signed as sent; HTTP clients send it upper-case.
  const value = signAdmission({ secret, method: options.method.toUpperCase(), path: options.path, time, nonce });
  const header = (env.ADMISSION_HEADER ?? '').trim() || 'X-ShieldX-Admission';
  process.stdout.write(options.curl ? `-H '${header}: ${value}'\n` : `${value}\n`);
  return 0;
}
