import 'reflect-metadata';
import { mulberry32 } from '@shieldx/lb';
import { validateSync } from 'class-validator';
import { describe, expect, it } from 'vitest';
import { RouteRequestDto } from '../routing/route-request.dto';
import { CompiledValidator } from './compiled-validator';
import { isSafePath } from './safe-path';

const VALUES: Record<string, unknown[]> = {
  service: ['api', 'search_2', 'API', 'a'.repeat(64), 'a'.repeat(65), '', 'a b', 7, null, ['api']],
  tenant: ['t1', 'Acme.Corp-1_x', 'x'.repeat(128), 'x'.repeat(129), 'bad/tenant', '', true, {}],
  scope: ['read', 'orders:write', 'Read', 's'.repeat(65), 'a b', 0],
  path: [
    '/',
    '/update',
    '/system/@me',
    '/a/b?c=d',
    'relative',
    '/../etc',
    '/a/%2e%2e/b',
    '/a/%252e%252e/b',
    '/a\\..\\b',
    '/x\u0000',
    '/' + 'p'.repeat(2048),
    '/%zz',
    1,
  ],
  hashKey: [undefined, null, 'user-1', '', 'k'.repeat(256), 'k'.repeat(257), 5],
  algo: [undefined, null, 'p2c', 'rendezvous', 'random', 3],
  candidates: [
    undefined,
    null,
    ['http://a:1'],
    ['https://b.internal:8443/x'],
    [],
    ['ftp://a'],
    ['not a url'],
    'http://a:1',
    [1],
    Array(33).fill('http://a:1'),
  ],
};

function stockVerdict(body: Record<string, unknown>): boolean {
  const instance = Object.assign(new RouteRequestDto(), body);
  return validateSync(instance, { whitelist: true, forbidNonWhitelisted: true }).length === 0;
}

describe(CompiledValidator.name, () => {
  const validator = new CompiledValidator(RouteRequestDto);

  it('gives the stock class-validator verdict on a corpus of 5000 generated bodies', () => {
    // Seeded, so the corpus is the same on every run.
    const random = mulberry32(42);
    const pick = <T>(list: T[]): T => list[Math.floor(random() * list.length)];
    let valid = 0;
    for (let i = 0; i < 5000; i++) {
      const body: Record<string, unknown> = {};
      for (const [key, values] of Object.entries(VALUES)) {
        // Mostly good values so that both verdicts are well represented.
        const value = random() < 0.8 ? (values[0] ?? values[1]) : pick(values);
        if (value !== undefined || random() < 0.1) body[key] = value;
      }
      if (random() < 0.05) body['extra'] = 'field';
      const expected = stockVerdict(body);
      const actual = validator.check(body);
      expect(actual.ok, JSON.stringify(body)).toBe(expected);
      if (expected) valid++;
    }
    expect(valid).toBeGreaterThan(500);
    expect(valid).toBeLessThan(4500);
  });

  it('returns the body itself when valid, and the stock messages when not', () => {
    const good = { service: 'api', tenant: 't1', scope: 'read', path: '/x' };
    const result = validator.check(good);
    expect(result).toEqual({ ok: true, value: good });
    if (result.ok) expect(result.value).toBe(good);
    const bad = validator.check({ ...good, service: 'API', surprise: 1 });
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.problems).toEqual(
        expect.arrayContaining([
          { field: 'surprise', messages: ['property surprise should not exist'] },
          { field: 'service', messages: [expect.stringContaining('service must match')] },
        ]),
      );
    }
  });

  it("names unknown keys in class-validator's words and order, also those that shadow Object.prototype", () => {
    const good = { service: 'api', tenant: 't1', scope: 'read', path: '/x' };
    // An ordinary unknown key: the same problems, in the same order, as class-validator itself.
    const body = { ...good, tenant: 'bad/tenant', surprise: 1 };
    const stock = validateSync(Object.assign(new RouteRequestDto(), body), {
      whitelist: true,
      forbidNonWhitelisted: true,
    }).map((error) => ({ field: error.property, messages: Object.values(error.constraints ?? {}) }));
    expect(validator.check(body)).toEqual({ ok: false, problems: stock });
    // Copied onto the instance, these hid the class or the own-property check from class-validator: an empty
    // message, or one naming no field.
    const names = [...Object.getOwnPropertyNames(Object.prototype).filter((name) => name !== '__proto__'), 'then'];
    for (const name of names) {
      const result = validator.check(JSON.parse(JSON.stringify({ ...good, [name]: 1 })) as unknown);
      expect(result, name).toEqual({
        ok: false,
        problems: [{ field: name, messages: [`property ${name} should not exist`] }],
      });
    }
  });

  it('refuses what is not a JSON object', () => {
    for (const body of [null, 'x', 3, [], [{ service: 'api' }]]) expect(validator.check(body).ok).toBe(false);
  });
});

describe(isSafePath.name, () => {
  it('lets ordinary paths through, keyword-free', () => {
    for (const path of [
      '/',
      '/update',
      '/system/@me',
      '/drop/table',
      '/a..b',
      '/.well-known/x',
      '/a%20b',
      '/select%2A',
    ])
      expect(isSafePath(path), path).toBe(true);
  });

  it('refuses traversal raw, encoded, double-encoded, with backslashes or path parameters, and control characters', () => {
    for (const path of [
      '/..',
      '/a/../b',
      '/a/..',
      '/%2e%2e/x',
      '/a/%2E%2E%2Fb',
      '/%252e%252e/x',
      '/%25252e%25252e/x',
      '/a\\..\\b',
      '/a%5c..%5cb',
      '/x%00',
      '/x\r\n',
      'x',
      '',
      '/%E0%A4%A',
      '/base/..;/secret',
      '/a;b',
      '/a%2fb',
    ])
      expect(isSafePath(path), path).toBe(false);
  });
});
