import type { Metadata, Viewport } from 'next';
import type { ReactNode } from 'react';
import { Nav } from './components/nav';
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

/** Root layout: system fonts only (no downloads), light and dark colour schemes, one live event stream. */
export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <a className="skip" href="#main">
          Skip to content
        </a>
        <LiveProvider>
          <header className="bar">
            <div className="brand">
              <strong>ShieldX</strong> <span className="muted">admin</span>
            </div>
            <Nav />
            <LiveIndicator />
          </header>
          <main id="main" tabIndex={-1}>
            {children}
          </main>
        </LiveProvider>
      </body>
    </html>
  );
}
