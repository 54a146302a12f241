// Lots: the list and a lot's page — quarantine state, stability budget used per temperature
// band across its whole history (spec 3.6/3.7), custody (location) history, the stitched
// temperature chart, the latest signature and the reports.
import { useState } from 'preact/hooks';
import { Role } from '../api';
import { TempChart } from '../ccchart';
import {
  Budget, canCold, ccPath, duration, enc, getJSON, Lot, pct, Review, Series, useRefresh, when,
} from '../coldchain';
import { onLink } from '../router';
import { Loading, MKTLine, Reports } from './coldchain';
import { LotStatus } from './storage';
import { invalidText, SignatureList } from './release';

const statuses = ['available', 'quarantined', 'released', 'rejected'];

function Where({ kind, id }: { kind: string; id: string }) {
  const href = kind === 'unit' ? `/storage/${enc(id)}` : kind === 'shipment' ? `/shipments/${enc(id)}` : '';
  return <>{kind === 'unit' ? 'Unit ' : kind === 'shipment' ? 'Shipment ' : `${kind} `}{href ? <a href={href} onClick={onLink}>{id}</a> : id}</>;
}

export function LotsPage({ tenant }: { tenant: string }) {
  const [status, setStatus] = useState(new URLSearchParams(location.search).get('status') ?? '');
  const [data, error] = useRefresh(() => getJSON<{ lots: Lot[] }>(ccPath(tenant, `/lots${status ? `?status=${status}` : ''}`)),
    [tenant, status], 15000);
  return (
    <>
      <h1>Lots</h1>
      <div class="toolbar">
        <label>Status
          <select value={status} data-testid="status-filter" onChange={(e) => setStatus((e.target as HTMLSelectElement).value)}>
            <option value="">All</option>
            {statuses.map((s) => <option key={s} value={s}>{s[0].toUpperCase() + s.slice(1)}</option>)}
          </select>
        </label>
      </div>
      {!data ? <Loading error={error} /> : (
        <section class="card">
          {data.lots.length === 0 ? <p class="muted">No lots{status ? ` with status ${status}` : ''}.</p> : (
            <div class="scroll-x">
              <table data-testid="lots">
                <thead>
                  <tr><th scope="col">Lot</th><th scope="col">Product</th><th scope="col">Quantity</th><th scope="col">Expiry</th>
                    <th scope="col">Location</th><th scope="col">Status</th><th scope="col">Budget used (highest)</th></tr>
                </thead>
                <tbody>
                  {data.lots.map((l) => {
                    const worst = Math.max(0, ...(l.budget ?? []).map((b) => b.fraction));
                    return (
                      <tr key={l.id} data-lot={l.id}>
                        <th scope="row"><a href={`/lots/${enc(l.id)}`} onClick={onLink}>{l.number || l.id}</a></th>
                        <td>{l.product}</td>
                        <td class="num">{l.quantity} {l.uom}</td>
                        <td class="num">{l.expiry}</td>
                        <td>{l.location ? <Where kind={l.location.kind} id={l.location.id} /> : '–'}</td>
                        <td><LotStatus s={l.status} /></td>
                        <td class="num">{l.budget?.length ? pct(worst) : '–'}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )}
        </section>
      )}
    </>
  );
}

const quarantineText: Record<string, string> = {
  BUDGET_EXHAUSTED: 'stability budget exhausted',
  BUDGET_EXCEEDED: 'more time out of range than the label allows',
  DEADLINE_PASSED: 'use-by deadline passed',
  PERIOD_EXCEEDED: 'single period in band exceeded',
  IRREVERSIBLE: 'irreversible event (e.g. frozen)',
  OUTSIDE_ALLOWANCE: 'reading outside the labelled range and every allowance',
};

export function LotPage({ tenant, role, id }: { tenant: string; role: Role; id: string }) {
  const base = ccPath(tenant, `/lots/${enc(id)}`);
  const [lot, error] = useRefresh(() => getJSON<Lot>(base), [tenant, id], 15000);
  const [series, sErr] = useRefresh(() => getJSON<Series>(`${base}/readings`), [tenant, id], 60000);
  const [review] = useRefresh(() => getJSON<Review>(`${base}/review`), [tenant, id], 60000);
  if (!lot) return <><Crumbs id={id} /><Loading error={error} /></>;
  const latest = review?.signatures?.[review.signatures.length - 1];
  return (
    <>
      <Crumbs id={lot.number || lot.id} />
      <h1>Lot {lot.number || lot.id} <LotStatus s={lot.status} /></h1>
      {error && <p class="error" role="alert">{error}</p>}
      {lot.status === 'quarantined' && (
        <div class="card alert-card" role="status" data-testid="quarantine">
          <h2>Quarantined</h2>
          {(lot.quarantine ?? []).length === 0 ? <p>Awaiting a QA decision.</p> : (
            <ul>
              {lot.quarantine!.map((q, i) => (
                <li key={i}>{quarantineText[q.kind] ?? q.kind}{q.rule ? ` (rule ${q.rule})` : ''} · {when(q.at)}</li>
              ))}
            </ul>
          )}
          <p><a class="btn" href={`/lots/${enc(lot.id)}/release`} onClick={onLink}>{canCold.sign(role) ? 'Review and release or reject' : 'QA review'}</a></p>
        </div>
      )}
      <div class="grid2">
        <section class="card" aria-labelledby="lot-h">
          <h2 id="lot-h">Lot</h2>
          <dl class="facts">
            <dt>Lot id</dt><dd>{lot.id}</dd>
            <dt>Product</dt><dd>{lot.product}</dd>
            <dt>Quantity</dt><dd>{lot.quantity} {lot.uom}</dd>
            <dt>Expiry</dt><dd>{lot.expiry}</dd>
            <dt>Location</dt><dd>{lot.location ? <><Where kind={lot.location.kind} id={lot.location.id} /> since {when(lot.location.since)}</> : '–'}</dd>
            <dt>Version</dt><dd>{lot.version}</dd>
          </dl>
          {latest && (
            <p data-testid="lot-signature">
              <strong>{latest.meaning}</strong>: {latest.manifestation}{' '}
              <span class={latest.state === 'valid' ? 'badge b-ok' : 'badge b-bad'}>{latest.state === 'valid' ? 'signature valid' : invalidText(latest)}</span>
            </p>
          )}
          {lot.status !== 'quarantined' && (
            <p><a href={`/lots/${enc(lot.id)}/release`} onClick={onLink}>QA review and signatures</a></p>
          )}
          <Reports tenant={tenant} kind="lot" id={lot.id} role={role} />
        </section>
        <section class="card" aria-labelledby="budget-h">
          <h2 id="budget-h">Stability budget</h2>
          <p class="muted small">Time in each band across the lot's whole history, in every unit and shipment.</p>
          <BudgetTable list={lot.budget ?? []} />
        </section>
      </div>
      <section class="card" aria-labelledby="chart-h">
        <h2 id="chart-h">Temperature across custody</h2>
        {sErr && <p class="error" role="alert">{sErr}</p>}
        <TempChart series={series} label={`Lot ${lot.number} temperature`} testid="lot-chart" />
        <p><MKTLine m={series?.mkt} label="MKT over the lot's history" /></p>
      </section>
      <section class="card" aria-labelledby="loc-h">
        <h2 id="loc-h">Location history</h2>
        <table data-testid="locations">
          <thead><tr><th scope="col">Where</th><th scope="col">From</th><th scope="col">To</th><th scope="col">Duration</th></tr></thead>
          <tbody>
            {(lot.locations ?? []).map((c, i) => (
              <tr key={i}>
                <td><Where kind={c.kind} id={c.id} /></td>
                <td class="num">{when(c.from)}</td>
                <td class="num">{c.to ? when(c.to) : 'now'}</td>
                <td class="num">{duration(((c.to ? Date.parse(c.to) : Date.now()) - Date.parse(c.from)) / 1000)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      {review && review.signatures.length > 0 && (
        <section class="card" aria-labelledby="sig-h">
          <h2 id="sig-h">Signatures</h2>
          <SignatureList list={review.signatures} />
        </section>
      )}
    </>
  );
}

function Crumbs({ id }: { id: string }) {
  return <p class="crumbs"><a href="/lots" onClick={onLink}>Lots</a> › {id}</p>;
}

export function BudgetTable({ list }: { list: Budget[] }) {
  if (list.length === 0) return <p class="muted">The product has no budget rules.</p>;
  return (
    <table class="budget" data-testid="budget">
      <thead><tr><th scope="col">Rule</th><th scope="col">Band</th><th scope="col">Used</th><th scope="col">Remaining</th></tr></thead>
      <tbody>
        {list.map((b) => {
          const f = Math.min(1, Math.max(0, b.fraction));
          const level = b.fraction >= 1 ? 'over' : b.fraction >= 0.8 ? 'high' : b.fraction >= 0.5 ? 'mid' : 'low';
          return (
            <tr key={b.rule} data-rule={b.rule} data-fraction={b.fraction}>
              <th scope="row">{b.rule}<br /><span class="muted small-inline">{b.kind}</span></th>
              <td class="num">{b.band ? `${b.band} °C` : '–'}</td>
              <td>
                <div class={`bar ${level}`} role="img" aria-label={`${pct(b.fraction)} used`}>
                  <span style={{ width: `${(f * 100).toFixed(1)}%` }} />
                </div>
                <span class="small-inline">{pct(b.fraction)} · {duration(b.consumed_s)} of {duration(b.limit_s)}</span>
              </td>
              <td class="num">{duration(b.remaining_s)}{b.deadline ? <><br /><span class="small-inline">deadline {when(b.deadline)}</span></> : ''}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
