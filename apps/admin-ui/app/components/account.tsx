import type { SessionUser } from '../lib/auth/session';

/**
 * The header's account area: who is signed in, their role and a sign-out button; in loopback-only mode, a notice
 * on every page that nobody signs in and whoever reaches the UI acts as an admin.
 */
export function Account({ mode, user }: { mode: 'oidc' | 'loopback'; user: SessionUser | undefined }) {
  if (mode === 'loopback') {
    return (
      <p className="mode-notice" role="note" data-testid="loopback-mode">
        Loopback-only mode: sign-in is not configured (ADMIN_UI_OIDC_*), so whoever reaches this UI acts as an admin.
      </p>
    );
  }
  if (user === undefined) return null;
  return (
    <div className="account" data-testid="account">
      <span>
        <span data-testid="account-name">{user.name ?? user.email ?? user.sub}</span>{' '}
        <span className="badge" data-testid="account-role">
          {user.role}
        </span>
      </span>
      <form method="post" action="/auth/logout">
        <button type="submit">Sign out</button>
      </form>
    </div>
  );
}
