import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MODULE = fileURLToPath(new URL('./v8-tiering.ts', import.meta.url));

/** Lines of V8's --trace-opt output naming Maglev, in a process that loads the module and then runs hot code. */
function maglevLines(nodeFlags: string[]): { maglev: number; turbofan: number } {
  const hot =
    `await import(${JSON.stringify(MODULE)});` +
    'function f(a) { return { x: a, y: a + 1 }; }' +
    'function g(a) { let s = 0; for (let i = 0; i < 50; i++) s += f(a + i).y; return s; }' +
    'let s = 0; for (let i = 0; i < 200000; i++) s += g(i); if (s < 0) console.log(s);';
  const run = spawnSync(process.execPath, [...nodeFlags, '--trace-opt', '--input-type=module', '-e', hot], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect(run.status).toBe(0);
  const lines = run.stdout.split('\n');
  return {
    maglev: lines.filter((line) => /maglev/i.test(line)).length,
    turbofan: lines.filter((line) => /turbofan/i.test(line)).length,
  };
}

describe('v8-tiering', () => {
  it('turns Maglev off: hot code goes to TurboFan only', () => {
    const { maglev, turbofan } = maglevLines([]);
    expect(maglev).toBe(0);
    expect(turbofan).toBeGreaterThan(0);
  });

  it('leaves Maglev on when node was started with --maglev', () => {
    expect(maglevLines(['--maglev']).maglev).toBeGreaterThan(0);
  });
});
