import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { Inject, Injectable } from '@nestjs/common';
import { certificateIdentity, EMPTY_IDENTITY, SanAllowlist, type ClientIdentity } from '@shieldx/security';
import type { OrchestratorConfig } from '../config/config';
import { ORCH_CONFIG } from '../config/config.module';
import { SecurityEvents } from '../events/security-events';

/** The verdict on one connection's client certificate. */
export type PeerIdentity =
  | { readonly admitted: true; readonly identity: ClientIdentity }
  | { readonly admitted: false; readonly identity: ClientIdentity; readonly reason: string };

const PLAIN: PeerIdentity = Object.freeze({ admitted: true, identity: EMPTY_IDENTITY });

/**
 * The client's verified identity, from the certificate the TLS handshake verified against the client CA: its URI
 * and DNS SANs (never the CN), read from the certificate's DER (so a SAN keeps its kind: a DNS SAN holding
 * `spiffe://…` is no URI), each kind matched only against allowlist entries of that kind
 * (ORCH_ALLOWED_CLIENT_SAN_PREFIXES). Computed once per connection and
 * cached on the socket (a WeakMap, so it goes with the connection); a refusal emits one `auth.failed` security event
 * per connection with the presented SANs. Plain HTTP (insecure dev mode) gives the empty identity.
 */
@Injectable()
export class ClientIdentityService {
  private readonly byConnection = new WeakMap<TLSSocket, PeerIdentity>();
  private readonly allowlist: SanAllowlist;
  /** True when TLS is configured: requests then carry a verified identity. */
  readonly enabled: boolean;

  constructor(
    @Inject(ORCH_CONFIG) config: OrchestratorConfig,
    private readonly events: SecurityEvents,
  ) {
    this.allowlist = new SanAllowlist(config.tls.allowedSanPrefixes);
    this.enabled = config.tls.certFile !== undefined;
  }

  /** The verdict for the connection a request arrived on; `corrId` labels the security event of a refusal. */
  of(socket: Socket, corrId: string): PeerIdentity {
    if (!(socket instanceof TLSSocket)) return PLAIN;
    let peer = this.byConnection.get(socket);
    if (peer === undefined) {
      peer = this.judge(socket, corrId);
      this.byConnection.set(socket, peer);
    }
    return peer;
  }

  private judge(socket: TLSSocket, corrId: string): PeerIdentity {
    const cert = socket.getPeerX509Certificate();
    let verdict: PeerIdentity;
    let presented: readonly string[] = [];
    if (!socket.authorized || cert === undefined) {
      verdict = { admitted: false, identity: EMPTY_IDENTITY, reason: 'client_certificate_unverified' };
    } else {
      try {
        const read = certificateIdentity(cert.raw);
        const check = this.allowlist.check(read.identity);
        if (check.admitted) return { admitted: true, identity: read.identity };
        presented = read.presented;
        verdict = { admitted: false, identity: read.identity, reason: 'client_san_not_allowed' };
      } catch (error) {
        verdict = { admitted: false, identity: EMPTY_IDENTITY, reason: `unreadable SAN: ${(error as Error).message}` };
      }
    }
    this.events.emit({
      type: 'auth.failed',
      corrId,
      data: {
        mechanism: 'mtls',
        reason: verdict.reason,
        presentedSans: presented,
        subject: cert?.subject.replace(/\n/g, ', '),
        fingerprint256: cert?.fingerprint256,
      },
    });
    return verdict;
  }
}
