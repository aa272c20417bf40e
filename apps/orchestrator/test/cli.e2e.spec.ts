import { LedgerWriter, parseSigningKey, verifyLedger } from '@shieldx/ledger';
import { AdmissionVerifier, MemoryReplayStore } from '@shieldx/security';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** What `npx shieldx` runs (node_modules/.bin/shieldx links to it): a launcher that runs shieldx.mjs. */
const BIN = 'packages/cli/shieldx';
const { version: VERSION } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `shieldx <args…>` in the repository at `root`, with only PATH and `env` in its environment. */
function shieldxIn(root: string, args: readonly string[], env: Record<string, string> = {}): Run {
  const run = spawnSync(join(root, BIN), args, {
    encoding: 'utf8',
    timeout: 20_000,
    // No configuration at all by default: a command that started the gateway would fail (no TLS, no insecure mode).
    env: { PATH: process.env.PATH, ...env },
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

const shieldx = (...args: string[]): Run => shieldxIn(ROOT, args);

describe('shieldx command line', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'shieldx-cli-'));
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints the usage and the version, exit 0', () => {
    for (const help of ['--help', '-h', 'help']) {
      const run = shieldx(help);
      expect(run.status, help).toBe(0);
      expect(run.stdout).toMatch(/^usage: shieldx <command>/);
      for (const command of ['serve', 'policy build', 'policy test', 'certs dev', 'admission sign', 'ledger verify']) {
        expect(run.stdout, command).toContain(`\n  ${command}`);
      }
    }
    expect(shieldx('--version')).toMatchObject({ status: 0, stdout: `shieldx ${VERSION}\n`, stderr: '' });
  });

  it("prints each command's usage on --help and does nothing else", () => {
    for (const command of ['serve', 'policy', 'ui', 'certs', 'admission', 'ledger']) {
      for (const help of ['--help', '-h', 'help']) {
        const run = shieldx(command, help);
        expect(run.status, `${command} ${help}`).toBe(0);
        expect(run.stdout, `${command} ${help}`).toMatch(new RegExp(`^usage: shieldx ${command}`));
        expect(run.stderr, `${command} ${help}`).toBe('');
      }
    }
  });

  it('serve --help neither builds nor starts the gateway, even with a configuration that would start it', () => {
    const ledger = join(dir, 'serve-help', 'ledger.jsonl');
    // The settings of `npm start`: without --help this would listen, and write its audit ledger at once.
    const run = shieldxIn(ROOT, ['serve', '--help'], {
      ORCH_ALLOW_INSECURE: '1',
      ORCH_DEMO: '1',
      ORCH_PORT: '0',
      ORCH_LEDGER_PATH: ledger,
    });
    // A gateway that started would still be running when spawnSync's timeout killed it (status null).
    expect(run).toMatchObject({ status: 0, stderr: '' });
    expect(run.stdout).toMatch(/^usage: shieldx serve \[--build\]\n/);
    expect(existsSync(join(dir, 'serve-help'))).toBe(false);
  });

  it('serve becomes the gateway: one process, with the V8 flags, that stops on SIGTERM', async () => {
    const gateway = spawn(join(ROOT, BIN), ['serve'], {
      env: {
        PATH: process.env.PATH,
        ORCH_ALLOW_INSECURE: '1',
        ORCH_PORT: '0',
        ORCH_POOL_API: 'http://127.0.0.1:9',
        ORCH_LEDGER_PATH: join(dir, 'serve', 'ledger.jsonl'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let out = '';
      gateway.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the gateway did not listen: ${out}`)), 15_000);
        gateway.stdout.on('data', () => {
          const match = /"event":"listening","url":"([^"]+)"/.exec(out);
          if (match === null) return;
          clearTimeout(timer);
          resolve(match[1]);
        });
      });
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      // The launcher's own process is now the gateway's: no shell or CLI process stays resident beside it.
      const cmdline = readFileSync(`/proc/${gateway.pid}/cmdline`, 'utf8').split('\0');
      expect(cmdline[1]).toMatch(/dist\/orchestrator\/apps\/orchestrator\/src\/main\.js$/);
      const environ = readFileSync(`/proc/${gateway.pid}/environ`, 'utf8').split('\0');
      expect(environ).toContain('NODE_OPTIONS=--max-semi-space-size=4');
      // The malloc settings of scripts/gateway-process.mjs, exported by the launcher before it replaces itself.
      expect(environ).toContain('MALLOC_ARENA_MAX=1');
      expect(environ).toContain('MALLOC_TRIM_THRESHOLD_=131072');
      gateway.kill('SIGTERM');
      // Nest's shutdown hooks re-raise the signal once the application has closed.
      const [code, signal] = (await once(gateway, 'exit')) as [number | null, string | null];
      expect({ code, signal }).toEqual({ code: null, signal: 'SIGTERM' });
    } finally {
      if (gateway.exitCode === null) gateway.kill('SIGKILL');
    }
  });

  it('refuses an unknown flag, a flag without its value and an unknown command with one line, exit 2', () => {
    for (const args of [
      ['serve', '--bogus'],
      ['serve', 'now'],
      ['ledger', 'verify', 'x.jsonl', '--nope'],
      ['ledger', 'verify'],
      ['ledger', 'check', 'x.jsonl'],
      ['ledger', 'verify', 'x.jsonl', '--checkpoint-every', 'ten'],
      ['ledger', 'verify', 'x.jsonl', '--head', 'h', '--no-head'],
      ['admission', 'sign', '--method'],
      ['admission', 'sign', '--method', 'POST'],
      ['admission', 'mint'],
      ['certs', 'dev', '/tmp/x', '--days'],
      ['policy', 'compile', 'policies'],
      ['ui', '--port', '3000'],
      ['frob'],
    ]) {
      const run = shieldx(...args);
      expect(run.status, args.join(' ')).toBe(2);
      expect(run.stdout, args.join(' ')).toBe('');
      expect(run.stderr.trimEnd().split('\n'), args.join(' ')).toHaveLength(1);
    }
  });

  it("signs admission headers that the gateway's verifier accepts for that request only", async () => {
    const verifier = new AdmissionVerifier({ secrets: ['old-secret', 'new-secret'], replay: new MemoryReplayStore() });
    const time = 1_800_000_000;
    const nonce = 'cli-e2e-nonce-0123456789';
    const sign = (env: Record<string, string>, ...args: string[]) =>
      shieldxIn(ROOT, ['admission', 'sign', '--time', String(time), ...args], env);

    // Lower-case --method is signed as HTTP clients send it; the secret is the first of ADMISSION_SECRET.
    const printed = sign(
      { ADMISSION_SECRET: ' new-secret , old-secret' },
      '--method',
      'post',
      '--path',
      '/route?tenant=acme',
      '--nonce',
      nonce,
    );
    expect(printed).toMatchObject({ status: 0, stderr: '' });
    const header = printed.stdout.trimEnd();
    expect(header).toMatch(new RegExp(`^t=${time},n=${nonce},v1=[0-9a-f]{64}$`));
    const at = time * 1000;
    const request = { header, method: 'POST', pathWithQuery: '/route?tenant=acme' };
    expect(await verifier.verify({ ...request, pathWithQuery: '/route?tenant=evil' }, at)).toMatchObject({
      ok: false,
      code: 'admission_invalid',
    });
    expect(await verifier.verify({ ...request, method: 'GET' }, at)).toMatchObject({ code: 'admission_invalid' });
    expect(await verifier.verify(request, at)).toEqual({ ok: true, nonce, timestamp: time, keyIndex: 1 });

    // --secret wins over the environment; without --nonce each run draws a fresh one; --curl uses ADMISSION_HEADER.
    const curl = sign(
      { ADMISSION_SECRET: 'new-secret', ADMISSION_HEADER: 'X-Proof' },
      '--method',
      'GET',
      '--path',
      '/health',
      '--secret',
      'old-secret',
      '--curl',
    );
    expect(curl).toMatchObject({ status: 0, stderr: '' });
    const value = /^-H 'X-Proof: (t=\d+,n=[\w-]+,v1=[0-9a-f]{64})'\n$/.exec(curl.stdout)?.[1];
    expect(value).toBeDefined();
    expect(await verifier.verify({ header: value, method: 'GET', pathWithQuery: '/health' }, at)).toMatchObject({
      ok: true,
      keyIndex: 0,
    });

    const refused = sign({}, '--method', 'GET', '--path', 'health', '--nonce', 'short');
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/^shieldx admission: --path is required .*; no secret: .*\n$/);
  });

  it('verifies a real ledger with the library, and names the first bad seq once a line is changed', async () => {
    const secret = 'cli-e2e-ledger-secret';
    const path = join(dir, 'ledger', 'ledger.jsonl');
    const writer = await LedgerWriter.open({
      path,
      service: 'orchestrator',
      signingKey: parseSigningKey(`hmac:${secret}`),
      checkpointEvery: 5,
    });
    for (let i = 0; i < 12; i++) writer.enqueue({ type: 'policy.deny', corrId: `c${i}`, data: { i } });
    await writer.close();
    const secretFile = join(dir, 'ledger.secret');
    writeFileSync(secretFile, `${secret}\n`);
    const expected = await verifyLedger(path, { key: { kind: 'hmac', secret }, checkpointEvery: 5 });
    expect(expected.ok).toBe(true);

    const text = shieldxIn(ROOT, [
      'ledger',
      'verify',
      path,
      '--hmac-secret-file',
      secretFile,
      '--checkpoint-every',
      '5',
    ]);
    expect(text).toMatchObject({ status: 0, stderr: '' });
    expect(text.stdout).toMatch(/^ledger OK: \d+ entries, seq 1\.\.\d+, in 1 file\(s\)\n/);
    expect(text.stdout).toContain('signatures verified');
    const json = shieldxIn(ROOT, [
      'ledger',
      'verify',
      path,
      '--hmac-secret',
      secret,
      '--json',
      '--checkpoint-every',
      '5',
    ]);
    expect(json.status).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(JSON.parse(JSON.stringify(expected)));

    const wrongKey = shieldxIn(ROOT, [
      'ledger',
      'verify',
      path,
      '--hmac-secret',
      'not-the-secret-of-this-ledger',
      '--json',
    ]);
    expect(wrongKey.status).toBe(1);
    expect(JSON.parse(wrongKey.stdout)).toMatchObject({ ok: false, reason: 'bad_signature' });

    // A directory holding one ledger is verified like its active file.
    expect(shieldxIn(ROOT, ['ledger', 'verify', join(dir, 'ledger'), '--no-head']).stdout).toMatch(/^ledger OK: /);

    const lines = readFileSync(path, 'utf8').split('\n');
    const index = lines.findIndex((line, i) => i > 5 && line.includes('"type":"policy.deny"'));
    const { seq } = JSON.parse(lines[index]) as { seq: number };
    lines[index] = lines[index].replace(/"corrId":"c\d+"/, '"corrId":"cX"');
    writeFileSync(path, lines.join('\n'));
    const broken = shieldxIn(ROOT, ['ledger', 'verify', path, '--hmac-secret-file', secretFile]);
    expect(broken.status).toBe(1);
    expect(broken.stdout).toContain(`ledger BROKEN at seq ${seq}: hash_mismatch\n  at ${path}, line ${index + 1}\n`);

    const noKeyFile = shieldxIn(ROOT, ['ledger', 'verify', path, '--hmac-secret-file', join(dir, 'missing')]);
    expect(noKeyFile.status).toBe(2);
    expect(noKeyFile.stderr).toMatch(/^shieldx ledger: ENOENT.*\n$/);
  });

  it('builds itself on a fresh clone and again only when a source changes', () => {
    // A tree as a clone has it after `npm ci`: the sources and node_modules, no dist/.
    const clone = join(dir, 'clone');
    for (const path of ['package.json', 'tsconfig.base.json', 'packages/cli', 'apps/cli', 'libs']) {
      cpSync(join(ROOT, path), join(clone, path), { recursive: true });
    }
    symlinkSync(join(ROOT, 'node_modules'), join(clone, 'node_modules'));
    const stamp = join(clone, 'dist/cli/.sources');

    const first = shieldxIn(clone, ['admission', 'sign', '--method', 'GET', '--path', '/', '--secret', 's']);
    expect(first).toMatchObject({ status: 0, stderr: '' });
    expect(first.stdout).toMatch(/^t=\d+,n=[\w-]+,v1=[0-9a-f]{64}\n$/);
    const built = statSync(stamp);

    expect(shieldxIn(clone, ['--version'])).toMatchObject({ status: 0, stderr: '' });
    expect(statSync(stamp).ino).toBe(built.ino);

    const source = join(clone, 'libs/security/src/admission.ts');
    const later = new Date(statSync(source).mtimeMs + 60_000);
    utimesSync(source, later, later);
    expect(shieldxIn(clone, ['--version'])).toMatchObject({ status: 0, stderr: '' });
    expect(statSync(stamp).ino).not.toBe(built.ino);
    // The previous build was replaced whole; nothing of it or of the build directory is left beside dist/cli.
    expect(readdirSync(join(clone, 'dist'))).toEqual(['cli']);

    // A runtime image ships dist/cli without the sources: the build there is used as it is.
    rmSync(join(clone, 'apps/cli'), { recursive: true });
    expect(shieldxIn(clone, ['--version'])).toMatchObject({ status: 0, stdout: `shieldx ${VERSION}\n`, stderr: '' });
    rmSync(join(clone, 'dist'), { recursive: true });
    const missing = shieldxIn(clone, ['--version']);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/^shieldx: cannot build the CLI: the CLI is not built .*\n$/);
  });
});
