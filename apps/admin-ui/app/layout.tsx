import type { Metadata } from 'next';
import type { ReactNode } from 'react';
import './globals.css';

export const metadata: Metadata = {
  title: 'ShieldX admin',
  description: 'Pool health and security events of a ShieldX Orchestrator',
};

/** Root layout: system fonts only (no downloads), light and dark colour schemes. */
export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <header className="bar">
          <strong>ShieldX</strong> <span>admin</span>
        </header>
        <main>{children}</main>
      </body>
    </html>
  );
}
