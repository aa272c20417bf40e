'use client';

import Link from 'next/link';
import { usePathname } from 'next/navigation';

const PAGES = [
  { href: '/', label: 'Overview' },
  { href: '/pools', label: 'Pools' },
  { href: '/breakers', label: 'Breakers' },
  { href: '/protection', label: 'Protection' },
  { href: '/mirror', label: 'Mirroring' },
  { href: '/rollouts', label: 'Rollouts' },
  { href: '/policy', label: 'Policy' },
  { href: '/audit', label: 'Audit' },
] as const;

/** The main navigation; the current page is marked for assistive technology with `aria-current`. */
export function Nav() {
  const pathname = usePathname();
  return (
    <nav aria-label="Main">
      <ul className="nav">
        {PAGES.map((page) => {
          const current = page.href === '/' ? pathname === '/' : pathname.startsWith(page.href);
          return (
            <li key={page.href}>
              <Link href={page.href} aria-current={current ? 'page' : undefined}>
                {page.label}
              </Link>
            </li>
          );
        })}
      </ul>
    </nav>
  );
}
