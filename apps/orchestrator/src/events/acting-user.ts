import type { AdminUser } from '@shieldx/security';

/** The person an admin request acts for, and the credential that carried the assertion (`token`, `san:…`). */
export type ActingUser = AdminUser & { readonly via: string };

/** The person of each admin request in flight, by correlation id. */
const users = new Map<string, ActingUser>();

/**
 * Records that the request `corrId` acts for `user` until `done` closes, so every security event it causes names
 * the person (see {@link actingUserOf}).
 */
export function actFor(corrId: string, user: ActingUser, done: { once(event: 'close', f: () => void): unknown }): void {
  users.set(corrId, user);
  // Only its own entry: a trusted proxy may give two requests in flight the same correlation id.
  done.once('close', () => {
    if (users.get(corrId) === user) users.delete(corrId);
  });
}

/** The person the request `corrId` in flight acts for, if a user assertion named one. */
export function actingUserOf(corrId: string): ActingUser | undefined {
  return users.size === 0 ? undefined : users.get(corrId);
}
