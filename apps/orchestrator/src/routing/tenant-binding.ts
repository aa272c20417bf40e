import type { ClientIdentity } from '@shieldx/security';
import type { OrchestratorConfig, TenantSource } from '../config/config';
import { GatewayError } from '../errors/errors';

/** 401: the tenant is bound to an identity (ORCH_TENANT_FROM) and the request proved none of that kind. */
export class TenantIdentityRequiredError extends GatewayError {
  readonly status = 401;
  readonly code = 'tenant_identity_required';
  constructor(source: TenantSource) {
    super(`the tenant is bound to the caller's ${SOURCE_NAMES[source]}, and this request presented none`);
  }
}

/** 403: the tenant named by the caller is not the one its identity is bound to, or is not a known tenant. */
export class TenantRefusedError extends GatewayError {
  readonly status = 403;
  constructor(
    readonly code: 'tenant_mismatch' | 'tenant_unbound' | 'unknown_tenant',
    message: string,
  ) {
    super(message);
  }
}

const SOURCE_NAMES: Readonly<Record<TenantSource, string>> = {
  claimed: 'claim',
  san: 'client-certificate SAN',
  admission: 'admission key',
  dpop: 'DPoP key',
};

/** What a request has proved about its caller, as far as tenants are concerned. */
export interface ProvenCaller {
  readonly identity: ClientIdentity;
  readonly dpopJkt: string | null | undefined;
  readonly admissionKeyId: string | undefined;
}

/**
 * Which tenant a request is served as (ORCH_TENANT_FROM, ORCH_TENANT_BINDINGS, ORCH_TENANTS). With `claimed` (the
 * default) it is what the caller writes, so per-tenant limits hold only for callers that tell the truth; with `san`,
 * `admission` or `dpop` it is the tenant bound to that proven identity, and a caller naming another tenant is refused.
 * With a list of known tenants, any other tenant is refused.
 */
export class TenantBinding {
  /** False when every claimed tenant is served as written (the default): nothing to check per request. */
  readonly active: boolean;
  private readonly from: TenantSource;
  private readonly bindings: ReadonlyMap<string, string>;
  private readonly known: ReadonlySet<string> | undefined;

  constructor(config: OrchestratorConfig['tenant']) {
    this.from = config.from;
    this.bindings = config.bindings;
    this.known = config.known;
    this.active = config.from !== 'claimed' || config.known !== undefined;
  }

  /** The tenant to serve `claimed` as; throws {@link TenantIdentityRequiredError} or {@link TenantRefusedError}. */
  resolve(claimed: string, caller: ProvenCaller): string {
    if (this.from !== 'claimed') {
      const bound = this.bound(caller);
      if (bound !== claimed) {
        throw new TenantRefusedError(
          'tenant_mismatch',
          `this caller's ${SOURCE_NAMES[this.from]} is bound to another tenant than '${claimed}'`,
        );
      }
    }
    if (this.known !== undefined && !this.known.has(claimed)) {
      throw new TenantRefusedError('unknown_tenant', `'${claimed}' is not a tenant served here (ORCH_TENANTS)`);
    }
    return claimed;
  }

  private bound(caller: ProvenCaller): string {
    let identities: readonly string[];
    switch (this.from) {
      case 'san':
        // URI SANs, then DNS SANs; a DNS SAN never matches a URI-shaped binding (`spiffe://…` written as a DNS name).
        identities = [...caller.identity.uris, ...caller.identity.dns.filter((name) => !name.includes(':'))];
        break;
      case 'dpop':
        identities = caller.dpopJkt ? [caller.dpopJkt] : [];
        break;
      case 'admission':
        identities = caller.admissionKeyId === undefined ? [] : [caller.admissionKeyId];
        break;
      case 'claimed':
        throw new Error('a claimed tenant is bound to no identity');
      default: {
        const never: never = this.from;
        throw new Error(`unknown tenant source ${String(never)}`);
      }
    }
    if (identities.length === 0) throw new TenantIdentityRequiredError(this.from);
    for (const identity of identities) {
      const tenant = this.bindings.get(identity);
      if (tenant !== undefined) return tenant;
    }
    throw new TenantRefusedError(
      'tenant_unbound',
      `this caller's ${SOURCE_NAMES[this.from]} is bound to no tenant (ORCH_TENANT_BINDINGS)`,
    );
  }
}
