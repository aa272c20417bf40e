import { describe, expect, it } from 'vitest';
import { safeReturnTo } from './return-to';

describe(safeReturnTo.name, () => {
  it('keeps a path of the UI with its query', () => {
    expect(safeReturnTo('/pools')).toBe('/pools');
    expect(safeReturnTo('/audit?type=pool.changed&limit=5')).toBe('/audit?type=pool.changed&limit=5');
  });

  it('sends everything that could leave the UI, or loop, to /', () => {
    for (const attack of [
      '//evil.example',
      '/\\evil.example',
      '\\/evil.example',
      'https:evil.example',
      'https://evil.example/',
      'javascript:alert(1)',
      '/%2F%2Fevil.example',
      '/%2f/evil.example',
      '/%5Cevil.example',
      '/\t/evil.example',
      '/\n/evil.example',
      '/ /evil.example',
      '/%0a/evil.example',
      '/auth/login?returnTo=//evil',
      '/api/admin/ledger/export',
      '/%E0%A4%A',
      'pools',
      '',
      null,
      '/' + 'a'.repeat(3000),
      // Dot segments that collapse into another site, or into the sign-in and API routes.
      '/.//evil.example/x',
      '/./..//evil.example',
      '/a/..//evil.example',
      '/%2e//evil.example',
      '/x/../auth/logout',
      '/./api/admin/ledger/export',
      '/%61uth/logout',
      '/AUTH/login',
    ]) {
      expect(safeReturnTo(attack), String(attack)).toBe('/');
    }
  });

  it('resolves dot segments that stay inside the UI', () => {
    expect(safeReturnTo('/audit/../pools?x=1')).toBe('/pools?x=1');
    expect(safeReturnTo('/./breakers')).toBe('/breakers');
  });

  it('returns only what it would accept again: its output is safe by itself', () => {
    const pieces = ['/', '.', '..', '//', '%2e', '%2F', '\\', 'evil.example', 'auth', 'api', '?', '#', 'x'];
    let seed = 7;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 20_000; i++) {
      let input = '/';
      const length = 1 + Math.floor(random() * 8);
      for (let j = 0; j < length; j++) input += pieces[Math.floor(random() * pieces.length)];
      const output = safeReturnTo(input);
      expect(output.startsWith('//') || output.includes('\\'), `${input} -> ${output}`).toBe(false);
      expect(new URL(output, 'https://ui.example').origin, `${input} -> ${output}`).toBe('https://ui.example');
      expect(safeReturnTo(output), `${input} -> ${output}`).toBe(output);
    }
  });
});
