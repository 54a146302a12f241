// The RPM roster (issue 7, docs/clinical.md §6): a programme's enrolled patients with this
// period's adherence (qualifying days of 16), the last reading, treatment-management time,
// baseline flags, and links to each patient's monthly report (PDF, CSV).
import { useEffect, useState } from 'preact/hooks';
import { api, tenantPath } from '../api';
import { ago, useLive } from '../hooks';
import { navigate, onLink, useSearch } from '../router';
import { apiMessage } from './station';

interface Programme {
  id: string;
  name: string;
  condition?: string;
  time_zone?: string;
}

interface Row {
  enrolment: string;
  patient: { id: string; name: string; mrn: string };
  period: { n: number; start: string; end: string; day: number } | null;
  days: number;
  adherence_pct: number;
  status: string;
  projection?: string;
  device_code?: string | null;
  last_reading: string | null;
  longest_gap?: number;
  review_minutes_this_month?: number;
  interactive_this_month?: boolean;
  open_flags?: number;
  flags: string[];
}

const needDays = 16;
const progKey = 'vigil.programme';
const statusText: Record<string, string> = { MET_16: '16 days met', RANGE_2_15: '2–15 days', BELOW_2: 'Below 2 days' };
const projText: Record<string, string> = { MET: 'Met', ON_TRACK: 'On track', AT_RISK: 'At risk', IMPOSSIBLE: 'Cannot reach 16' };

function thisMonth(): string {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}`;
}

export function RPMPage({ tenant }: { tenant: string }) {
  const search = useSearch();
  const [progs, setProgs] = useState<Programme[] | null>(null);
  const [error, setError] = useState('');
  const want = new URLSearchParams(search).get('programme') ?? '';
  const prog = progs ? (progs.find((p) => p.id === want) ?? progs.find((p) => p.id === sessionStorage.getItem(progKey)) ?? progs[0])?.id ?? '' : '';
  useEffect(() => {
    setProgs(null);
    api<{ programmes: Programme[] }>('GET', tenantPath(tenant, '/rpm/programmes'))
      .then((r) => setProgs(r.programmes ?? []), (e) => {
        setProgs([]);
        setError(apiMessage(e, 'programmes'));
      });
  }, [tenant]);
  const pick = (id: string) => {
    sessionStorage.setItem(progKey, id);
    navigate('/rpm?programme=' + encodeURIComponent(id), true);
  };
  return (
    <>
      <div class="chart-h">
        <h1>Remote monitoring</h1>
        {progs && progs.length > 0 && (
          <label class="inline">Programme
            <select value={prog} data-testid="programme-picker" onChange={(e) => pick((e.target as HTMLSelectElement).value)}>
              {progs.map((p) => <option key={p.id} value={p.id}>{p.name}</option>)}
            </select>
          </label>
        )}
      </div>
      {error && <p class="error" role="alert">{error}</p>}
      {!progs && <p class="loading">Loading…</p>}
      {progs?.length === 0 && !error && <p class="muted">No RPM programmes yet.</p>}
      {prog && <Roster key={prog} tenant={tenant} programme={prog} />}
    </>
  );
}

function Roster({ tenant, programme }: { tenant: string; programme: string }) {
  useLive(); // "last reading … ago" stays current
  const [data, setData] = useState<{ programme: Programme; as_of: string; rows: Row[] } | null>(null);
  const [error, setError] = useState('');
  const [month, setMonth] = useState(thisMonth());
  useEffect(() => {
    let stop = false;
    const load = () => api<{ programme: Programme; as_of: string; rows: Row[] }>('GET', tenantPath(tenant, `/rpm/programmes/${encodeURIComponent(programme)}/roster`))
      .then((r) => !stop && (setData(r), setError('')), (e) => !stop && setError(apiMessage(e, 'roster')));
    load();
    const t = setInterval(load, 5 * 60_000);
    return () => {
      stop = true;
      clearInterval(t);
    };
  }, [tenant, programme]);
  const now = Date.now();
  const report = (r: Row, format: string) =>
    tenantPath(tenant, `/rpm/enrolments/${encodeURIComponent(r.enrolment)}/report?month=${encodeURIComponent(month)}&format=${format}`);
  const rows = data ? [...(data.rows ?? [])].sort((a, b) => a.patient.name.localeCompare(b.patient.name)) : [];
  return (
    <section class="card" aria-labelledby="roster-h">
      <div class="chart-h">
        <h2 id="roster-h">{data?.programme.name ?? programme} <span class="muted">({rows.length} patients{data ? `, as of ${data.as_of}` : ''})</span></h2>
        <label class="inline">Report month <input type="month" value={month} data-testid="report-month"
          onInput={(e) => setMonth((e.target as HTMLInputElement).value || thisMonth())} /></label>
      </div>
      {error && <p class="error" role="alert">{error}</p>}
      {!data && !error && <p class="muted">Loading…</p>}
      {data && rows.length === 0 && <p class="muted">No patients enrolled.</p>}
      {rows.length > 0 && (
        <div class="scroll">
          <table class="roster" data-testid="roster">
            <thead>
              <tr>
                <th scope="col">Patient</th><th scope="col">Period</th><th scope="col">Days with readings</th>
                <th scope="col">Last reading</th><th scope="col">Review time</th><th scope="col">Flags</th><th scope="col">Monthly report</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => {
                const pct = Math.min(100, (r.days / needDays) * 100);
                const last = r.last_reading ? Date.parse(r.last_reading) : null;
                const quiet = last != null && now - last > 2 * 86400_000;
                return (
                  <tr key={r.enrolment} data-enrolment={r.enrolment} data-patient={r.patient.id} data-days={r.days} data-status={r.status}>
                    <th scope="row"><a href={`/patients/${encodeURIComponent(r.patient.id)}`} onClick={onLink}>{r.patient.name}</a>
                      <div class="muted small">MRN {r.patient.mrn}</div></th>
                    <td class="num">{r.period ? <>#{r.period.n}, day {r.period.day} of 30<div class="muted small">{r.period.start} – {r.period.end}</div></> : <span class="muted">not started</span>}</td>
                    <td>
                      <div class="adh" data-testid="adherence">
                        <strong>{r.days} / {needDays}</strong>
                        <span class="bar" role="img" aria-label={`${r.days} of ${needDays} days`}><span class={`fill ${r.days >= needDays ? 'met' : ''}`} style={{ width: `${pct}%` }} /></span>
                      </div>
                      <div class="muted small">{statusText[r.status] ?? r.status}{r.projection ? ` · ${projText[r.projection] ?? r.projection}` : ''}
                        {r.device_code ? ` · ${r.device_code}` : ''}{r.longest_gap ? ` · longest gap ${r.longest_gap} d` : ''}</div>
                    </td>
                    <td class="num">{last ? <span class={quiet ? 'overdue' : ''} title={new Date(last).toLocaleString()}>{ago(last, now)}</span> : <span class="muted">none</span>}</td>
                    <td class="num">{r.review_minutes_this_month ?? 0} min{r.interactive_this_month ? <div class="muted small">interactive ✓</div> : null}</td>
                    <td>{!r.flags?.length ? <span class="muted">–</span> : r.flags.map((f) => <span key={f} class="flag-chip">{f}</span>)}</td>
                    <td class="num">
                      <a class="btn" href={report(r, 'pdf')} target="_blank" rel="noopener" data-testid="report-pdf">PDF<span class="sr-only"> report of {r.patient.name}, {month}</span></a>{' '}
                      <a class="btn" href={report(r, 'csv')} data-testid="report-csv" download>CSV<span class="sr-only"> report of {r.patient.name}, {month}</span></a>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
