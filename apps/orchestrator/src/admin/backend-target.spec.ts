import { describe, expect, it } from 'vitest';
import { parseBackendUrl } from '../config/parse';
import {
  checkBackendTarget,
  classifyAddress,
  classifyHostname,
  TargetRefusedError,
  type ResolveHost,
  type TargetRules,
} from './backend-target';

const PROD: TargetRules = { allowPrivate: false, allowLoopback: false };
const DEV: TargetRules = { allowPrivate: false, allowLoopback: true };
const ALLOW: TargetRules = { allowPrivate: true, allowLoopback: false };

/** A resolver over a fixed table: tests never ask a real DNS server. */
function table(entries: Record<string, readonly string[]>): ResolveHost {
  return (hostname) => {
    const found = entries[hostname];
    if (found === undefined) return Promise.reject(Object.assign(new Error('not found'), { code: 'ENOTFOUND' }));
    return Promise.resolve(found);
  };
}

async function refusal(raw: string, rules: TargetRules, resolve: ResolveHost = table({})): Promise<string | null> {
  try {
    await checkBackendTarget(parseBackendUrl(raw), rules, resolve);
    return null;
  } catch (error) {
    if (error instanceof TargetRefusedError) return error.targetClass;
    throw error;
  }
}

describe(classifyAddress.name, () => {
  it('knows metadata, link-local, unspecified, multicast, reserved, loopback and private ranges', () => {
    expect(classifyAddress('169.254.169.254')).toBe('metadata');
    expect(classifyAddress('100.100.100.200')).toBe('metadata');
    expect(classifyAddress('fd00:ec2::254')).toBe('metadata');
    expect(classifyAddress('fd00:ec2:0:0::254')).toBe('metadata');
    expect(classifyAddress('fd20:ce::254')).toBe('metadata');
    expect(classifyAddress('FD20:00CE:0:0:0:0:0:0254')).toBe('metadata');
    expect(classifyAddress('fd20:ce::253')).toBe('private');
    expect(classifyAddress('169.254.10.1')).toBe('link-local');
    expect(classifyAddress('fe80::1')).toBe('link-local');
    expect(classifyAddress('febf::1')).toBe('link-local');
    expect(classifyAddress('0.0.0.0')).toBe('unspecified');
    expect(classifyAddress('0.1.2.3')).toBe('unspecified');
    expect(classifyAddress('::')).toBe('unspecified');
    expect(classifyAddress('224.0.0.1')).toBe('multicast');
    expect(classifyAddress('239.255.255.250')).toBe('multicast');
    expect(classifyAddress('ff02::1')).toBe('multicast');
    expect(classifyAddress('255.255.255.255')).toBe('reserved');
    expect(classifyAddress('127.0.0.1')).toBe('loopback');
    expect(classifyAddress('127.8.9.10')).toBe('loopback');
    expect(classifyAddress('::1')).toBe('loopback');
    expect(classifyAddress('10.1.2.3')).toBe('private');
    expect(classifyAddress('172.31.0.1')).toBe('private');
    expect(classifyAddress('192.168.1.1')).toBe('private');
    expect(classifyAddress('100.64.0.1')).toBe('private');
    expect(classifyAddress('fd12:3456::1')).toBe('private');
    expect(classifyAddress('172.32.0.1')).toBe('public');
    expect(classifyAddress('8.8.8.8')).toBe('public');
    expect(classifyAddress('2001:db8::1')).toBe('public');
  });

  it('sees IPv4 inside IPv4-mapped, IPv4-compatible and NAT64 IPv6 addresses', () => {
    expect(classifyAddress('::ffff:169.254.169.254')).toBe('metadata');
    expect(classifyAddress('::ffff:a9fe:a9fe')).toBe('metadata');
    expect(classifyAddress('::ffff:127.0.0.1')).toBe('loopback');
    expect(classifyAddress('::169.254.1.1')).toBe('link-local');
    expect(classifyAddress('64:ff9b::a9fe:a9fe')).toBe('metadata');
    expect(classifyAddress('64:ff9b::808:808')).toBe('public');
  });

  it('sees IPv4 inside IPv4-translated, 6to4 and Teredo IPv6 addresses, judged by the same rules', () => {
    // IPv4-translated ::ffff:0:a.b.c.d (SIIT).
    expect(classifyAddress('::ffff:0:7f00:1')).toBe('loopback');
    expect(classifyAddress('::ffff:0:169.254.169.254')).toBe('metadata');
    expect(classifyAddress('::ffff:0:0:0')).toBe('unspecified');
    expect(classifyAddress('::ffff:0:a00:5')).toBe('private');
    expect(classifyAddress('::ffff:0:808:808')).toBe('public');
    // 6to4 2002:WWXX:YYZZ::/48: the IPv4 address is in the second and third groups, whatever follows.
    expect(classifyAddress('2002:7f00:1::')).toBe('loopback');
    expect(classifyAddress('2002:7f00:1:0:0:0:0:1')).toBe('loopback');
    expect(classifyAddress('2002:a9fe:a9fe::1')).toBe('metadata');
    expect(classifyAddress('2002:a9fe:101::')).toBe('link-local');
    expect(classifyAddress('2002:e000:1::')).toBe('multicast');
    expect(classifyAddress('2002:ffff:ffff::')).toBe('reserved');
    expect(classifyAddress('2002:c0a8:101::')).toBe('private');
    expect(classifyAddress('2002:808:808::1')).toBe('public');
    // Teredo 2001:0::/32: the client's address, inverted, in the last two groups (80ff:fffe is 127.0.0.1).
    expect(classifyAddress('2001:0:4136:e378:8000:63bf:80ff:fffe')).toBe('loopback');
    expect(classifyAddress('2001:0:4136:e378:8000:63bf:5601:5601')).toBe('metadata');
    expect(classifyAddress('2001:0:4136:e378:8000:63bf:f7f7:f7f7')).toBe('public');
    // Near misses are themselves: another prefix, a mapped-like address with a non-zero sixth group.
    expect(classifyAddress('2003:7f00:1::')).toBe('public');
    expect(classifyAddress('2001:1:4136:e378:8000:63bf:80ff:fffe')).toBe('public');
    expect(classifyAddress('::ffff:1:7f00:1')).toBe('public');
  });
});

describe(classifyHostname.name, () => {
  it('classifies URL hosts, including the forms new URL() normalises', () => {
    const host = (raw: string) => classifyHostname(new URL(raw).hostname);
    expect(host('http://2852039166/')).toBe('metadata');
    expect(host('http://0xa9.0xfe.0xa9.0xfe/')).toBe('metadata');
    expect(host('http://[::ffff:169.254.169.254]/')).toBe('metadata');
    expect(host('http://METADATA.google.internal./')).toBe('metadata');
    expect(host('http://metadata/')).toBe('metadata');
    expect(host('http://0/')).toBe('unspecified');
    expect(host('http://127.1/')).toBe('loopback');
    expect(host('http://localhost:9/')).toBe('loopback');
    expect(host('http://api.localhost/')).toBe('loopback');
    expect(host('http://api.internal.example/')).toBeUndefined();
  });
});

describe(checkBackendTarget.name, () => {
  it('refuses metadata, link-local, unspecified and multicast targets, with or without dev mode', async () => {
    for (const rules of [PROD, DEV]) {
      expect(await refusal('http://169.254.169.254/latest', rules)).toBe('metadata');
      expect(await refusal('http://metadata.google.internal', rules)).toBe('metadata');
      expect(await refusal('http://[fd00:ec2::254]', rules)).toBe('metadata');
      expect(await refusal('http://[fd20:ce::254]', rules)).toBe('metadata');
      expect(await refusal('http://[::ffff:0:a9fe:a9fe]', rules)).toBe('metadata');
      expect(await refusal('http://[2002:a9fe:a9fe::]', rules)).toBe('metadata');
      expect(await refusal('http://169.254.1.1:8080', rules)).toBe('link-local');
      expect(await refusal('http://[fe80::1]:80', rules)).toBe('link-local');
      expect(await refusal('http://0.0.0.0:80', rules)).toBe('unspecified');
      expect(await refusal('http://[::]:80', rules)).toBe('unspecified');
      expect(await refusal('http://224.0.0.1', rules)).toBe('multicast');
    }
  });

  it('allows loopback only in dev mode, and private and public addresses always', async () => {
    expect(await refusal('http://127.0.0.1:9', PROD)).toBe('loopback');
    expect(await refusal('localhost:9', PROD)).toBe('loopback');
    expect(await refusal('http://[::1]:9', PROD)).toBe('loopback');
    expect(await refusal('http://[::ffff:0:7f00:1]:9', PROD)).toBe('loopback');
    expect(await refusal('http://[2002:7f00:1::]:9', PROD)).toBe('loopback');
    expect(await refusal('http://127.0.0.1:9', DEV)).toBeNull();
    expect(await refusal('localhost:9', DEV)).toBeNull();
    expect(await refusal('http://10.0.0.5:8080', PROD)).toBeNull();
    expect(await refusal('https://[fd12::5]:8443', PROD)).toBeNull();
  });

  it('resolves host names and refuses one when any address is refused or when it does not resolve', async () => {
    const dns = table({
      'api.svc.example': ['10.0.0.7', 'fd12::7'],
      'rebind.example': ['10.0.0.8', '169.254.169.254'],
      'sneaky.example': ['::ffff:127.0.0.1'],
      'tunnel.example': ['10.0.0.9', '2002:a9fe:a9fe::1'],
    });
    expect(await refusal('http://api.svc.example:8080', PROD, dns)).toBeNull();
    expect(await refusal('http://rebind.example', PROD, dns)).toBe('metadata');
    expect(await refusal('http://sneaky.example', PROD, dns)).toBe('loopback');
    expect(await refusal('http://sneaky.example', DEV, dns)).toBeNull();
    expect(await refusal('http://tunnel.example', DEV, dns)).toBe('metadata');
    expect(await refusal('http://gone.example', PROD, dns)).toBe('unresolvable');
    await expect(checkBackendTarget('http://gone.example', PROD, dns)).rejects.toThrow(
      /does not resolve \(ENOTFOUND\)/,
    );
  });

  it('allows everything, without resolving, when ORCH_ADMIN_ALLOW_PRIVATE is set', async () => {
    const never: ResolveHost = () => Promise.reject(new Error('must not resolve'));
    expect(await refusal('http://169.254.169.254', ALLOW, never)).toBeNull();
    expect(await refusal('http://127.0.0.1:9', ALLOW, never)).toBeNull();
    expect(await refusal('http://anything.example', ALLOW, never)).toBeNull();
  });

  it('names the URL and the way out in its message', async () => {
    await expect(checkBackendTarget('http://169.254.169.254', PROD)).rejects.toThrow(
      "'http://169.254.169.254' is a cloud instance-metadata endpoint; set ORCH_ADMIN_ALLOW_PRIVATE=1 to allow it",
    );
  });
});
