import type { Metadata, Viewport } from 'next';
import { connection } from 'next/server';
import type { ReactNode } from 'react';
import { ADMIN_ROLES, roleAllows } from '@shieldx/security';
import { Account } from './components/account';
import { Nav } from './components/nav';
import { currentUser } from './lib/auth/current-user';
import { RoleProvider } from './lib/auth/role-context';
import { authSettings } from './lib/auth/settings';
import { LiveIndicator, LiveProvider } from './lib/live';
import './globals.css';

export const metadata: Metadata = {
  title: { default: 'ShieldX admin', template: '%s · ShieldX admin' },
  description: 'Traffic, pools, breakers, policy and the audit ledger of a ShieldX Orchestrator',
};

export const viewport: Viewport = {
  width: 'device-width',
  initialScale: 1,
  colorScheme: 'light dark',
};

/**
 * Root layout: system fonts only (no downloads), light and dark colour schemes, one live event stream; the
 * signed-in person (or the loopback-only notice) in the header, and their rights for the pages' controls.
 */
export default async function RootLayout({ children }: { children: ReactNode }) {
  // The sign-in settings and the person are the running server's, never the build's: no page is prerendered.
  await connection();
  const mode = authSettings().mode === 'loopback' ? 'loopback' : 'oidc';
  const user = await currentUser();
  const allowed =
    mode === 'loopback' ? ADMIN_ROLES : user === undefined ? [] : ADMIN_ROLES.filter((r) => roleAllows(user.role, r));
  return (
    <html lang="en">
      <body>
        <a className="skip" href="#main">
          Skip to content
        </a>
        <RoleProvider allowed={allowed}>
          <LiveProvider>
            <header className="bar">
              <div className="brand">
                <strong>ShieldX</strong> <span className="muted">admin</span>
              </div>
              <Nav />
              <LiveIndicator />
              <Account mode={mode} user={user} />
            </header>
            <main id="main" tabIndex={-1}>
              {children}
            </main>
          </LiveProvider>
        </RoleProvider>
      </body>
    </html>
  );
}
