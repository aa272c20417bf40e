import { signAdmission } from '@shieldx/security';
import { defineCommand, usageError } from '../command';

/** `shieldx admission --help`. */
export const ADMISSION_USAGE = `usage: shieldx admission sign --method <M> --path </path?query> [--secret <s>] [--time <unix>] [--nonce <n>] [--curl]

Prints the value of the admission header (t=<unix>,n=<nonce>,v1=<hex HMAC-SHA256>) for one request.
The secret is --secret, else the first entry of ADMISSION_SECRET. --curl prints a curl -H argument instead,
using ADMISSION_HEADER (default X-ShieldX-Admission). Each value is good for one request within ±60 s.
`;

const UNIX_SECONDS = /^[0-9]{1,12}$/;

/** `shieldx admission sign`: a valid admission header value for scripts (docs/security.md), signed by the library. */
export const admissionCommand = defineCommand({
  name: 'admission',
  summary: `  admission sign --method <M> --path </path?query> [--secret <s>] [--time <unix>] [--curl]
            print a valid admission header value (secret: --secret, else the first of ADMISSION_SECRET)`,
  usage: ADMISSION_USAGE,
  options: { method: 'string', path: 'string', secret: 'string', time: 'string', nonce: 'string', curl: 'boolean' },
  run({ values, positionals }, context) {
    const [sub, ...rest] = positionals;
    if (sub !== 'sign') {
      return usageError(context, 'admission', sub === undefined ? 'name a command: sign' : `unknown command '${sub}'`);
    }
    if (rest.length > 0) return usageError(context, 'admission', `unexpected argument '${rest[0]}'`);
    const secret = values.secret ?? (context.env.ADMISSION_SECRET ?? '').split(',')[0].trim();
    const problems: string[] = [];
    if (values.method === undefined || !/^[A-Za-z]+$/.test(values.method)) {
      problems.push('--method is required (e.g. POST)');
    }
    if (values.path?.startsWith('/') !== true) problems.push('--path is required and starts with / (e.g. /route)');
    if (secret === '') problems.push('no secret: pass --secret or set ADMISSION_SECRET');
    if (values.time !== undefined && !UNIX_SECONDS.test(values.time)) problems.push('--time must be unix seconds');
    if (problems.length > 0 || values.method === undefined || values.path === undefined) {
      return usageError(context, 'admission', problems.join('; '));
    }
    let value: string;
    try {
      value = signAdmission({
        secret,
        // The method is signed as sent; HTTP clients send it upper-case.
        method: values.method.toUpperCase(),
        pathWithQuery: values.path,
        ...(values.time === undefined ? {} : { timestamp: Number(values.time) }),
        ...(values.nonce === undefined ? {} : { nonce: values.nonce }),
      });
    } catch {
      // The nonce is the one input the library refuses.
      return usageError(context, 'admission', '--nonce must be 16–64 characters of [A-Za-z0-9_-]');
    }
    const header = (context.env.ADMISSION_HEADER ?? '').trim() || 'X-ShieldX-Admission';
    context.stdout.write(values.curl === true ? `-H '${header}: ${value}'\n` : `${value}\n`);
    return 0;
  },
});
