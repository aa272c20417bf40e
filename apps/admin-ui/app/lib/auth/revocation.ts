// Read by the proxy (middleware) and the route handlers, which Next.js bundles apart: the record of this process lives
// on globalThis, so every bundle's copy of this module sees the same one. No `server-only` import: the proxy reads it.

/** The most signed-out sessions one process remembers at once. */
export const MAX_REVOKED_SESSIONS = 10_000;
/** Kept this long past a session's absolute timeout, for a clock that steps back. */
const MARGIN_MS = 60_000;

/**
 * Sessions signed out before their absolute timeout, by session id. Sessions are stateless cookies, so a copy of one
 * would otherwise keep working (and renewing) after sign-out; each id is remembered until its session could no
 * longer open anyway (`ADMIN_UI_SESSION_MAX` after sign-in, and a minute), at most `capacity` of them: when full, the
 * one whose session ends soonest is forgotten first (and the caller told, to log it).
 */
export class RevokedSessions {
  private readonly until = new Map<string, number>();

  constructor(readonly capacity: number = MAX_REVOKED_SESSIONS) {}

  /** How many ids are remembered. */
  get size(): number {
    return this.until.size;
  }

  /**
   * Records that session `sid`, which ends at `endsAt` (epoch ms), is signed out. Returns false when a remembered id
   * had to be forgotten to make room.
   */
  revoke(sid: string, endsAt: number, now: number): boolean {
    const until = endsAt + MARGIN_MS;
    if (until < now) return true;
    this.prune(now);
    let kept = true;
    if (!this.until.has(sid) && this.until.size >= this.capacity) {
      kept = false;
      let soonest: [string, number] | undefined;
      for (const entry of this.until) if (soonest === undefined || entry[1] < soonest[1]) soonest = entry;
      if (soonest !== undefined) this.until.delete(soonest[0]);
    }
    this.until.set(sid, Math.max(until, this.until.get(sid) ?? 0));
    return kept;
  }

  /** True when session `sid` was signed out. */
  has(sid: string, now: number): boolean {
    const until = this.until.get(sid);
    if (until === undefined) return false;
    if (until < now) {
      this.until.delete(sid);
      return false;
    }
    return true;
  }

  private prune(now: number): void {
    for (const [sid, until] of this.until) if (until < now) this.until.delete(sid);
  }
}

const KEY = Symbol.for('shieldx.admin-ui.revoked-sessions');

/**
 * The signed-out sessions of this process. In-process only: another replica of the UI, or this one after a restart,
 * does not know them (see docs/admin-api.md#signing-in).
 */
export function revokedSessions(): RevokedSessions {
  const holder = globalThis as typeof globalThis & { [KEY]?: RevokedSessions };
  holder[KEY] ??= new RevokedSessions();
  return holder[KEY];
}
