// Shipments: the list (state, live temperature) and a shipment's page — lifecycle, legs, the
// GPS track as an SVG polyline (no map tiles: the console works offline), the temperature chart
// and the excursions.
import { useState } from 'preact/hooks';
import { api, APIError, Role } from '../api';
import { ago, useLive } from '../hooks';
import { TempChart } from '../ccchart';
import {
  canCold, ccPath, duration, enc, Excursion, getJSON, Series, Shipment, Site, temp, useRefresh, when,
} from '../coldchain';
import { onLink } from '../router';
import { ExcursionTable, ForecastNote, Loading, MKTLine, Reports, StatusBadges } from './coldchain';

const states = ['CREATED', 'PACKED', 'IN_TRANSIT', 'DELIVERED', 'QUARANTINED', 'RELEASED', 'REJECTED', 'CANCELLED'];
const stateLabel = (s: string) => s.replace('_', ' ').toLowerCase().replace(/^\w/, (c) => c.toUpperCase());
const loggers = (s: Shipment) => s.loggers.map((l) => l.device);

export function ShipmentState({ s }: { s: string }) {
  const cls = s === 'QUARANTINED' || s === 'REJECTED' ? 'b-bad' : s === 'RELEASED' ? 'b-ok' : s === 'IN_TRANSIT' ? 'b-info' : 'b-none';
  return <span class={`badge ${cls}`} data-testid="shipment-state" data-state={s}>{stateLabel(s)}</span>;
}

export function ShipmentsPage({ tenant }: { tenant: string }) {
  useLive();
  const [filter, setFilter] = useState('');
  const [data, error] = useRefresh(
    () => getJSON<{ shipments: Shipment[] }>(ccPath(tenant, `/shipments${filter ? `?state=${filter}` : ''}`)),
    [tenant, filter], 10000, (d) => d.shipments.flatMap(loggers));
  const [sites] = useRefresh(() => getJSON<{ sites: Site[] }>(ccPath(tenant, '/sites')), [tenant], 300000);
  const siteName = (id: string) => sites?.sites.find((x) => x.id === id)?.name ?? id;
  const now = Date.now();
  return (
    <>
      <h1>Shipments</h1>
      <div class="toolbar">
        <label>State
          <select value={filter} onChange={(e) => setFilter((e.target as HTMLSelectElement).value)} data-testid="state-filter">
            <option value="">All</option>
            {states.map((s) => <option key={s} value={s}>{stateLabel(s)}</option>)}
          </select>
        </label>
      </div>
      {!data ? <Loading error={error} /> : (
        <section class="card">
          {error && <p class="error" role="alert">{error}</p>}
          {data.shipments.length === 0 ? <p class="muted">No shipments{filter ? ` in state ${stateLabel(filter)}` : ''}.</p> : (
            <div class="scroll-x">
              <table data-testid="shipments">
                <thead>
                  <tr>
                    <th scope="col">Shipment</th><th scope="col">Lane</th><th scope="col">Carrier</th><th scope="col">State</th>
                    <th scope="col">Temperature</th><th scope="col">Lots</th><th scope="col">Last position</th>
                  </tr>
                </thead>
                <tbody>
                  {data.shipments.map((s) => (
                    <tr key={s.id} data-shipment={s.id}>
                      <th scope="row"><a href={`/shipments/${enc(s.id)}`} onClick={onLink}>{s.id}</a></th>
                      <td>{siteName(s.lane.origin)} → {siteName(s.lane.destination)}<br /><span class="muted small-inline">{s.lane.mode} · {s.lane.packaging}</span></td>
                      <td>{s.carrier}</td>
                      <td><ShipmentState s={s.state} /></td>
                      <td>
                        <strong>{temp(s.status?.temperature_c, 1)}</strong> <StatusBadges st={s.status} />
                        <ForecastNote st={s.status} />
                      </td>
                      <td class="num">{s.lots.length}</td>
                      <td class="num">{s.status?.position ? ago(Date.parse(s.status.position.at), now) : '–'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>
      )}
    </>
  );
}

const actions: Record<string, string[]> = { CREATED: ['pack', 'cancel'], PACKED: ['dispatch', 'cancel'], IN_TRANSIT: ['receive'] };

export function ShipmentPage({ tenant, role, id }: { tenant: string; role: Role; id: string }) {
  useLive();
  const base = ccPath(tenant, `/shipments/${enc(id)}`);
  const [s, error, reload] = useRefresh(() => getJSON<Shipment>(base), [tenant, id], 10000, loggers);
  const [sites] = useRefresh(() => getJSON<{ sites: Site[] }>(ccPath(tenant, '/sites')), [tenant], 300000);
  const [series, sErr] = useRefresh(() => (s ? getJSON<Series>(`${base}/readings${rangeQuery(s)}`) : Promise.resolve(null)),
    [tenant, id, !!s], 30000, () => (s ? loggers(s) : []));
  const [track] = useRefresh(
    () => (s ? getJSON<{ points: { at: string; lat: number; lon: number }[] }>(`${base}/track${rangeQuery(s)}`) : Promise.resolve(null)),
    [tenant, id, !!s], 30000);
  if (!s) return <><Crumbs id={id} /><Loading error={error} /></>;
  const siteOf = new Map((sites?.sites ?? []).map((x) => [x.id, x]));
  return (
    <>
      <Crumbs id={id} />
      <h1>Shipment {s.id} <ShipmentState s={s.state} /></h1>
      {error && <p class="error" role="alert">{error}</p>}
      <Lifecycle state={s.state} />
      <div class="grid2">
        <section class="card" aria-labelledby="now-h">
          <h2 id="now-h">Now</h2>
          <p class="bigtemp"><span data-testid="temp">{temp(s.status?.temperature_c)}</span>{' '}
            <span class="muted small-inline">{s.status?.at ? `at ${when(s.status.at)}` : 'no reading yet'}</span></p>
          <p><StatusBadges st={s.status} /> <ForecastNote st={s.status} /></p>
          <dl class="facts">
            <dt>Carrier</dt><dd>{s.carrier}</dd>
            <dt>Lane</dt><dd>{s.lane.id}: {siteOf.get(s.lane.origin)?.name ?? s.lane.origin} → {siteOf.get(s.lane.destination)?.name ?? s.lane.destination}</dd>
            <dt>Mode, packaging</dt><dd>{s.lane.mode} · {s.lane.packaging}</dd>
            <dt>Qualified for</dt><dd>{duration(s.lane.qualified_duration_s)} (expected transit {duration(s.lane.expected_transit_s)})</dd>
            <dt>Limits</dt><dd>{temp(s.limits.low_c, 1)} – {temp(s.limits.high_c, 1)}</dd>
            <dt>Loggers</dt><dd>{s.loggers.map((l) => `${l.device}${l.calibration_due ? ` (calibration due ${l.calibration_due})` : ''}`).join('; ')}</dd>
            <dt>Lots</dt>
            <dd>{s.lots.length === 0 ? '–' : s.lots.map((l, i) => <span key={l}>{i > 0 && ', '}<a href={`/lots/${enc(l)}`} onClick={onLink}>{l}</a></span>)}</dd>
          </dl>
          {canCold.manage(role) && actions[s.state] && <TransitionForm tenant={tenant} s={s} onDone={reload} />}
          {(s.state === 'QUARANTINED' || s.state === 'RELEASED' || s.state === 'REJECTED') && (
            <p><a class="btn" href={`/shipments/${enc(s.id)}/release`} onClick={onLink}>QA review{canCold.sign(role) ? ' and release' : ''}</a></p>
          )}
          <Reports tenant={tenant} kind="shipment" id={s.id} role={role} />
        </section>
        <section class="card" aria-labelledby="track-h">
          <h2 id="track-h">Track</h2>
          <Track points={track?.points ?? []} excursions={s.excursions ?? []}
            sites={[siteOf.get(s.lane.origin), siteOf.get(s.lane.destination)].filter((x): x is Site => !!x && x.lat != null)} />
        </section>
      </div>
      <section class="card" aria-labelledby="chart-h">
        <h2 id="chart-h">Temperature</h2>
        {sErr && <p class="error" role="alert">{sErr}</p>}
        <TempChart series={series} label={`Shipment ${s.id} temperature`} testid="shipment-chart" />
        <p><MKTLine m={series?.mkt} label="MKT of the shipment" /></p>
      </section>
      <section class="card" aria-labelledby="legs-h">
        <h2 id="legs-h">Legs</h2>
        <table data-testid="legs">
          <thead>
            <tr><th scope="col">From</th><th scope="col">To</th><th scope="col">Planned departure</th><th scope="col">Departed</th>
              <th scope="col">Planned arrival</th><th scope="col">Arrived</th></tr>
          </thead>
          <tbody>
            {s.legs.map((l, i) => (
              <tr key={i}>
                <td>{siteOf.get(l.from_site)?.name ?? l.from_site}</td><td>{siteOf.get(l.to_site)?.name ?? l.to_site}</td>
                <td class="num">{when(l.planned_departure)}</td><td class="num">{when(l.actual_departure)}</td>
                <td class="num">{when(l.planned_arrival)}</td><td class="num">{l.actual_arrival ? when(l.actual_arrival) : '–'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section class="card" aria-labelledby="exc-h">
        <h2 id="exc-h">Excursions</h2>
        <ExcursionTable tenant={tenant} list={s.excursions ?? []} canAck={canCold.manage(role)} onChange={reload} />
      </section>
      <section class="card" aria-labelledby="hist-h">
        <h2 id="hist-h">Lifecycle history</h2>
        {s.transitions.length === 0 ? <p class="muted">No transitions recorded.</p> : <table data-testid="transitions">
          <thead><tr><th scope="col">When</th><th scope="col">Change</th><th scope="col">By</th><th scope="col">Reason</th></tr></thead>
          <tbody>
            {s.transitions.map((t, i) => (
              <tr key={i}>
                <td class="num">{when(t.at)}</td>
                <td>{stateLabel(t.from)} → <strong>{stateLabel(t.to)}</strong> ({t.action})</td>
                <td>{t.actor}</td><td>{t.reason ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>}
      </section>
    </>
  );
}

// rangeQuery asks for the shipment's whole life (from its creation), at most the API's 31 days.
function rangeQuery(s: Shipment | null): string {
  if (!s?.created) return '';
  const to = Date.now();
  const from = Math.max(Date.parse(s.created), to - 31 * 86400_000);
  return `?from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}`;
}

function Crumbs({ id }: { id: string }) {
  return <p class="crumbs"><a href="/shipments" onClick={onLink}>Shipments</a> › {id}</p>;
}

function Lifecycle({ state }: { state: string }) {
  const main = ['CREATED', 'PACKED', 'IN_TRANSIT', 'DELIVERED', 'QUARANTINED'];
  const end = state === 'REJECTED' ? 'REJECTED' : state === 'CANCELLED' ? 'CANCELLED' : 'RELEASED';
  const steps = state === 'CANCELLED' ? ['CREATED', 'PACKED', 'CANCELLED'] : [...main, end];
  const at = steps.indexOf(state);
  return (
    <ol class="lifecycle" aria-label="Lifecycle" data-testid="lifecycle">
      {steps.map((st, i) => (
        <li key={st} class={i < at ? 'done' : i === at ? 'now' : ''} aria-current={i === at ? 'step' : undefined}>
          {i < at && <span aria-hidden="true">✓ </span>}{stateLabel(st)}
        </li>
      ))}
    </ol>
  );
}

function TransitionForm({ tenant, s, onDone }: { tenant: string; s: Shipment; onDone: () => void }) {
  const [reason, setReason] = useState('');
  const [error, setError] = useState('');
  const act = async (action: string) => {
    setError('');
    if (!reason.trim()) {
      setError('A reason is required.');
      return;
    }
    try {
      await api('POST', ccPath(tenant, `/shipments/${enc(s.id)}/transition`), { action, reason });
      setReason('');
      onDone();
    } catch (e) {
      setError(e instanceof APIError ? e.message : String(e));
    }
  };
  return (
    <form class="row-form" onSubmit={(e) => e.preventDefault()}>
      <label>Reason <input value={reason} onInput={(e) => setReason((e.target as HTMLInputElement).value)} /></label>
      {actions[s.state].map((a) => (
        <button key={a} type="button" class={a === 'cancel' ? 'danger' : ''} onClick={() => act(a)}>{a[0].toUpperCase() + a.slice(1)}</button>
      ))}
      {error && <p class="error" role="alert">{error}</p>}
    </form>
  );
}

// Track draws the GPS points as a polyline in an equirectangular projection (x scaled by the
// cosine of the latitude, so distances look right at this scale), red where a point falls in an
// excursion, with the lane's sites and their geofences.
export function Track({ points, excursions, sites }: { points: { at: string; lat: number; lon: number }[]; excursions: Excursion[]; sites: Site[] }) {
  if (points.length === 0 && sites.length === 0) return <p class="muted" data-testid="track-empty">No positions yet.</p>;
  const W = 600;
  const H = 320;
  const pad = 24;
  const lats = [...points.map((p) => p.lat), ...sites.map((s) => s.lat!)];
  const lons = [...points.map((p) => p.lon), ...sites.map((s) => s.lon!)];
  const k = Math.cos((((Math.min(...lats) + Math.max(...lats)) / 2) * Math.PI) / 180);
  const minX = Math.min(...lons) * k;
  const maxX = Math.max(...lons) * k;
  const minY = Math.min(...lats);
  const maxY = Math.max(...lats);
  const scale = Math.min((W - 2 * pad) / Math.max(maxX - minX, 1e-4), (H - 2 * pad) / Math.max(maxY - minY, 1e-4));
  const ox = (W - (maxX - minX) * scale) / 2;
  const oy = (H - (maxY - minY) * scale) / 2;
  const xy = (lat: number, lon: number): [number, number] => [ox + (lon * k - minX) * scale, H - (oy + (lat - minY) * scale)];
  const spans = excursions.map((e) => [Date.parse(e.start), e.end ? Date.parse(e.end) : Infinity]);
  const bad = (at: string) => {
    const t = Date.parse(at);
    return spans.some(([a, b]) => t >= a && t <= b);
  };
  // Runs of consecutive points in and out of excursions, sharing their boundary point.
  const runs: { bad: boolean; pts: string[] }[] = [];
  points.forEach((p, i) => {
    const b = bad(p.at);
    const pt = xy(p.lat, p.lon).map((v) => v.toFixed(1)).join(',');
    const last = runs[runs.length - 1];
    if (!last || last.bad !== b) {
      const prev = i > 0 ? xy(points[i - 1].lat, points[i - 1].lon).map((v) => v.toFixed(1)).join(',') : null;
      runs.push({ bad: b, pts: prev ? [prev, pt] : [pt] });
    } else last.pts.push(pt);
  });
  const end = points[points.length - 1];
  const start = points[0];
  return (
    <figure class="track" data-testid="track" data-points={points.length}>
      <svg viewBox={`0 0 ${W} ${H}`} role="img"
        aria-label={`GPS track: ${points.length} positions${end ? `, last at ${end.lat.toFixed(4)}, ${end.lon.toFixed(4)} (${when(end.at)})` : ''}`}>
        <rect x="0" y="0" width={W} height={H} fill="#f4f6f8" />
        {sites.map((s) => {
          const [x, y] = xy(s.lat!, s.lon!);
          const r = Math.max(4, ((s.geofence_radius_m ?? 0) / 111320) * scale);
          return (
            <g key={s.id}>
              <circle cx={x} cy={y} r={r} fill="rgba(20,108,46,0.12)" stroke="#146c2e" stroke-dasharray="4 3" />
              <text x={x + 8} y={y - 8} font-size="13" fill="#1a1f24">{s.name}</text>
            </g>
          );
        })}
        {runs.map((r, i) => (
          <polyline key={i} points={r.pts.join(' ')} fill="none" stroke={r.bad ? '#b71c1c' : '#0b5cad'} stroke-width={r.bad ? 4 : 2.5}
            stroke-linejoin="round" stroke-linecap="round" />
        ))}
        {start && <circle cx={xy(start.lat, start.lon)[0]} cy={xy(start.lat, start.lon)[1]} r="4" fill="#fff" stroke="#0b5cad" stroke-width="2" />}
        {end && <circle cx={xy(end.lat, end.lon)[0]} cy={xy(end.lat, end.lon)[1]} r="7" fill="#0b5cad" stroke="#fff" stroke-width="2" />}
      </svg>
      <figcaption class="muted small">
        {points.length} positions{end ? ` · last ${end.lat.toFixed(4)}, ${end.lon.toFixed(4)} at ${when(end.at)}` : ''}
        {' · '}<span class="key-line blue" aria-hidden="true" /> route <span class="key-line red" aria-hidden="true" /> during an excursion
        {' · '}dashed circles: site geofences
      </figcaption>
    </figure>
  );
}
