import { describe, expect, it } from 'vitest';
import type { OrchestratorConfig } from '../config/config';
import {
  TenantBinding,
  type ProvenCaller,
  type TenantIdentityRequiredError,
  type TenantRefusedError,
} from './tenant-binding';

const ANONYMOUS: ProvenCaller = { identity: { uris: [], dns: [] }, dpopJkt: null, admissionKeyId: undefined };
const config = (tenant: Partial<OrchestratorConfig['tenant']>): OrchestratorConfig['tenant'] => ({
  from: 'claimed',
  bindings: new Map(),
  ...tenant,
});
const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (error) {
    return (error as TenantRefusedError | TenantIdentityRequiredError).code;
  }
};

describe(TenantBinding.name, () => {
  it('serves a claimed tenant as written by default, and checks nothing per request', () => {
    const binding = new TenantBinding(config({}));
    expect(binding.active).toBe(false);
    expect(binding.resolve('anything', ANONYMOUS)).toBe('anything');
  });

  it('refuses a claimed tenant that is not known', () => {
    const binding = new TenantBinding(config({ known: new Set(['acme']) }));
    expect(binding.active).toBe(true);
    expect(binding.resolve('acme', ANONYMOUS)).toBe('acme');
    expect(code(() => binding.resolve('ACME', ANONYMOUS))).toBe('unknown_tenant');
  });

  it('binds to a URI SAN, never to a DNS SAN spelled like one', () => {
    const binding = new TenantBinding(config({ from: 'san', bindings: new Map([['spiffe://td/sa/acme', 'acme']]) }));
    const uri: ProvenCaller = { ...ANONYMOUS, identity: { uris: ['spiffe://td/sa/acme'], dns: [] } };
    expect(binding.resolve('acme', uri)).toBe('acme');
    expect(code(() => binding.resolve('globex', uri))).toBe('tenant_mismatch');
    // A DNS SAN holding a URI is no identity at all here.
    const dns: ProvenCaller = { ...ANONYMOUS, identity: { uris: [], dns: ['spiffe://td/sa/acme'] } };
    expect(code(() => binding.resolve('acme', dns))).toBe('tenant_identity_required');
    expect(code(() => binding.resolve('acme', ANONYMOUS))).toBe('tenant_identity_required');
  });

  it('binds to a DPoP thumbprint or an admission key id', () => {
    const dpop = new TenantBinding(config({ from: 'dpop', bindings: new Map([['jkt-1', 'acme']]) }));
    expect(dpop.resolve('acme', { ...ANONYMOUS, dpopJkt: 'jkt-1' })).toBe('acme');
    expect(code(() => dpop.resolve('acme', { ...ANONYMOUS, dpopJkt: 'jkt-2' }))).toBe('tenant_unbound');
    const admission = new TenantBinding(config({ from: 'admission', bindings: new Map([['partner', 'globex']]) }));
    expect(admission.resolve('globex', { ...ANONYMOUS, admissionKeyId: 'partner' })).toBe('globex');
    expect(code(() => admission.resolve('globex', ANONYMOUS))).toBe('tenant_identity_required');
  });
});
