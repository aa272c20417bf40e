import { describe, expect, it } from 'vitest';
import { restOfProxyPath } from './proxy.service';

describe(restOfProxyPath.name, () => {
  it('is what follows /proxy/<service>, query included, as sent', () => {
    expect(restOfProxyPath('/proxy/api/v1/items?page=2')).toBe('/v1/items?page=2');
    expect(restOfProxyPath('/proxy/api')).toBe('');
    expect(restOfProxyPath('/proxy/api?x=1')).toBe('?x=1');
    expect(restOfProxyPath('/proxy/api/')).toBe('/');
    expect(restOfProxyPath('/proxy/api/a%2Fb')).toBe('/a%2Fb');
  });

  it('skips the service segment as sent, encoded or not', () => {
    expect(restOfProxyPath('/proxy/%61pi/v1/x')).toBe('/v1/x');
    expect(restOfProxyPath('/%70roxy/api/v1/x')).toBe('/v1/x');
    expect(restOfProxyPath('/%70%72oxy/api')).toBe('');
  });

  it('reads an absolute-form target from its path', () => {
    expect(restOfProxyPath('http://gw.example:8080/proxy/api/v1/x?q=1')).toBe('/v1/x?q=1');
    expect(restOfProxyPath('http://gw.example')).toBe('');
  });
});
