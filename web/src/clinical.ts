// Patient monitoring (issue 7, docs/clinical.md): the records the clinical API returns, the
// NEWS2 clinical-risk bands with their colours and words (shared/specs/news2.md), vital-sign
// staleness, and who may use these pages.
import { Role } from './api';

export type Band = 'LOW' | 'LOW_MEDIUM' | 'MEDIUM' | 'HIGH';

export interface Vital {
  value: number;
  unit: string;
  t: string;
  device: string;
  stale: boolean;
}

export interface Part {
  value: number | string;
  score: number;
  t: string;
  source: string;
}

export interface ObsSet {
  id: string;
  evaluated_at: string;
  set_time: string;
  source: 'device' | 'manual';
  scale: number;
  complete: boolean;
  total: number | null;
  band: Band | null;
  band_min: Band | null;
  band_max: Band | null;
  score_min: number;
  score_max: number;
  red_score: boolean;
  missing: string[];
  scores?: Record<string, number>;
  parts?: Record<string, Part>;
  next_due?: string | null;
}

export interface Bed {
  id: string;
  ward: string;
  label: string;
}

export interface Ward {
  id: string;
  name: string;
  beds: Bed[];
}

export interface PatientBrief {
  id: string;
  name: string;
  mrn: string;
  birth_date?: string;
  age?: number;
  sex?: string;
  spo2_scale?: number;
}

export interface StationBed {
  bed: Bed;
  patient: PatientBrief | null;
  encounter?: string;
  devices: string[];
  vitals: Record<string, Vital>;
  news2: ObsSet | null;
  next_due: string | null;
  overdue: boolean;
  stale: string[];
  alarms: { open: number; highest: 'high' | 'medium' | 'low' | null };
}

export interface Station {
  ward: { id: string; name: string };
  now: string;
  beds: StationBed[];
}

export interface Assignment {
  id: string;
  device: string;
  patient: string;
  kind: string;
  from: string;
  to: string | null;
  created_by?: string;
  created?: string;
}

// An encounter as the API returns it (docs/clinical.md §1): ward and bed are its current place
// (the open bed stay, else the last one); stays are every bed stay, oldest first. `discharged`
// and a stay's `to` are absent while open.
export interface Encounter {
  id: string;
  patient: string;
  ward: string;
  bed: string;
  admitted: string;
  discharged?: string | null;
  stays?: { ward: string; bed: string; from: string; to?: string | null }[];
}

export interface Flag {
  id: string;
  patient: string;
  param: string;
  code?: string;
  direction: string;
  day: string;
  state: string;
  value: number;
  baseline: { median: number; mad?: number; scale?: number; n?: number; from?: string; to?: string };
  z: number;
  cusum?: number;
  ewma?: number;
  watch: boolean;
  since: string;
  days: number;
  explanation: string;
}

export interface PatientView {
  patient: PatientBrief & { time_zone?: string; created?: string };
  encounter: Encounter | null;
  assignments: Assignment[];
  vitals: Record<string, Vital>;
  news2: ObsSet | null;
  last_complete: ObsSet | null;
  next_due: string | null;
  overdue: boolean;
  flags: Flag[];
}

export interface TimelineEvent {
  t: string;
  kind: string;
  text: string;
  ref?: string;
}

// Who may use the patient pages (docs/clinical.md; the server decides anyway).
export const canPatients = {
  read: (r: Role) => r === 'admin' || r === 'clinician' || r === 'nurse' || r === 'provider-admin',
  manage: (r: Role) => r === 'admin' || r === 'clinician' || r === 'nurse' || r === 'provider-admin',
  observe: (r: Role) => r === 'clinician' || r === 'nurse' || r === 'provider-admin',
};

// The colour class of a band: LOW splits into green (total 0) and yellow (1–4). Colours and their
// contrast are in style.css (.news2.*); the band is always written out too.
export type BandClass = 'b-zero' | 'b-low' | 'b-lowmed' | 'b-medium' | 'b-high' | 'b-none';

export function bandClass(band: Band | null | undefined, total: number | null | undefined): BandClass {
  switch (band) {
    case 'HIGH':
      return 'b-high';
    case 'MEDIUM':
      return 'b-medium';
    case 'LOW_MEDIUM':
      return 'b-lowmed';
    case 'LOW':
      return total === 0 ? 'b-zero' : 'b-low';
    default:
      return 'b-none';
  }
}

export const bandLabel: Record<Band, string> = {
  LOW: 'Low',
  LOW_MEDIUM: 'Low–medium',
  MEDIUM: 'Medium',
  HIGH: 'High',
};

// setBand is what a set shows: its band when complete, else "at least band_min".
// short is the tile's wording ("Low–medium · red score", "≥ medium, incomplete").
export function setBand(s: ObsSet | null): { band: Band | null; total: number | null; cls: BandClass; text: string; short: string; score: string } {
  if (!s) return { band: null, total: null, cls: 'b-none', text: 'No NEWS2 yet', short: 'No NEWS2 yet', score: '–' };
  if (s.complete && s.band) {
    return {
      band: s.band,
      total: s.total,
      cls: bandClass(s.band, s.total),
      text: `${bandLabel[s.band]} risk${s.red_score ? ' · 3 in one parameter' : ''}`,
      short: `${bandLabel[s.band]}${s.red_score ? ' · red score' : ''}`,
      score: String(s.total ?? '–'),
    };
  }
  const b = s.band_min;
  return {
    band: b,
    total: null,
    cls: bandClass(b, s.score_min),
    text: `Incomplete${b ? `, at least ${bandLabel[b].toLowerCase()}` : ''}${s.missing?.length ? ` · missing ${s.missing.join(', ')}` : ''}`,
    short: `Incomplete${b ? ` · ≥ ${bandLabel[b].toLowerCase()}` : ''}`,
    score: s.score_min === s.score_max ? `${s.score_min}` : `${s.score_min}–${s.score_max}`,
  };
}

// Staleness windows of the NEWS2 parameters (news2.md §6.2): a vital older than this no longer
// counts in NEWS2, and the console marks it stale.
const staleMs: Record<string, number> = {
  hr: 15 * 60_000,
  pr_spo2: 15 * 60_000,
  pr_nibp: 15 * 60_000,
  spo2: 15 * 60_000,
  rr: 15 * 60_000,
  nibp_sys: 60 * 60_000,
  nibp_dia: 60 * 60_000,
  temp_body: 240 * 60_000,
};

export function isStale(metric: string, t: number, now: number): boolean {
  const w = staleMs[metric];
  return w !== undefined && now - t > w;
}

// The vitals a bed tile shows, in order.
export const stationVitals: { metric: string; label: string }[] = [
  { metric: 'hr', label: 'HR' },
  { metric: 'spo2', label: 'SpO₂' },
  { metric: 'rr', label: 'RR' },
  { metric: 'nibp_sys', label: 'BP' },
  { metric: 'temp_body', label: 'Temp' },
];

export const paramLabel: Record<string, string> = {
  rr: 'Respiration rate',
  spo2: 'SpO₂',
  o2: 'Air or oxygen',
  sbp: 'Systolic BP',
  pulse: 'Pulse',
  acvpu: 'Consciousness (ACVPU)',
  temp: 'Temperature',
  weight: 'Weight',
  dbp: 'Diastolic BP',
  hr_rest: 'Resting heart rate',
};

export const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : '–');

// normaliseView fills what the API may leave out: empty lists for null ones, and (from a
// server older than the encounter's ward/bed fields) the encounter's ward and bed from its open
// (else last) bed stay.
export function normaliseView(v: PatientView): PatientView {
  const enc = v.encounter;
  if (enc && (!enc.ward || !enc.bed)) {
    const stays = enc.stays ?? [];
    const st = stays.find((s) => !s.to) ?? stays[stays.length - 1];
    if (st) {
      enc.ward ??= st.ward;
      enc.bed ??= st.bed;
    }
  }
  return { ...v, assignments: v.assignments ?? [], flags: v.flags ?? [], vitals: v.vitals ?? {} };
}
