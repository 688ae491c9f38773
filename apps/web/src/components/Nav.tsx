'use client';
import Link from 'next/link';
import { usePathname } from 'next/navigation';
import { AccountBox } from './AccountBox.tsx';

const LINKS = [
  { href: '/', label: 'Experiments' },
  { href: '/runs', label: 'Runs' },
  { href: '/compare', label: 'Compare' },
  { href: '/datasets', label: 'Datasets' },
  { href: '/lineage', label: 'Lineage' },
  { href: '/queues', label: 'Queues' },
  { href: '/models', label: 'Models' },
] as const;

function isActive(pathname: string, href: string): boolean {
  if (href === '/') return pathname === '/' || pathname.startsWith('/experiments');
  return pathname === href || pathname.startsWith(`${href}/`);
}

/**
 * The left navigation, the same on every page. No link in the portal prefetches: every
 * page is a client view whose data comes from the API, so a prefetch buys little, and
 * on a page listing runs the prefetches (two requests per visible link) competed with
 * the page's own API calls on the same server.
 */
export function Nav() {
  const pathname = usePathname() ?? '/';
  return (
    <nav className="nav" aria-label="Main" data-testid="nav">
      <div className="brand">
        Cairn<span>experiments · data · models</span>
      </div>
      {LINKS.map((l) => (
        <Link prefetch={false} key={l.href} href={l.href} aria-current={isActive(pathname, l.href) ? 'page' : undefined} data-testid={`nav-${l.label.toLowerCase()}`}>
          {l.label}
        </Link>
      ))}
      <AccountBox />
      <div className="foot">Every run is kept — finished, failed, abandoned or cancelled.</div>
    </nav>
  );
}
