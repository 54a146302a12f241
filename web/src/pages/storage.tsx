// Storage overview (every unit with its live temperature and status) and the unit page (chart
// with limits and excursions, excursion table, MKT, stored lots).
import { useState } from 'preact/hooks';
import { Role } from '../api';
import { ago, useLive } from '../hooks';
import { TempChart } from '../ccchart';
import {
  canCold, ccPath, enc, getJSON, kindLabel, Limits, lotStatusLabel, Series, Site, temp, Unit, UnitDetail, UnitStatus,
  useLatest, useRefresh, when,
} from '../coldchain';
import { onLink } from '../router';
import { ExcursionTable, ForecastNote, Loading, MKTLine, StatusBadges } from './coldchain';

type Latest = Map<string, { v: number; t: number }>;

const unitDevices = (u: Unit) => [...u.sensors.map((s) => s.device), ...(u.door_device ? [u.door_device] : [])];

// liveStatus overlays the live stream on the status the API last gave: a newer temperature
// from one of the unit's sensors and the door contact's newest state.
function liveStatus(u: Unit, latest: Latest): { c: number | null; at: number | null; door: boolean } {
  const st = u.status;
  let c = st?.temperature_c ?? null;
  let at = st?.at ? Date.parse(st.at) : null;
  for (const s of u.sensors) {
    const l = latest.get(`${s.device}|${s.metric || 'temp_ambient'}`);
    if (l && (at == null || l.t > at)) {
      c = l.v;
      at = l.t;
    }
  }
  let door = st?.door_open ?? false;
  const d = u.door_device ? doorReading(u.door_device, latest) : undefined;
  if (d && (!st?.at || d.t >= Date.parse(st.at))) door = d.v !== 0;
  return { c, at, door };
}

// doorReading is the newest door-contact reading of dev: "door-open" is not in the metric
// vocabulary, so it arrives as the raw series "<device>:door-open" (or under a mapped name).
function doorReading(dev: string, latest: Latest): { v: number; t: number } | undefined {
  let best: { v: number; t: number } | undefined;
  for (const m of [`${dev}:door-open`, `${dev}/door-open`, 'door-open', 'door_open', 'door']) {
    const l = latest.get(`${dev}|${m}`);
    if (l && (!best || l.t > best.t)) best = l;
  }
  return best;
}

const range = (l: Limits) => `${temp(l.low_c, 1)} – ${temp(l.high_c, 1)}`;

export function StorageOverview({ tenant }: { tenant: string }) {
  useLive();
  const latest = useLatest();
  const [sites] = useRefresh(() => getJSON<{ sites: Site[] }>(ccPath(tenant, '/sites')), [tenant], 300000);
  // Statuses refresh every 10 s, and soon after a reading of any unit's device (an excursion
  // starts with its first reading out of range).
  const [data, error] = useRefresh(() => getJSON<{ units: Unit[] }>(ccPath(tenant, '/units')), [tenant], 10000,
    (d) => d.units.flatMap(unitDevices));
  const units = data?.units;
  const now = Date.now();
  if (!units) return <><h1>Storage</h1><Loading error={error} /></>;
  const siteName = new Map((sites?.sites ?? []).map((s) => [s.id, s.name]));
  const bySite = new Map<string, Unit[]>();
  // Trouble first: excursions, open doors, warming units; then by name.
  const rank = (u: Unit) => (u.status?.state === 'excursion' ? 0 : liveStatus(u, latest).door ? 1 : u.status?.forecast ? 2 : 3);
  for (const u of [...units].sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name))) {
    const l = bySite.get(u.site);
    if (l) l.push(u);
    else bySite.set(u.site, [u]);
  }
  const exc = units.filter((u) => u.status?.state === 'excursion').length;
  const doors = units.filter((u) => liveStatus(u, latest).door).length;
  const warming = units.filter((u) => u.status?.forecast && u.status.state !== 'excursion').length;
  return (
    <>
      <h1>Storage</h1>
      <p class="summary" data-testid="storage-summary">
        <strong>{units.length}</strong> units · <strong class={exc ? 'bad' : ''}>{exc}</strong> in excursion ·{' '}
        <strong>{doors}</strong> door{doors === 1 ? '' : 's'} open · <strong>{warming}</strong> warming
      </p>
      {error && <p class="error" role="alert">{error}</p>}
      {units.length === 0 && <p class="muted">No storage units yet.</p>}
      {[...bySite].sort(([a, la], [b, lb]) => rank(la[0]) - rank(lb[0]) || (siteName.get(a) ?? a).localeCompare(siteName.get(b) ?? b)).map(([site, list]) => (
        <section key={site} aria-labelledby={`site-${site}`} class="site">
          <h2 id={`site-${site}`}>{siteName.get(site) ?? site}</h2>
          <ul class="units">
            {list.map((u) => {
              const l = liveStatus(u, latest);
              const st: UnitStatus | undefined = u.status;
              const state = st?.state ?? 'no_data';
              return (
                <li key={u.id} class={`card unit-card s-${state}${l.door ? ' door' : ''}${st?.forecast ? ' warming' : ''}`} data-unit={u.id} data-state={state}
                  data-door={l.door ? 'open' : 'closed'}>
                  <h3><a href={`/storage/${enc(u.id)}`} onClick={onLink}>{u.name}</a></h3>
                  <p class="muted small">{kindLabel[u.kind] ?? u.kind} · {range(u.limits)}</p>
                  <p class="bigtemp">
                    <span data-testid="temp" class={st?.state === 'excursion' ? 'bad' : ''}>{temp(l.c, 1)}</span>{' '}
                    <span class="muted small-inline">{l.at ? ago(l.at, now) : 'no reading yet'}</span>
                  </p>
                  <StatusBadges st={st} door={l.door} />
                  <ForecastNote st={st} />
                  <p class="muted small">
                    MKT 24 h {temp(st?.mkt_24h_c)} · {st?.lots ?? 0} lot{st?.lots === 1 ? '' : 's'}
                    {st?.risk ? ` · risk ${st.risk}` : ''}
                  </p>
                </li>
              );
            })}
          </ul>
        </section>
      ))}
    </>
  );
}

const HOUR = 3600_000;
const spans = [
  { label: '1 h', span: HOUR },
  { label: '6 h', span: 6 * HOUR },
  { label: '24 h', span: 24 * HOUR },
  { label: '7 d', span: 7 * 24 * HOUR },
];

export function UnitPage({ tenant, role, unit }: { tenant: string; role: Role; unit: string }) {
  useLive();
  const latest = useLatest();
  const base = ccPath(tenant, `/units/${enc(unit)}`);
  const [u, error, reload] = useRefresh(() => getJSON<UnitDetail>(base), [tenant, unit], 10000, unitDevices);
  // The chart's window: the last `span` ms (following now), or a fixed window around an excursion.
  const [span, setSpan] = useState(24 * HOUR);
  const [fixed, setFixed] = useState<{ from: number; to: number; label: string } | null>(null);
  const [series, sErr] = useRefresh(() => {
    const to = new Date(fixed ? fixed.to : Date.now());
    const from = new Date(fixed ? fixed.from : to.getTime() - span);
    return getJSON<Series>(`${base}/readings?from=${from.toISOString()}&to=${to.toISOString()}`);
  }, [tenant, unit, span, fixed], 30000, () => (!fixed && span <= 24 * HOUR && u ? unitDevices(u) : []));
  if (!u) return <><Crumbs name={unit} /><Loading error={error} /></>;
  const l = liveStatus(u, latest);
  const st = u.status;
  return (
    <>
      <Crumbs name={u.name} />
      <h1>{u.name} <span class="muted id">{u.id}</span></h1>
      {error && <p class="error" role="alert">{error}</p>}
      <div class="grid2">
        <section class="card" aria-labelledby="now-h" data-testid="unit-status" data-state={st?.state ?? 'no_data'}>
          <h2 id="now-h">Now</h2>
          <p class="bigtemp"><span data-testid="temp">{temp(l.c)}</span>{' '}
            <span class="muted small-inline">{l.at ? `at ${when(new Date(l.at).toISOString())}` : 'no reading yet'}</span></p>
          <p><StatusBadges st={st} door={l.door} /> <ForecastNote st={st} /></p>
          {st?.excursion && (
            <p data-testid="current-excursion">
              Excursion since {when(st.excursion.start)} ({ago(Date.parse(st.excursion.start), Date.now()).replace(' ago', '')}),
              peak {temp(st.excursion.peak_c)}, {st.excursion.degree_minutes.toFixed(1)} °C·min
              {st.excursion.notified ? ' · alarm sent' : ' · alarm held (delay or door tolerance)'}
            </p>
          )}
          <p><MKTLine m={st?.mkt_24h_c != null ? { celsius: st.mkt_24h_c, coverage: st.mkt_24h_coverage ?? 0,
            status: (st.mkt_24h_coverage ?? 0) >= 0.95 ? 'OK' : 'INSUFFICIENT_COVERAGE' } : null} label="MKT last 24 h" /></p>
        </section>
        <section class="card" aria-labelledby="conf-h">
          <h2 id="conf-h">Unit</h2>
          <dl class="facts">
            <dt>Kind</dt><dd>{kindLabel[u.kind] ?? u.kind}{u.storage_class ? ` · ${u.storage_class}` : ''}</dd>
            <dt>Site</dt><dd>{u.site}</dd>
            <dt>Limits</dt><dd>{range(u.limits)} (hysteresis {temp(u.limits.hysteresis_c ?? 0, 1)})</dd>
            <dt>Alarm delay</dt><dd>{duration0(u.limits.alarm_delay_s)} · door tolerance {duration0(u.limits.door_tolerance_s)}</dd>
            <dt>Sensors</dt>
            <dd>{u.sensors.map((s) => `${s.device} (${s.metric || 'temp_ambient'}${s.calibration_due ? `, calibration due ${s.calibration_due}` : ''})`).join('; ')}</dd>
            {u.door_device && <><dt>Door contact</dt><dd>{u.door_device}</dd></>}
            <dt>Version</dt><dd>{u.version}</dd>
          </dl>
        </section>
      </div>
      <section class="card" aria-labelledby="chart-h">
        <header class="chart-h">
          <h2 id="chart-h">Temperature</h2>
          <span class="toolbar" role="toolbar" aria-label="Time range">
            {spans.map((s) => (
              <button key={s.label} type="button" aria-pressed={!fixed && span === s.span} onClick={() => {
                setFixed(null);
                setSpan(s.span);
              }}>{s.label}</button>
            ))}
          </span>
        </header>
        {sErr && <p class="error" role="alert">{sErr}</p>}
        {fixed && <p class="muted small" data-testid="chart-fixed">Showing {fixed.label} (fixed range); choose a period to follow live again.</p>}
        <TempChart series={series} label={`${u.name} temperature`} testid="unit-chart" />
        <p><MKTLine m={series?.mkt} label="MKT of this window" /></p>
      </section>
      <section class="card" aria-labelledby="exc-h">
        <h2 id="exc-h">Excursions</h2>
        <ExcursionTable tenant={tenant} list={u.excursions ?? []} canAck={canCold.manage(role)} onChange={reload}
          onShow={(x) => {
            const a = Date.parse(x.start);
            const b = x.end ? Date.parse(x.end) : Date.now();
            const pad = Math.max(60_000, (b - a) / 2);
            setFixed({ from: a - pad, to: Math.min(Date.now(), b + pad), label: `the excursion of ${when(x.start)}` });
          }} />
      </section>
      <section class="card" aria-labelledby="lots-h">
        <h2 id="lots-h">Lots stored here</h2>
        {(u.lots ?? []).length === 0 ? <p class="muted">None.</p> : (
          <table data-testid="unit-lots">
            <thead><tr><th scope="col">Lot</th><th scope="col">Product</th><th scope="col">Quantity</th><th scope="col">Expiry</th><th scope="col">Status</th></tr></thead>
            <tbody>
              {u.lots.map((lot) => (
                <tr key={lot.id} data-lot={lot.id}>
                  <th scope="row"><a href={`/lots/${enc(lot.id)}`} onClick={onLink}>{lot.number || lot.id}</a></th>
                  <td>{lot.product}</td>
                  <td class="num">{lot.quantity} {lot.uom}</td>
                  <td class="num">{lot.expiry}</td>
                  <td><LotStatus s={lot.status} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}

const duration0 = (s?: number) => (s == null ? '–' : s < 60 ? `${s} s` : `${Math.round(s / 60)} min`);

function Crumbs({ name }: { name: string }) {
  return <p class="crumbs"><a href="/storage" onClick={onLink}>Storage</a> › {name}</p>;
}

export function LotStatus({ s }: { s: string }) {
  const cls = s === 'quarantined' || s === 'rejected' ? 'b-bad' : s === 'released' ? 'b-ok' : 'b-none';
  return <span class={`badge ${cls}`} data-testid="lot-status" data-status={s}>{lotStatusLabel[s] ?? s}</span>;
}
