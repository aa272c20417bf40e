/**
 * Rules that involve several settings, checked once every setting is read. Each is also stated in the doc text of
 * the settings it concerns (settings/), so docs/configuration.md tells operators about it.
 */
import type { ReadContext } from './setting';
import { ALLOW_INSECURE, tlsFileCount } from './settings/listener';
import { REDIS_ADDR, REDIS_URL } from './settings/rate-limits';
import type { OrchestratorConfig } from './types';

/** Records a problem (through `ctx`) or a warning for every rule the configuration breaks. */
export function checkAcrossSettings(config: OrchestratorConfig, ctx: ReadContext, warn: (line: string) => void): void {
  const tlsFiles = tlsFileCount(ctx);
  if (tlsFiles !== 0 && tlsFiles !== 3) {
    ctx.problem('ORCH_TLS_CERT_FILE, ORCH_TLS_KEY_FILE, ORCH_TLS_CLIENT_CA_FILE: set all three or none');
  }
  if (tlsFiles === 0 && !config.listen.insecure) {
    ctx.problem(
      'ORCH_TLS_CERT_FILE/ORCH_TLS_KEY_FILE/ORCH_TLS_CLIENT_CA_FILE are unset: set them for TLS 1.3 with client certificates, ' +
        'or set ORCH_ALLOW_INSECURE=1 for plain HTTP (development only)',
    );
  }
  if (tlsFiles === 3 && ctx.get(ALLOW_INSECURE)) {
    warn('ORCH_ALLOW_INSECURE=1 is ignored: the TLS files are set, so the listener serves TLS 1.3 with mTLS');
  }
  if (tlsFiles === 0 && config.tls.allowedSanPrefixes.length > 0) {
    warn('ORCH_ALLOWED_CLIENT_SAN_PREFIXES has no effect without TLS (ORCH_TLS_* files)');
  }
  if (tlsFiles === 0 && config.admin.sans.length > 0) {
    warn('ORCH_ADMIN_SANS has no effect without TLS (ORCH_TLS_* files): no client certificate is verified');
  }
  if (config.admin.requireUser && config.admin.userKeys.length === 0) {
    ctx.problem('ORCH_ADMIN_REQUIRE_USER: needs ORCH_ADMIN_USER_KEYS (the keys that verify user assertions)');
  }
  if (config.rateLimit.ipPerMinuteDegraded > config.rateLimit.ipPerMinute) {
    ctx.problem('ORCH_IP_BURST_DEGRADED: must not exceed ORCH_IP_BURST');
  }
  if (config.admission.keyIds.length !== config.admission.secrets.length) {
    ctx.problem('ORCH_ADMISSION_KEY_IDS: name one key id per ADMISSION_SECRET entry, in the same order');
  }
  if (config.dpop.required && config.dpop.publicUrl === undefined) {
    ctx.problem(
      'ORCH_PUBLIC_URL: required with ORCH_DPOP_REQUIRED=1 — DPoP proofs name the URL they were made for (htu), and ' +
        'it is checked against this origin, never against the Host header a client sends',
    );
  }
  if (config.tenant.from === 'san' && tlsFiles === 0) {
    ctx.problem('ORCH_TENANT_FROM: san needs TLS with client certificates (ORCH_TLS_* files)');
  }
  if (config.tenant.from === 'admission' && config.admission.secrets.length === 0) {
    ctx.problem('ORCH_TENANT_FROM: admission needs ADMISSION_SECRET');
  }
  if (config.tenant.known !== undefined) {
    for (const [identity, tenant] of config.tenant.bindings) {
      if (!config.tenant.known.has(tenant))
        ctx.problem(`ORCH_TENANT_BINDINGS: '${identity}' is bound to '${tenant}', which ORCH_TENANTS does not list`);
    }
  }
  if (config.health.timeoutMs > config.health.everyMs) {
    ctx.problem('ORCH_HEALTH_TIMEOUT: must not exceed ORCH_HEALTH_EVERY');
  }
  if (config.redis.cluster !== undefined && (ctx.raw(REDIS_ADDR) !== undefined || ctx.raw(REDIS_URL) !== undefined)) {
    ctx.problem('REDIS_CLUSTER: set either REDIS_CLUSTER (a Redis Cluster) or REDIS_ADDR/REDIS_URL, not both');
  }
}
