import { describe, expect, it } from 'vitest';
import { revokedSessions, RevokedSessions } from './revocation';

describe(RevokedSessions.name, () => {
  const now = 1_900_000_000_000;

  it('remembers a signed-out session until its absolute timeout (and a minute), then forgets it', () => {
    const revoked = new RevokedSessions();
    revoked.revoke('a', now + 3_600_000, now);
    expect(revoked.has('a', now)).toBe(true);
    expect(revoked.has('a', now + 3_600_000 + 60_000)).toBe(true);
    expect(revoked.has('b', now)).toBe(false);
    expect(revoked.has('a', now + 3_600_000 + 60_001)).toBe(false);
    expect(revoked.size).toBe(0);
    // A session past its timeout is not even recorded: it no longer opens anyway.
    revoked.revoke('old', now - 120_000, now);
    expect(revoked.size).toBe(0);
  });

  it('stays within its capacity: expired ids go first, then the one whose session ends soonest', () => {
    const revoked = new RevokedSessions(3);
    expect(revoked.revoke('s1', now + 10_000, now)).toBe(true);
    expect(revoked.revoke('s2', now + 500_000, now)).toBe(true);
    expect(revoked.revoke('s3', now + 20_000, now)).toBe(true);
    // Full: s1 is forgotten (its session ends first), and the caller is told.
    expect(revoked.revoke('s4', now + 900_000, now)).toBe(false);
    expect(revoked.size).toBe(3);
    expect(['s1', 's2', 's3', 's4'].filter((sid) => revoked.has(sid, now))).toEqual(['s2', 's3', 's4']);
    // Once s3 has expired there is room again without forgetting a live one.
    expect(revoked.revoke('s5', now + 900_000, now + 100_000)).toBe(true);
    expect(['s2', 's4', 's5'].every((sid) => revoked.has(sid, now + 100_000))).toBe(true);
    // Revoking the same id again takes no room.
    expect(revoked.revoke('s5', now + 900_000, now + 100_000)).toBe(true);
    expect(revoked.size).toBe(3);
  });

  it('is one record per process, whichever bundle asks', () => {
    expect(revokedSessions()).toBe(revokedSessions());
    expect((globalThis as Record<symbol, unknown>)[Symbol.for('shieldx.admin-ui.revoked-sessions')]).toBe(
      revokedSessions(),
    );
  });
});
