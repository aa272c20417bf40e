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
    ]) {
      expect(safeReturnTo(attack), String(attack)).toBe('/');
    }
  });
});
