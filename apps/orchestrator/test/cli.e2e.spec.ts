import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../../../scripts/cli.mjs', import.meta.url));
const PACKAGE = fileURLToPath(new URL('../../../package.json', import.meta.url));

function shieldx(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    timeout: 20_000,
    // No configuration at all: a command that started the gateway would fail (no TLS, no ORCH_ALLOW_INSECURE).
    env: { PATH: process.env.PATH },
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('shieldx command line', () => {
  it('prints the usage and the version, exit 0', () => {
    for (const help of ['--help', '-h', 'help']) {
      const run = shieldx(help);
      expect(run.status, help).toBe(0);
      expect(run.stdout).toMatch(/^usage: shieldx <command>/);
    }
    const { version } = JSON.parse(readFileSync(PACKAGE, 'utf8')) as { version: string };
    expect(shieldx('--version')).toMatchObject({ status: 0, stdout: `shieldx ${version}\n`, stderr: '' });
  });

  it("prints each command's usage on --help and does nothing else", () => {
    for (const command of ['serve', 'policy', 'ui', 'certs', 'admission', 'ledger']) {
      const run = shieldx(command, '--help');
      expect(run.status, command).toBe(0);
      expect(run.stdout, command).toMatch(new RegExp(`usage: shieldx ${command}`));
      expect(run.stderr, command).toBe('');
    }
    // serve -h neither builds nor starts the gateway: either would write to stderr, or fail without configuration.
    expect(shieldx('serve', '-h')).toMatchObject({ status: 0, stderr: '' });
  });

  it('refuses an unknown flag, a flag without its value and an unknown command with one line, exit 2', () => {
    for (const args of [
      ['serve', '--bogus'],
      ['ledger', 'verify', 'x.jsonl', '--nope'],
      ['admission', 'sign', '--method'],
      ['certs', 'dev', '/tmp/x', '--days'],
      ['frob'],
    ]) {
      const run = shieldx(...args);
      expect(run.status, args.join(' ')).toBe(2);
      expect(run.stdout, args.join(' ')).toBe('');
      expect(run.stderr.trimEnd().split('\n'), args.join(' ')).toHaveLength(1);
    }
  });
});
