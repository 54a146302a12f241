// The cold-chain API's shapes (docs/coldchain.md), who may see and do what, and the formatting
// the cold-chain pages share (temperatures, durations, times in a site's zone).
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, tenantPath } from './api';
import { live, LiveReading } from './live';

export const ccPath = (tenant: string, rest: string) => tenantPath(tenant, '/coldchain' + rest);
export const enc = encodeURIComponent;

// Who may see and do what (kept with the navigation entries, in the first-load bundle).
export { canCold } from './pages/ccroutes';

export interface Limits {
  low_c: number;
  high_c: number;
  hysteresis_c?: number;
  alarm_delay_s?: number;
  door_tolerance_s?: number;
  interval_s?: number;
  max_gap_s?: number;
}

export interface Sensor {
  device: string;
  metric?: string;
  calibration_due?: string;
}

export interface Ack {
  by: string;
  at: string;
  comment: string;
  root_cause?: string;
}

export interface Excursion {
  id: string;
  source_kind: 'unit' | 'shipment';
  source: string;
  direction: 'high' | 'low';
  limit_c: number;
  start: string;
  end: string | null;
  ongoing: boolean;
  duration_s: number;
  peak_c: number;
  peak_at?: string;
  time_out_of_range_s: number;
  degree_minutes: number;
  coverage?: number;
  lower_bound?: boolean;
  door_open?: boolean;
  notified_at?: string | null;
  ack: Ack | null;
}

export interface Forecast {
  minutes_to_excursion: number;
  limit_c: number;
  at: string;
  method: string;
  r2?: number;
  fallback?: string;
}

export interface UnitStatus {
  state: 'in_range' | 'excursion' | 'no_data' | string;
  temperature_c: number | null;
  at: string | null;
  door_open?: boolean;
  door_open_since?: string | null;
  excursion?: { id: string; direction: string; start: string; peak_c: number; degree_minutes: number; notified: boolean } | null;
  mkt_24h_c?: number | null;
  mkt_24h_coverage?: number | null;
  forecast?: Forecast | null;
  lots?: number;
  risk?: string;
  position?: { at: string; lat: number; lon: number } | null;
}

export interface Unit {
  id: string;
  site: string;
  name: string;
  kind: string;
  storage_class?: string;
  limits: Limits;
  sensors: Sensor[];
  door_device?: string;
  version: number;
  status?: UnitStatus;
}

export interface UnitDetail extends Unit {
  excursions: Excursion[];
  lots: Lot[];
  mapping_studies?: string[];
}

export interface Site {
  id: string;
  name: string;
  timezone?: string;
  lat?: number;
  lon?: number;
  geofence_radius_m?: number;
}

export interface MKT {
  from: string;
  to: string;
  celsius: number | null;
  coverage: number;
  covered_s?: number;
  status: 'OK' | 'INSUFFICIENT_COVERAGE' | 'NO_DATA' | string;
  activation_energy_j_mol?: number;
}

export interface Series {
  from: string;
  to: string;
  points: { at: string; c: number; source?: string }[];
  limits: { low_c: number; high_c: number };
  excursions: Excursion[];
  mkt?: MKT;
}

export interface Budget {
  rule: string;
  kind: string;
  band?: string;
  limit_s: number;
  consumed_s: number;
  fraction: number;
  remaining_s: number;
  deadline: string | null;
}

export interface Custody {
  kind: 'unit' | 'shipment' | string;
  id: string;
  from: string;
  to: string | null;
}

export interface Lot {
  id: string;
  number: string;
  product: string;
  quantity: number;
  uom: string;
  expiry: string;
  status: 'available' | 'quarantined' | 'released' | 'rejected' | string;
  location: { kind: string; id: string; since: string } | null;
  locations?: Custody[];
  budget?: Budget[];
  quarantine?: { kind: string; rule?: string; at: string }[];
  version: number;
}

export interface Leg {
  from_site: string;
  to_site: string;
  planned_departure?: string | null;
  planned_arrival?: string | null;
  actual_departure?: string | null;
  actual_arrival?: string | null;
}

export interface Transition {
  from: string;
  to: string;
  action: string;
  at: string;
  actor: string;
  reason?: string;
}

export interface Shipment {
  id: string;
  carrier: string;
  lane: { id: string; origin: string; destination: string; mode?: string; packaging?: string; qualified_duration_s?: number; expected_transit_s?: number };
  limits: Limits;
  loggers: Sensor[];
  lots: string[];
  legs: Leg[];
  state: string;
  transitions: Transition[];
  version: number;
  created?: string;
  status?: UnitStatus;
  excursions?: Excursion[];
}

export interface Signature {
  id: string;
  signer_id: string;
  printed_name: string;
  meaning: string;
  reason?: string;
  signed_at: string;
  display_tz?: string;
  manifestation: string;
  record_type: string;
  record_id: string;
  method?: string;
  first_in_session?: boolean;
  state: 'valid' | 'record_changed' | 'wrong_record' | 'invalid' | string;
  state_message?: string;
}

export interface Review {
  record: { type: string; id: string; version: number };
  as_of: string;
  report_sha256: string;
  report: any;
  status: string;
  can_sign: boolean;
  blockers: string[];
  meanings: string[];
  requirement: { user_id: boolean; password: boolean; first_in_session?: boolean; break?: string };
  signature_state: 'none' | 'valid' | 'invalidated' | string;
  signatures: Signature[];
}

// Display.

export function temp(c: number | null | undefined, digits = 2): string {
  if (c == null || Number.isNaN(c)) return '–';
  return `${c.toFixed(digits)} °C`;
}

export function duration(s: number | null | undefined): string {
  if (s == null || Number.isNaN(s)) return '–';
  s = Math.max(0, Math.round(s));
  if (s < 60) return `${s} s`;
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${m} min`;
  const sec = s % 60;
  return sec ? `${m} min ${sec} s` : `${m} min`;
}

// when shows an instant in the browser's zone with the zone's name, e.g. "27 Nov 13:41:07 CET".
export function when(iso: string | null | undefined, tz?: string): string {
  if (!iso) return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  try {
    return new Intl.DateTimeFormat('en-GB', {
      timeZone: tz, day: '2-digit', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
      timeZoneName: 'short', hour12: false,
    }).format(d);
  } catch {
    return d.toISOString();
  }
}

// clock is the local time of day, e.g. "13:41".
export function clock(iso: string | null | undefined): string {
  if (!iso) return '–';
  return new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', hour12: false }).format(new Date(iso));
}

export const pct = (f: number | null | undefined, digits = 1) => (f == null ? '–' : `${(f * 100).toFixed(digits)} %`);

export const kindLabel: Record<string, string> = {
  fridge: 'Fridge', freezer: 'Freezer', ult_freezer: 'Ultra-low freezer', crt_zone: 'CRT zone', warehouse_zone: 'Warehouse zone',
};

export const lotStatusLabel: Record<string, string> = {
  available: 'Available', quarantined: 'Quarantined', released: 'Released', rejected: 'Rejected',
};

// useRefresh calls load now, every `every` ms, and (throttled to one call per 2 s) when the live
// stream brings a reading from one of the devices that devicesOf names in the current answer;
// it keeps the newest answer and the error, and returns a reload function.
export function useRefresh<T>(load: () => Promise<T>, deps: unknown[], every = 15000, devicesOf?: (d: T) => string[]):
  [T | null, string, () => void] {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState('');
  const [n, setN] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const devRef = useRef(devicesOf);
  devRef.current = devicesOf;
  const dataRef = useRef<T | null>(null);
  useEffect(() => {
    dataRef.current = null;
    setData(null);
    setError('');
  }, deps);
  useEffect(() => {
    let stop = false;
    let busy = false;
    let last = 0;
    let pending: number | undefined;
    let devs: Set<string> | null = null;
    let devsOf: T | null = null;
    const run = () => {
      if (stop || busy) return;
      busy = true;
      last = Date.now();
      loadRef.current().then(
        (d) => {
          if (stop) return;
          dataRef.current = d;
          setData(d);
          setError('');
        },
        (e) => !stop && setError(e.message),
      ).finally(() => (busy = false));
    };
    run();
    const t = setInterval(run, every);
    const off = live.onReadings((rs: LiveReading[]) => {
      const d = dataRef.current;
      if (!devRef.current || d == null || pending !== undefined) return;
      if (devsOf !== d) {
        devs = new Set(devRef.current(d));
        devsOf = d;
      }
      if (!rs.some((r) => devs!.has(r.device))) return;
      pending = window.setTimeout(() => {
        pending = undefined;
        run();
      }, Math.max(300, 2000 - (Date.now() - last)));
    });
    return () => {
      stop = true;
      clearInterval(t);
      clearTimeout(pending);
      off();
    };
  }, [...deps, n]);
  return [data, error, () => setN((x) => x + 1)];
}

// useLatest follows the live stream: the newest value of every device's metric, keyed
// "device|metric" (door contacts send "door-open" as 0/1), so a unit's temperature moves between
// status refreshes. It re-renders at most twice a second.
export function useLatest(): Map<string, { v: number; t: number }> {
  const ref = useRef(new Map<string, { v: number; t: number }>());
  const [, setV] = useState(0);
  useEffect(() => {
    let timer: number | undefined;
    const off = live.onReadings((rs) => {
      for (const r of rs) {
        if (r.value == null) continue;
        const k = `${r.device}|${r.metric}`;
        const cur = ref.current.get(k);
        if (!cur || cur.t <= r.time) ref.current.set(k, { v: r.value, t: r.time });
      }
      if (timer === undefined) timer = window.setTimeout(() => {
        timer = undefined;
        setV((x) => x + 1);
      }, 500);
    });
    return () => {
      off();
      clearTimeout(timer);
    };
  }, []);
  return ref.current;
}

// Lists the API may send as null (a Go nil slice); getJSON makes them empty arrays, anywhere in
// the answer, so the pages can map over them.
const listKeys = new Set(['units', 'lots', 'shipments', 'sites', 'sensors', 'loggers', 'legs', 'transitions', 'excursions',
  'locations', 'budget', 'quarantine', 'points', 'blockers', 'meanings', 'signatures', 'mapping_studies', 'decisions', 'custody',
  'budget_rules']);

function fillLists(v: any): any {
  if (Array.isArray(v)) v.forEach(fillLists);
  else if (v && typeof v === 'object') {
    for (const k of Object.keys(v)) {
      if (v[k] === null && listKeys.has(k)) v[k] = [];
      else fillLists(v[k]);
    }
  }
  return v;
}

export const getJSON = async <T>(path: string): Promise<T> => fillLists(await api<T>('GET', path));
