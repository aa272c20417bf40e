import { describe, expect, it } from 'vitest';
import { MAX_SIGNED_OUT_PEOPLE, personKey, signedOutPeople, SignedOutPeople } from './revocation';

describe(SignedOutPeople.name, () => {
  const now = 1_900_000_000_000;
  const maxMs = 8 * 3_600_000;
  const vera = personKey({ idp: 'https://idp.example.com', sub: 'vera' });
  const mallory = personKey({ idp: 'https://idp.example.com', sub: 'mallory' });

  it('refuses the sessions a person started at or before their sign-out, and not those started after it', () => {
    const record = new SignedOutPeople();
    expect(record.refuses(vera, now - 60_000, now)).toBe(false);
    expect(record.signOut(vera, now, maxMs, now)).toBe(true);
    expect(record.signedOutAt(vera, now)).toBe(now);
    // Every session of hers started before (another browser, a copied cookie) or in the same millisecond: refused.
    expect(record.refuses(vera, now - 60_000, now + 1000)).toBe(true);
    expect(record.refuses(vera, now, now + 1000)).toBe(true);
    // A session started after it works; so does everyone else's.
    expect(record.refuses(vera, now + 1, now + 1000)).toBe(false);
    expect(record.refuses(mallory, now - 60_000, now + 1000)).toBe(false);
    // The same subject at another identity provider is another person.
    expect(record.refuses(personKey({ idp: 'https://other.example', sub: 'vera' }), now - 1, now)).toBe(false);
  });

  it('starts a session after the sign-out, even in the same millisecond or after the clock stepped back', () => {
    const record = new SignedOutPeople();
    expect(record.startTime(vera, now)).toBe(now);
    record.signOut(vera, now, maxMs, now);
    const created = record.startTime(vera, now);
    expect(created).toBe(now + 1);
    expect(record.refuses(vera, created, now)).toBe(false);
    // The clock went back five seconds after the sign-out: the new session still starts after it.
    expect(record.startTime(vera, now - 5000)).toBe(now + 1);
    expect(record.startTime(vera, now + 5000)).toBe(now + 5000);
    expect(record.startTime(mallory, now - 5000)).toBe(now - 5000);
  });

  it('keeps the later of two sign-outs', () => {
    const record = new SignedOutPeople();
    record.signOut(vera, now, maxMs, now);
    record.signOut(vera, now + 10_000, maxMs, now + 10_000);
    expect(record.refuses(vera, now + 5000, now + 10_000)).toBe(true);
    // A sign-out recorded with an earlier time (a clock that stepped back) does not undo the later one.
    record.signOut(vera, now + 2000, maxMs, now + 11_000);
    expect(record.signedOutAt(vera, now + 11_000)).toBe(now + 10_000);
    expect(record.size).toBe(1);
  });

  it('remembers a sign-out for the absolute timeout (and a minute) after it, then forgets it', () => {
    const record = new SignedOutPeople();
    record.signOut(vera, now, maxMs, now);
    expect(record.refuses(vera, now - 1000, now + maxMs + 60_000)).toBe(true);
    expect(record.refuses(vera, now - 1000, now + maxMs + 60_001)).toBe(false);
    expect(record.size).toBe(0);
    // Expired entries make room before anyone is forgotten.
    const small = new SignedOutPeople(1);
    small.signOut(vera, now, maxMs, now);
    expect(small.signOut(mallory, now + maxMs + 60_001, maxMs, now + maxMs + 60_001)).toBe(true);
    expect(small.size).toBe(1);
  });

  it('cannot be made to forget another person by one account signing out over and over', () => {
    const record = new SignedOutPeople();
    expect(record.capacity).toBe(MAX_SIGNED_OUT_PEOPLE);
    record.signOut(vera, now, maxMs, now);
    // The attack of the review: sign in and out again and again with one account, far more often than the bound.
    for (let i = 1; i <= 2 * MAX_SIGNED_OUT_PEOPLE + 5; i++) {
      expect(record.signOut(mallory, now + i, maxMs, now + i)).toBe(true);
    }
    expect(record.size).toBe(2);
    expect(record.refuses(vera, now - 60_000, now + 30_000)).toBe(true);
    expect(record.refuses(mallory, now + 2 * MAX_SIGNED_OUT_PEOPLE + 5, now + 30_000)).toBe(true);
  });

  it('forgets someone only when as many other people as it holds sign out after them, the longest ago first', () => {
    const record = new SignedOutPeople(3);
    const people = ['p1', 'p2', 'p3', 'p4', 'p5'].map((sub) => personKey({ idp: 'https://idp.example.com', sub }));
    const [p1, p2, p3, p4, p5] = people;
    expect(record.signOut(p1, now, maxMs, now)).toBe(true);
    expect(record.signOut(p2, now + 1, maxMs, now + 1)).toBe(true);
    expect(record.signOut(p3, now + 2, maxMs, now + 2)).toBe(true);
    // p1 signs out again: theirs is now the newest sign-out.
    expect(record.signOut(p1, now + 3, maxMs, now + 3)).toBe(true);
    // Full: a fourth person forgets the sign-out longest ago (p2's), and the caller is told.
    expect(record.signOut(p4, now + 4, maxMs, now + 4)).toBe(false);
    expect(record.size).toBe(3);
    expect(people.filter((p) => record.refuses(p, now - 1, now + 5))).toEqual([p1, p3, p4]);
    expect(record.signOut(p5, now + 5, maxMs, now + 5)).toBe(false);
    expect(people.filter((p) => record.refuses(p, now - 1, now + 6))).toEqual([p1, p4, p5]);
  });

  it('is one record per process, whichever bundle asks', () => {
    expect(signedOutPeople()).toBe(signedOutPeople());
    expect((globalThis as Record<symbol, unknown>)[Symbol.for('shieldx.admin-ui.signed-out-people')]).toBe(
      signedOutPeople(),
    );
  });
});
