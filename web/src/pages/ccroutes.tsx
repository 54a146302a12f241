// The cold-chain pages' entry in the console: navigation entries, which paths are theirs, and
// a loader that fetches the pages' code (pages/coldchain.tsx and what it imports) the first
// time one of them is opened, so the first load of the console stays small.
import { useEffect, useState } from 'preact/hooks';
import type { Role, Session } from '../api';

// Permissions as in docs/coldchain.md: coldchain.read (admin, operator, qa, viewer),
// coldchain.manage (admin, operator), qa.release (qa). The console offers signing to QA only.
export const canCold = {
  read: (r: Role) => ['admin', 'operator', 'qa', 'viewer', 'provider-admin'].includes(r),
  manage: (r: Role) => r === 'admin' || r === 'operator' || r === 'provider-admin',
  sign: (r: Role) => r === 'qa',
};

// coldChainNav lists the cold-chain entries of the main navigation for a role: one entry for
// the section (its pages have their own tabs), and QA's release queue for QA. Nurses and
// clinicians see none.
export function coldChainNav(role: Role): { href: string; label: string; show: boolean }[] {
  return [
    { href: '/storage', label: 'Cold chain', show: canCold.read(role) },
    { href: '/release', label: 'QA release', show: canCold.sign(role) },
  ];
}

export const isColdChainPath = (path: string) => /^\/(storage|shipments|lots|release)(\/|$)/.test(path);

type Pages = typeof import('./coldchain');
let pages: Promise<Pages> | null = null;
let loaded: Pages | null = null; // once fetched, pages render at once (no "Loading…" flash)

export function ColdChainRoutes(props: { tenant: string; session: Session; path: string }) {
  const [m, setM] = useState<Pages | null>(loaded);
  const [error, setError] = useState('');
  useEffect(() => {
    if (loaded) return;
    (pages ??= import('./coldchain')).then((x) => setM((loaded = x)), (e) => {
      pages = null;
      setError(`The cold-chain pages could not be loaded (${e?.message ?? e}). Reload the page to try again.`);
    });
  }, []);
  if (error) return <p class="error" role="alert">{error}</p>;
  if (!m) return <p class="loading">Loading…</p>;
  return <m.ColdChainRoutes {...props} />;
}
