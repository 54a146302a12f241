// The central station (issue 7): a ward's beds as tiles with the latest vitals, NEWS2 in its
// band colour, the highest open alarm in its IEC colour and a stale-data marker, all live.
// GET …/wards/{ward}/station gives the grid; `reading` events (matched by device) update the
// vitals, `alarm` events (subject = patient id) the alarm state; the station is fetched again
// every 30 s (each fetch is audited, so not more often) and soon after a NEWS2 alarm of one of
// the ward's patients, which is how a band change shows without waiting.
import { Component } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, APIError, tenantPath } from '../api';
import { Alarm, compareAlarms, isCalling, Priority } from '../alarms';
import { BandClass, isStale, setBand, Station, StationBed, stationVitals, Ward, when } from '../clinical';
import { ago, useLive } from '../hooks';
import { live, LiveReading } from '../live';
import { formatValue, metricInfo, outOfRange } from '../metrics';
import { navigate, onLink, useSearch } from '../router';
import { PriorityBadge } from './alarms';

const refetchMs = 30_000;
const wardKey = 'vigil.ward';
const tracked = new Set(['hr', 'pr_spo2', 'spo2', 'rr', 'nibp_sys', 'nibp_dia', 'temp_body']);

// A vital as the page keeps it (time in Unix ms, so the stream's readings compare cheaply).
interface V {
  v: number;
  t: number;
}

interface Tile {
  b: StationBed;
  vitals: Map<string, V>;
  ver: number; // bumped on every change of this bed's data
}

export function apiMessage(e: any, what: string): string {
  if (e instanceof APIError) {
    if ((e.status === 404 && /^HTTP 404$|page not found|no such route/i.test(e.message)) || e.status === 503) {
      return `This server has no patient monitoring API yet (${what}: ${e.status}).`;
    }
    if (e.status === 403) return 'Your role may not see this.';
  }
  return e?.message ?? String(e);
}

// alarmSummary: per patient, the open alarms' count, highest priority and whether one calls.
function alarmSummary(): Map<string, { n: number; top: Alarm }> {
  const m = new Map<string, { n: number; top: Alarm }>();
  for (const a of live.alarms.values()) {
    if (!a.subject) continue;
    const s = m.get(a.subject);
    if (!s) m.set(a.subject, { n: 1, top: a });
    else {
      s.n++;
      if (compareAlarms(a, s.top) < 0) s.top = a;
    }
  }
  return m;
}

export function StationPage({ tenant }: { tenant: string }) {
  const search = useSearch();
  const [wards, setWards] = useState<Ward[] | null>(null);
  const [error, setError] = useState('');
  const want = new URLSearchParams(search).get('ward') ?? '';
  const ward = wards ? (wards.find((w) => w.id === want) ?? wards.find((w) => w.id === sessionStorage.getItem(wardKey)) ?? wards[0])?.id ?? '' : '';

  useEffect(() => {
    setWards(null);
    api<{ wards: Ward[] }>('GET', tenantPath(tenant, '/wards'))
      .then((r) => setWards(r.wards ?? []), (e) => {
        setWards([]);
        setError(apiMessage(e, 'wards'));
      });
  }, [tenant]);

  const pick = (id: string) => {
    sessionStorage.setItem(wardKey, id);
    navigate('/station?ward=' + encodeURIComponent(id), true);
  };

  return (
    <>
      <div class="chart-h">
        <h1>Central station</h1>
        {wards && wards.length > 0 && (
          <label class="inline">Ward
            <select value={ward} data-testid="ward-picker" onChange={(e) => pick((e.target as HTMLSelectElement).value)}>
              {wards.map((w) => <option key={w.id} value={w.id}>{w.name}{w.beds ? ` (${w.beds.length} beds)` : ''}</option>)}
            </select>
          </label>
        )}
      </div>
      {error && <p class="error" role="alert">{error}</p>}
      {!wards && <p class="loading">Loading…</p>}
      {wards?.length === 0 && !error && <p class="muted">No wards yet.</p>}
      {ward && <WardGrid key={ward} tenant={tenant} ward={ward} />}
    </>
  );
}

function WardGrid({ tenant, ward }: { tenant: string; ward: string }) {
  useLive();
  const tiles = useRef<Tile[]>([]);
  const byDevice = useRef(new Map<string, Tile>());
  const patients = useRef(new Set<string>());
  const [meta, setMeta] = useState<{ name: string; fetched: number; offset: number } | null>(null);
  const [error, setError] = useState('');
  const [fetchN, setFetchN] = useState(0);
  const refetchTimer = useRef<number | undefined>(undefined);

  // Fetch the station (again).
  useEffect(() => {
    let stop = false;
    api<Station>('GET', tenantPath(tenant, `/wards/${encodeURIComponent(ward)}/station`))
      .then((st) => {
        if (stop) return;
        const old = new Map(tiles.current.map((t) => [t.b.bed.id, t]));
        const next: Tile[] = [];
        byDevice.current.clear();
        patients.current.clear();
        for (const b of st.beds ?? []) {
          const prev = old.get(b.bed.id);
          const vitals = new Map<string, V>();
          for (const [k, x] of Object.entries(b.vitals ?? {})) vitals.set(k, { v: x.value, t: Date.parse(x.t) });
          // Readings the stream delivered after the server's answer was made stay.
          if (prev && prev.b.patient?.id === b.patient?.id) {
            for (const [k, x] of prev.vitals) if ((vitals.get(k)?.t ?? 0) < x.t) vitals.set(k, x);
          }
          const t: Tile = { b, vitals, ver: (prev?.ver ?? 0) + 1 };
          next.push(t);
          for (const d of b.devices ?? []) byDevice.current.set(d, t);
          if (b.patient) patients.current.add(b.patient.id);
        }
        tiles.current = next;
        setError('');
        setMeta({ name: st.ward.name, fetched: Date.now(), offset: Date.parse(st.now) - Date.now() || 0 });
      })
      .catch((e) => !stop && setError(apiMessage(e, 'station')));
    const t = window.setTimeout(() => setFetchN((n) => n + 1), refetchMs);
    return () => {
      stop = true;
      clearTimeout(t);
    };
  }, [tenant, ward, fetchN]);

  // Live vitals: readings of a bed's devices.
  useEffect(() => live.onReadings((rs: LiveReading[]) => {
    for (const r of rs) {
      if (r.value == null || !tracked.has(r.metric)) continue;
      const tile = byDevice.current.get(r.device);
      if (!tile) continue;
      const prev = tile.vitals.get(r.metric);
      if (prev && prev.t > r.time) continue;
      tile.vitals.set(r.metric, { v: r.value, t: r.time });
      tile.ver++;
    }
  }), []);

  // A NEWS2 alarm (a band change) of one of the ward's patients: fetch the station soon.
  useEffect(() => live.onAlarm((a) => {
    if (!patients.current.has(a.subject) || !a.code?.startsWith('NEWS2')) return;
    if (refetchTimer.current !== undefined) return;
    refetchTimer.current = window.setTimeout(() => {
      refetchTimer.current = undefined;
      setFetchN((n) => n + 1);
    }, 500);
  }), []);
  useEffect(() => () => clearTimeout(refetchTimer.current), []);

  const now = Date.now() + (meta?.offset ?? 0);
  const staleTick = Math.floor(now / 10_000); // stale markers are re-checked every 10 s
  const liveAlarms = live.state === 'open';
  const alarms = alarmSummary();
  const list = tiles.current;
  const occupied = list.filter((t) => t.b.patient).length;
  const counts: Record<string, number> = {};
  for (const t of list) {
    const a = t.b.patient && alarms.get(t.b.patient.id);
    if (a) counts[a.top.priority] = (counts[a.top.priority] ?? 0) + 1;
  }

  return (
    <>
      {error && <p class="error" role="alert">{error}</p>}
      {meta && (
        <p class="summary" data-testid="station-summary">
          <strong>{meta.name}</strong> · {list.length} beds, {occupied} patients
          {(['high', 'medium', 'low'] as Priority[]).filter((p) => counts[p]).map((p) => <> · <strong>{counts[p]}</strong> with a {p}-priority alarm</>)}
          {' · '}<span class="muted">NEWS2 and due times as of {ago(meta.fetched, Date.now())}</span>{' '}
          <button type="button" class="link" onClick={() => setFetchN((n) => n + 1)}>Refresh</button>
        </p>
      )}
      {!meta && !error && <p class="loading">Loading…</p>}
      <ul class="station" data-testid="station" aria-label="Beds">
        {list.map((t) => {
          const pid = t.b.patient?.id;
          const a = pid ? alarms.get(pid) : undefined;
          const alarm = liveAlarms
            ? a ? { n: a.n, p: a.top.priority, calling: isCalling(a.top), text: a.top.message || a.top.code } : null
            : t.b.alarms?.highest ? { n: t.b.alarms.open, p: t.b.alarms.highest, calling: false, text: '' } : null;
          return <BedTile key={t.b.bed.id} tile={t} ver={t.ver} now={now} staleTick={staleTick}
            ap={alarm?.p} an={alarm?.n ?? 0} ac={alarm?.calling ?? false} at={alarm?.text ?? ''} />;
        })}
      </ul>
    </>
  );
}

interface TileProps {
  tile: Tile;
  ver: number;
  now: number;
  staleTick: number;
  ap?: Priority;
  an: number;
  ac: boolean;
  at: string;
}

// A tile re-renders only when its bed's data, its alarm state or the 10-s stale tick change.
class BedTile extends Component<TileProps> {
  shouldComponentUpdate(n: TileProps) {
    const a = this.props;
    return !(a.ver === n.ver && a.staleTick === n.staleTick && a.ap === n.ap && a.an === n.an && a.ac === n.ac && a.at === n.at && a.tile === n.tile);
  }
  render() {
    return tileView(this.props);
  }
}

// span: "5 min", "2 h", for a time span in ms.
export function span(ms: number): string {
  const m = Math.round(ms / 60_000);
  if (m < 60) return `${m} min`;
  if (m < 48 * 60) return `${Math.floor(m / 60)} h ${m % 60 ? (m % 60) + ' min' : ''}`.trim();
  return `${Math.round(m / 1440)} d`;
}

function tileView({ tile, now, ap, an, ac, at }: TileProps) {
  const b = tile.b;
  if (!b.patient) {
    return (
      <li class="tile empty" data-bed={b.bed.id}>
        <div class="tile-h"><span class="bedl">Bed {b.bed.label}</span></div>
        <p class="muted">Empty bed</p>
      </li>
    );
  }
  const p = b.patient;
  const s = setBand(b.news2);
  const stale: string[] = [];
  for (const [k, x] of tile.vitals) if (isStale(k, x.t, now)) stale.push(k);
  const val = (m: string) => tile.vitals.get(m);
  const pulse = val('hr') ? 'hr' : 'pr_spo2';
  const shown = stationVitals.map((x) => (x.metric === 'hr' ? { ...x, metric: pulse } : x));
  const due = b.next_due ? Date.parse(b.next_due) : null;
  return (
    <li class={`tile${ap ? ' a-' + ap : ''}${ac ? ' calling' : ''}`} data-bed={b.bed.id} data-patient={p.id}
      data-band={s.band ?? ''} data-band-class={s.cls} data-alarm-priority={ap ?? ''} data-stale={stale.join(' ')}>
      <div class="tile-h">
        <span class="bedl">Bed {b.bed.label}</span>
        <a href={`/patients/${encodeURIComponent(p.id)}`} onClick={onLink} class="pname">{p.name}</a>
        <span class="muted small">{p.age != null ? `${p.age} y` : ''}{p.sex ? ` ${p.sex[0].toUpperCase()}` : ''}</span>
      </div>
      <div class="tile-b">
        <News2Box cls={s.cls} score={s.score} text={s.short} complete={!b.news2 || b.news2.complete} title={s.text} />
        <ul class="tvals">
          {shown.map((x) => {
            const v = val(x.metric);
            const st = v ? isStale(x.metric, v.t, now) : false;
            const bad = v ? outOfRange(x.metric, v.v) : false;
            let text = v ? formatValue(x.metric, v.v) : '–';
            if (x.metric === 'nibp_sys' && v) text += '/' + formatValue('nibp_dia', val('nibp_dia')?.v);
            return (
              <li key={x.metric} class={`tv${bad ? ' bad' : ''}${st ? ' stale' : ''}`} data-metric={x.metric}
                title={v ? `${x.label} measured ${new Date(v.t).toLocaleTimeString()}${st ? ' — stale, no longer counts in NEWS2' : ''}` : `${x.label}: no reading`}>
                <span class="vl">{x.label}</span> <span class="vv">{text}</span>{st && <span class="stale-tag">old</span>}
              </li>
            );
          })}
        </ul>
      </div>
      <div class="tile-f">
        {ap ? (
          <a class="tile-alarm" href={`/alarms?subject=${encodeURIComponent(p.id)}`} onClick={onLink} data-testid="tile-alarm">
            <PriorityBadge p={ap} calling={ac} />{' '}{at}{an > 1 ? ` (+${an - 1})` : ''}
          </a>
        ) : <span class="muted small">No open alarms</span>}
        {stale.length > 0 && <span class="stale-note" data-testid="stale" data-metrics={stale.join(' ')}>Stale data: {stale.map((m) => metricInfo(m).label).join(', ')}</span>}
        {b.overdue ? <span class="overdue">Observations overdue</span>
          : due ? <span class="muted small" title={when(b.next_due)}>Obs due {due > now ? 'in ' + span(due - now) : 'now'}</span> : null}
      </div>
    </li>
  );
}

export function News2Box({ cls, score, text, complete, title }: { cls: BandClass; score: string; text: string; complete: boolean; title?: string }) {
  return (
    <div class={`news2 ${cls}${complete ? '' : ' incomplete'}`} data-testid="news2" title={title}>
      <span class="n2-score" aria-hidden="true">{score}</span>
      <span class="n2-text"><span class="sr-only">NEWS2 {score}, </span><span aria-hidden="true">NEWS2 · </span>{text}</span>
    </div>
  );
}
