// The patient-monitoring pages, loaded on demand by clinicalroutes.tsx.
import type { Role } from '../api';
import { PatientPage } from './patient';
import { PatientsPage } from './patients';
import { RPMPage } from './rpm';
import { StationPage } from './station';

export function ClinicalPages({ tenant, role, path }: { tenant: string; role: Role; path: string }) {
  if (path === '/station') return <StationPage tenant={tenant} />;
  if (path === '/rpm') return <RPMPage tenant={tenant} />;
  if (path === '/patients') return <PatientsPage tenant={tenant} role={role} />;
  const id = decodeURIComponent(path.slice('/patients/'.length));
  return <PatientPage key={id} tenant={tenant} role={role} id={id} />;
}
