import { createHmac, timingSafeEqual } from 'node:crypto';

/** Options of {@link DpopNonces}. */
export interface DpopNoncesOptions {
  /**
   * MAC keys, at least one, each at least 16 bytes. The first issues nonces; all are accepted, so instances sharing
   * the keys accept each other's nonces and a key can be rotated.
   */
  readonly keys: readonly Uint8Array[];
  /** Length of one nonce period, ms. A nonce is accepted during its period and the next one. Default 60 000. */
  readonly periodMs?: number;
}

const PERIOD_BYTES = 6;
const MAC_BYTES = 16;
/** base64url length of 6 + 16 bytes. */
const NONCE_LENGTH = Math.ceil(((PERIOD_BYTES + MAC_BYTES) * 4) / 3);
const NONCE_PATTERN = new RegExp(`^[A-Za-z0-9_-]{${NONCE_LENGTH}}$`);

/**
 * Server-provided DPoP nonces (RFC 9449 §9), stateless: a nonce is `base64url(period ‖ HMAC-SHA256(key,
 * period)[0..16])`, where `period = floor(now / periodMs)`. Nothing is stored per client; any instance holding the
 * same keys checks any other's nonce. A nonce is valid during the period it was issued in and the next, so a client
 * holding the nonce from its last response is never refused at a period boundary; the same nonce is handed to every
 * client in a period (RFC 9449 leaves the nonce's content to the server: it limits how far ahead a proof can be
 * made, which is its purpose, and is not a secret).
 */
export class DpopNonces {
  private readonly keys: readonly Buffer[];
  private readonly periodMs: number;
  private cached: { period: number; nonce: string } | undefined;

  constructor(options: DpopNoncesOptions) {
    if (options.keys.length === 0) throw new Error('DpopNonces: at least one key is needed');
    if (options.keys.some((k) => k.byteLength < 16)) throw new Error('DpopNonces: each key must have ≥ 16 bytes');
    this.periodMs = options.periodMs ?? 60_000;
    if (!Number.isInteger(this.periodMs) || this.periodMs < 1000) {
      throw new Error(`DpopNonces: periodMs must be an integer ≥ 1000, got ${String(options.periodMs)}`);
    }
    this.keys = options.keys.map((key) => Buffer.from(key));
  }

  /** The nonce to hand out at `now` (epoch ms): the same string for a whole period. */
  current(now: number): string {
    const period = Math.floor(now / this.periodMs);
    if (this.cached?.period === period) return this.cached.nonce;
    const bytes = Buffer.alloc(PERIOD_BYTES + MAC_BYTES);
    bytes.writeUIntBE(period, 0, PERIOD_BYTES);
    this.mac(this.keys[0], bytes.subarray(0, PERIOD_BYTES)).copy(bytes, PERIOD_BYTES);
    const nonce = bytes.toString('base64url');
    this.cached = { period, nonce };
    return nonce;
  }

  /** Whether `nonce` was issued with one of the keys in the current or the previous period. */
  isValid(nonce: unknown, now: number): boolean {
    if (typeof nonce !== 'string' || !NONCE_PATTERN.test(nonce)) return false;
    const bytes = Buffer.from(nonce, 'base64url');
    if (bytes.length !== PERIOD_BYTES + MAC_BYTES) return false;
    const period = bytes.readUIntBE(0, PERIOD_BYTES);
    const current = Math.floor(now / this.periodMs);
    if (period !== current && period !== current - 1) return false;
    const given = bytes.subarray(PERIOD_BYTES);
    let matched = 0;
    for (const key of this.keys) {
      matched |= timingSafeEqual(this.mac(key, bytes.subarray(0, PERIOD_BYTES)), given) ? 1 : 0;
    }
    return matched === 1;
  }

  private mac(key: Buffer, period: Buffer): Buffer {
    return createHmac('sha256', key).update('shieldx-dpop-nonce.').update(period).digest().subarray(0, MAC_BYTES);
  }
}
