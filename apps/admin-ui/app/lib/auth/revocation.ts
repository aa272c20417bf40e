// Read by the proxy (middleware) and the route handlers, which Next.js bundles apart: the record of this process lives
// on globalThis, so every bundle's copy of this module sees the same one. No `server-only` import: the proxy reads it.

/** The most people whose sign-out one process remembers at once. */
export const MAX_SIGNED_OUT_PEOPLE = 10_000;
/** Kept this long past the last session a sign-out ended could still open, for a clock that steps back. */
const MARGIN_MS = 60_000;

/** Who a person is to the UI: their identity provider and their subject there (also the key of the stream cap). */
export function personKey(user: { readonly idp: string; readonly sub: string }): string {
  return JSON.stringify([user.idp, user.sub]);
}

interface SignOut {
  /** When the person signed out (epoch ms): their sessions started at or before it are refused. */
  readonly at: number;
  /** When the entry is forgotten (epoch ms): no session started at or before `at` opens by then anyway. */
  readonly until: number;
}

/**
 * When each person last signed out, by {@link personKey}. Sessions are stateless cookies, so a copy of one would
 * otherwise keep working (and renewing) after sign-out: every session of a person that started (`created`, which
 * every renewal keeps) at or before their last sign-out is refused, those started after it open. An entry is kept
 * until no session it refuses could open anyway (`ADMIN_UI_SESSION_MAX` after the sign-out, and a minute).
 *
 * Signing out again only moves a person's own entry, so the record holds one entry per person who signed out within
 * that time, at most `capacity`: only when that many other people sign out after someone is their entry forgotten
 * (the one who signed out longest ago goes first, and the caller is told, to log it). One account, however often it
 * signs in and out, can therefore never push anyone else's sign-out out of the record.
 */
export class SignedOutPeople {
  /** In the order people last signed out: the first is the one forgotten when the record is full. */
  private readonly byPerson = new Map<string, SignOut>();

  constructor(readonly capacity: number = MAX_SIGNED_OUT_PEOPLE) {}

  /** How many people are remembered. */
  get size(): number {
    return this.byPerson.size;
  }

  /**
   * Records that `person` signed out at `at` (epoch ms), which ends their sessions started at or before it; `maxMs`
   * is the absolute timeout (`ADMIN_UI_SESSION_MAX`). An earlier sign-out of theirs still remembered keeps the later
   * of the two times. Returns false when another person's sign-out had to be forgotten to make room.
   */
  signOut(person: string, at: number, maxMs: number, now: number): boolean {
    this.prune(now);
    const previous = this.byPerson.get(person);
    const last = Math.max(at, previous?.at ?? at);
    const entry: SignOut = { at: last, until: Math.max(last + maxMs + MARGIN_MS, previous?.until ?? 0) };
    let kept = true;
    if (previous === undefined && this.byPerson.size >= this.capacity) {
      const oldest = this.byPerson.keys().next();
      if (oldest.done !== true) this.byPerson.delete(oldest.value);
      kept = false;
    }
    // Deleted and set again, so the map's order stays the order of the last sign-outs.
    this.byPerson.delete(person);
    this.byPerson.set(person, entry);
    return kept;
  }

  /** When `person` last signed out (epoch ms), or undefined when they did not, or so long ago it no longer matters. */
  signedOutAt(person: string, now: number): number | undefined {
    const entry = this.byPerson.get(person);
    if (entry === undefined) return undefined;
    if (entry.until < now) {
      this.byPerson.delete(person);
      return undefined;
    }
    return entry.at;
  }

  /** True when a session of `person` started at `created` (epoch ms) was ended by their sign-out. */
  refuses(person: string, created: number, now: number): boolean {
    const at = this.signedOutAt(person, now);
    return at !== undefined && created <= at;
  }

  /**
   * The start time of a new session of `person` at `now`: `now`, or just after their last sign-out if that is not
   * earlier (a sign-in in the same millisecond as a sign-out, or a clock that stepped back), so that a session started
   * after a sign-out is never one it ends.
   */
  startTime(person: string, now: number): number {
    const at = this.signedOutAt(person, now);
    return at === undefined ? now : Math.max(now, at + 1);
  }

  private prune(now: number): void {
    for (const [person, entry] of this.byPerson) if (entry.until < now) this.byPerson.delete(person);
  }
}

const KEY = Symbol.for('shieldx.admin-ui.signed-out-people');

/**
 * The sign-outs of this process. In-process only: another replica of the UI, or this one after a restart, does not
 * know them (see docs/admin-api.md#signing-in).
 */
export function signedOutPeople(): SignedOutPeople {
  const holder = globalThis as typeof globalThis & { [KEY]?: SignedOutPeople };
  holder[KEY] ??= new SignedOutPeople();
  return holder[KEY];
}
