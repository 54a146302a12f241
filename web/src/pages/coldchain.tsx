// Cold chain (issue 8): the routes of the cold-chain pages and the parts they share — status
// badges, the excursion table with acknowledgement, report links. Pages: storage overview and
// unit (storage.tsx), shipments (shipments.tsx), lots (lots.tsx), QA release (release.tsx).
import { useState } from 'preact/hooks';
import { api, APIError, can, Role, Session } from '../api';
import { canCold, ccPath, clock, duration, enc, Excursion, temp, UnitStatus, when } from '../coldchain';
import { onLink } from '../router';
import { StorageOverview, UnitPage } from './storage';
import { ShipmentPage, ShipmentsPage } from './shipments';
import { LotPage, LotsPage } from './lots';
import { ReleaseQueue, ReviewPage } from './release';

// ColdChainRoutes renders the cold-chain page of path, inside a "cc" element that scopes the
// pages' styles.
export function ColdChainRoutes(props: { tenant: string; session: Session; path: string }) {
  const section = /\/release$/.test(props.path) ? '/release' : '/' + (props.path.split('/')[1] ?? '');
  return (
    <div class="cc">
      {canCold.read(props.session.user.role) && (
        <nav class="subnav" aria-label="Cold chain">
          <ul>
            {tabs.map((t) => (
              <li key={t.href}>
                <a href={t.href} onClick={onLink} aria-current={section === t.href ? (props.path === t.href ? 'page' : 'true') : undefined}>{t.label}</a>
              </li>
            ))}
          </ul>
        </nav>
      )}
      {route(props)}
    </div>
  );
}

const tabs = [
  { href: '/storage', label: 'Storage' },
  { href: '/shipments', label: 'Shipments' },
  { href: '/lots', label: 'Lots' },
  { href: '/release', label: 'QA release' },
];

function route({ tenant, session, path }: { tenant: string; session: Session; path: string }) {
  const role = session.user.role;
  if (!canCold.read(role)) {
    return (
      <section class="card" role="alert" data-testid="no-access">
        <h1>No access</h1>
        <p>The cold-chain pages (storage, shipments, lots and QA release) are for the admin, operator, QA and viewer
          roles; your role ({role}) does not include them. <a href="/" onClick={onLink}>Back to the overview</a></p>
      </section>
    );
  }
  const parts = path.split('/').slice(1).map(decodeURIComponent);
  const [section, id, sub] = parts;
  if (section === 'storage') return id ? <UnitPage tenant={tenant} role={role} unit={id} /> : <StorageOverview tenant={tenant} />;
  if (section === 'shipments') {
    if (id && sub === 'release') return <ReviewPage tenant={tenant} session={session} kind="shipment" id={id} />;
    return id ? <ShipmentPage tenant={tenant} role={role} id={id} /> : <ShipmentsPage tenant={tenant} />;
  }
  if (section === 'lots') {
    if (id && sub === 'release') return <ReviewPage tenant={tenant} session={session} kind="lot" id={id} />;
    return id ? <LotPage tenant={tenant} role={role} id={id} /> : <LotsPage tenant={tenant} />;
  }
  return <ReleaseQueue tenant={tenant} role={role} />;
}

// StatusBadges shows a unit's (or shipment's) live state in words, colour and a mark.
export function StatusBadges({ st, door }: { st?: UnitStatus; door?: boolean }) {
  const state = st?.state ?? 'no_data';
  const open = door ?? st?.door_open ?? false;
  return (
    <span class="badges">
      {state === 'excursion' ? (
        <span class="badge b-bad" data-testid="state">
          <span aria-hidden="true">{st?.excursion?.direction === 'low' ? '▼ ' : '▲ '}</span>Excursion
          {st?.excursion?.direction ? ` (${st.excursion.direction})` : ''}
        </span>
      ) : state === 'in_range' ? (
        <span class="badge b-ok" data-testid="state"><span aria-hidden="true">✓ </span>In range</span>
      ) : (
        <span class="badge b-none" data-testid="state">{state === 'no_data' ? 'No data' : state}</span>
      )}
      {open && (
        <span class="badge b-warn" data-testid="door-open">
          <span aria-hidden="true">⚠ </span>Door open{st?.door_open_since ? ` since ${clock(st.door_open_since)}` : ''}
        </span>
      )}
    </span>
  );
}

export function ForecastNote({ st }: { st?: UnitStatus }) {
  const f = st?.forecast;
  if (!f || st?.state === 'excursion') return null;
  return (
    <span class="forecast" data-testid="forecast" title={`Prediction only (${f.method}${f.r2 != null ? `, R² ${f.r2.toFixed(3)}` : ''}${f.fallback ? `, ${f.fallback}` : ''})`}>
      <span aria-hidden="true">↗ </span>Warming: ≈ {Math.round(f.minutes_to_excursion)} min to {temp(f.limit_c, 1)}
    </span>
  );
}

// Reports links the PDF report and the CSV exports; the audit CSV needs audit.read (admin, QA).
export function Reports({ tenant, kind, id, role }: { tenant: string; kind: 'lot' | 'shipment'; id: string; role: Role }) {
  const base = ccPath(tenant, `/${kind === 'lot' ? 'lots' : 'shipments'}/${enc(id)}`);
  return (
    <p class="actions reports" data-testid="reports">
      <a class="btn" href={`${base}/report.pdf`} download={`${id}-report.pdf`}>Report (PDF)</a>
      <a class="btn" href={`${base}/report.csv`} download={`${id}-readings.csv`}>Readings (CSV)</a>
      {can.readAudit(role) && <a class="btn" href={`${base}/audit.csv`} download={`${id}-audit.csv`}>Audit trail (CSV)</a>}
    </p>
  );
}

const rootCauses = ['door', 'power', 'equipment', 'handling', 'sensor', 'transport', 'other'];

// ExcursionTable lists excursions with every metric of spec 3.3; admin and operator acknowledge.
export function ExcursionTable({ tenant, list, canAck, onChange, showSource, onShow }: {
  tenant: string; list: Excursion[]; canAck: boolean; onChange: () => void; showSource?: boolean; onShow?: (x: Excursion) => void;
}) {
  const [acking, setAcking] = useState('');
  const [form, setForm] = useState({ comment: '', root_cause: 'door' });
  const [error, setError] = useState('');
  if (list.length === 0) return <p class="muted" data-testid="no-excursions">No excursions.</p>;
  const ack = async (e: Event, id: string) => {
    e.preventDefault();
    setError('');
    try {
      await api('POST', ccPath(tenant, `/excursions/${enc(id)}/ack`), form);
      setAcking('');
      setForm({ comment: '', root_cause: 'door' });
      onChange();
    } catch (err) {
      setError(err instanceof APIError ? err.message : String(err));
    }
  };
  return (
    <div class="scroll-x">
      <table class="excursions" data-testid="excursions">
        <thead>
          <tr>
            {showSource && <th scope="col">Where</th>}
            <th scope="col">Start</th>
            <th scope="col">End</th>
            <th scope="col">Duration</th>
            <th scope="col">Peak</th>
            <th scope="col">Out of range</th>
            <th scope="col">Degree-minutes</th>
            <th scope="col">Door</th>
            <th scope="col">Acknowledged</th>
          </tr>
        </thead>
        <tbody>
          {list.map((x) => (
            <tr key={x.id} data-excursion={x.id} data-ongoing={x.ongoing ? 'true' : 'false'}>
              {showSource && (
                <td><a href={`/${x.source_kind === 'unit' ? 'storage' : 'shipments'}/${enc(x.source)}`} onClick={onLink}>{x.source}</a></td>
              )}
              <td class="num">{when(x.start)}
                {onShow && <><br /><button type="button" class="link" onClick={() => onShow(x)}>Show on chart</button></>}</td>
              <td class="num">{x.ongoing ? <span class="badge b-bad">ongoing</span> : when(x.end)}</td>
              <td class="num" data-testid="exc-duration">{duration(x.duration_s)}{x.ongoing ? ' so far' : ''}</td>
              <td class="num">
                <span aria-hidden="true">{x.direction === 'low' ? '▼ ' : '▲ '}</span>{temp(x.peak_c)}
                {x.limit_c != null && <span class="muted small-inline"> (limit {temp(x.limit_c, 1)})</span>}
              </td>
              <td class="num">{duration(x.time_out_of_range_s)}</td>
              <td class="num">
                {x.degree_minutes.toFixed(1)} °C·min{x.lower_bound ? <span title="gaps in the data: a lower bound"> (≥)</span> : ''}
                {x.coverage != null && x.coverage < 1 && <span class="muted small-inline"> · coverage {(x.coverage * 100).toFixed(0)} %</span>}
              </td>
              <td data-testid="exc-door">{x.door_open ? 'Open' : '–'}</td>
              <td>
                {x.ack ? (
                  <span data-testid="exc-ack">{x.ack.by} · {when(x.ack.at)}<br /><span class="muted">{x.ack.root_cause ? `${x.ack.root_cause}: ` : ''}{x.ack.comment}</span></span>
                ) : acking === x.id ? (
                  <form class="ack-form" onSubmit={(e) => ack(e, x.id)}>
                    <label>Root cause
                      <select value={form.root_cause} onChange={(e) => setForm({ ...form, root_cause: (e.target as HTMLSelectElement).value })}>
                        {rootCauses.map((r) => <option key={r}>{r}</option>)}
                      </select>
                    </label>
                    <label>Comment <input required value={form.comment}
                      onInput={(e) => setForm({ ...form, comment: (e.target as HTMLInputElement).value })} /></label>
                    <span class="actions">
                      <button class="primary" type="submit">Acknowledge</button>
                      <button type="button" onClick={() => setAcking('')}>Cancel</button>
                    </span>
                    {error && <p class="error" role="alert">{error}</p>}
                  </form>
                ) : canAck ? (
                  <button type="button" onClick={() => { setAcking(x.id); setError(''); }}>Acknowledge…</button>
                ) : (
                  <span class="muted">not yet</span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function MKTLine({ m, label = 'MKT' }: { m?: { celsius: number | null; coverage: number; status: string; activation_energy_j_mol?: number } | null; label?: string }) {
  if (!m) return null;
  const dh = m.activation_energy_j_mol ? ` · ΔH ${(m.activation_energy_j_mol / 1000).toFixed(3)} kJ/mol` : '';
  return (
    <span data-testid="mkt">
      {label}: <strong>{m.status === 'NO_DATA' || m.celsius == null ? 'no data' : temp(m.celsius)}</strong>
      <span class="muted"> · coverage {(m.coverage * 100).toFixed(1)} %{dh}
        {m.status === 'INSUFFICIENT_COVERAGE' ? ' · insufficient coverage' : ''}</span>
    </span>
  );
}

export function Loading({ error }: { error: string }) {
  return error ? <p class="error" role="alert">{error}</p> : <p class="loading">Loading…</p>;
}
