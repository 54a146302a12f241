// The patient-monitoring pages' entry in the console (issue 7): which paths are theirs, the
// "no access" answer for roles without patients.read, and a loader that fetches the pages' code
// (pages/clinicalpages.tsx and what it imports) the first time one of them is opened, so the
// first load of the console stays small.
import { useEffect, useState } from 'preact/hooks';
import type { Role } from '../api';
import { canPatients } from '../clinical';
import { onLink } from '../router';

export const isClinicalPath = (path: string) => path === '/station' || path === '/rpm' || path === '/patients' || path.startsWith('/patients/');

export function PatientsNoAccess({ role }: { role: Role }) {
  return (
    <section class="card" role="alert" data-testid="no-access">
      <h1>No access</h1>
      <p>Patient monitoring pages show patient data and are for nurses, clinicians and admins; your role ({role}) may not open them.</p>
      <p><a href="/" onClick={onLink}>Back to the overview</a></p>
    </section>
  );
}

type Pages = typeof import('./clinicalpages');
let pages: Promise<Pages> | null = null;

export function ClinicalRoutes(props: { tenant: string; role: Role; path: string }) {
  const [m, setM] = useState<Pages | null>(null);
  const [error, setError] = useState('');
  const allowed = canPatients.read(props.role);
  useEffect(() => {
    if (!allowed) return;
    (pages ??= import('./clinicalpages')).then(setM, (e) => {
      pages = null;
      setError(`The patient pages could not be loaded (${e?.message ?? e}). Reload the page to try again.`);
    });
  }, [allowed]);
  if (!allowed) return <PatientsNoAccess role={props.role} />;
  if (error) return <p class="error" role="alert">{error}</p>;
  if (!m) return <p class="loading">Loading…</p>;
  return <m.ClinicalPages {...props} />;
}
