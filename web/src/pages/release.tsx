// QA release (21 CFR Part 11): the queue of lots and shipments awaiting a decision, the review of
// one record with its data, and the signing dialog — meaning, reason and re-authentication as
// docs/coldchain.md defines it (user id and password at the first signing of a session, the
// password alone later); the signature manifestations and their verification state.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, APIError, Role, Session } from '../api';
import { TempChart } from '../ccchart';
import {
  Budget, canCold, ccPath, enc, Excursion, getJSON, Lot, Review, Series, Shipment, Signature, temp, useRefresh, when,
} from '../coldchain';
import { onLink } from '../router';
import { ExcursionTable, Loading, MKTLine, Reports } from './coldchain';
import { BudgetTable } from './lots';
import { LotStatus } from './storage';
import { ShipmentState } from './shipments';

export function ReleaseQueue({ tenant, role }: { tenant: string; role: Role }) {
  const [lots, lErr] = useRefresh(() => getJSON<{ lots: Lot[] }>(ccPath(tenant, '/lots?status=quarantined')), [tenant], 15000);
  const [ships, sErr] = useRefresh(() => getJSON<{ shipments: Shipment[] }>(ccPath(tenant, '/shipments?state=QUARANTINED')), [tenant], 15000);
  return (
    <>
      <h1>QA release</h1>
      <p class="muted">Quarantined lots and delivered shipments awaiting a decision.
        {canCold.sign(role) ? ' Open one to review its data and release or reject it with your electronic signature.'
          : ' Only the QA role signs releases; you can read the reviews.'}</p>
      <section class="card" aria-labelledby="ql-h">
        <h2 id="ql-h">Lots</h2>
        {!lots ? <Loading error={lErr} /> : lots.lots.length === 0 ? <p class="muted" data-testid="no-lots">No lots in quarantine.</p> : (
          <table data-testid="queue-lots">
            <thead><tr><th scope="col">Lot</th><th scope="col">Product</th><th scope="col">Quantity</th><th scope="col">Why</th><th scope="col">Location</th><th scope="col" /></tr></thead>
            <tbody>
              {lots.lots.map((l) => (
                <tr key={l.id} data-lot={l.id}>
                  <th scope="row"><a href={`/lots/${enc(l.id)}`} onClick={onLink}>{l.number || l.id}</a></th>
                  <td>{l.product}</td>
                  <td class="num">{l.quantity} {l.uom}</td>
                  <td>{(l.quarantine ?? []).map((q) => q.kind.toLowerCase().replace(/_/g, ' ')).join(', ') || '–'}</td>
                  <td>{l.location ? `${l.location.kind} ${l.location.id}` : '–'}</td>
                  <td><a class="btn" href={`/lots/${enc(l.id)}/release`} onClick={onLink}>Review</a></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section class="card" aria-labelledby="qs-h">
        <h2 id="qs-h">Shipments</h2>
        {!ships ? <Loading error={sErr} /> : ships.shipments.length === 0 ? <p class="muted">No shipments in quarantine.</p> : (
          <table data-testid="queue-shipments">
            <thead><tr><th scope="col">Shipment</th><th scope="col">Lane</th><th scope="col">Lots</th><th scope="col">State</th><th scope="col" /></tr></thead>
            <tbody>
              {ships.shipments.map((s) => (
                <tr key={s.id} data-shipment={s.id}>
                  <th scope="row"><a href={`/shipments/${enc(s.id)}`} onClick={onLink}>{s.id}</a></th>
                  <td>{s.lane.origin} → {s.lane.destination}</td>
                  <td class="num">{s.lots.length}</td>
                  <td><ShipmentState s={s.state} /></td>
                  <td><a class="btn" href={`/shipments/${enc(s.id)}/release`} onClick={onLink}>Review</a></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}

const decided = (status: string) => /^(released|rejected)$/i.test(status);
const quarantined = (status: string) => /^quarantined$/i.test(status);

export function ReviewPage({ tenant, session, kind, id }: { tenant: string; session: Session; kind: 'lot' | 'shipment'; id: string }) {
  const role = session.user.role;
  const path = kind === 'lot' ? 'lots' : 'shipments';
  const base = ccPath(tenant, `/${path}/${enc(id)}`);
  const [review, rErr, reloadReview] = useRefresh(() => getJSON<Review>(`${base}/review`), [tenant, kind, id], 30000);
  const [rec, , reloadRec] = useRefresh(() => getJSON<Lot | Shipment>(base), [tenant, kind, id], 30000);
  const [series] = useRefresh(() => getJSON<Series>(`${base}/readings`), [tenant, kind, id], 60000);
  const [signing, setSigning] = useState(false);
  const [done, setDone] = useState<Signature | null>(null);
  const [notice, setNotice] = useState('');
  const reload = () => {
    reloadReview();
    reloadRec();
  };
  if (!review) return <><Crumbs kind={kind} id={id} /><Loading error={rErr} /></>;
  const signable = review.can_sign || (review.blockers.length > 0 && quarantined(review.status));
  const lot = kind === 'lot' ? (rec as Lot | null) : null;
  const ship = kind === 'shipment' ? (rec as Shipment | null) : null;
  return (
    <>
      <Crumbs kind={kind} id={id} />
      <h1>QA review: {kind} {lot?.number || id}{' '}
        {kind === 'lot' ? <LotStatus s={review.status} /> : <ShipmentState s={review.status} />}</h1>
      {rErr && <p class="error" role="alert">{rErr}</p>}
      {notice && <p class="notice" role="status" data-testid="review-notice">{notice}</p>}
      {done && (
        <section class="card signed" role="status" data-testid="signed">
          <h2>Signed</h2>
          <p class="manifestation" data-testid="signed-manifestation">{done.manifestation}</p>
          <p class="muted small">UTC {done.signed_at} · signature {done.id}{done.reason ? ` · reason: ${done.reason}` : ''}</p>
        </section>
      )}
      <SignatureState review={review} />
      <section class="card" aria-labelledby="sign-h">
        <h2 id="sign-h">Decision</h2>
        <dl class="facts">
          <dt>Record</dt><dd>{review.record.type} {review.record.id}, version {review.record.version}</dd>
          <dt>Reviewed data as of</dt><dd>{when(review.as_of)} (UTC {review.as_of})</dd>
          <dt>Report SHA-256</dt><dd><code class="hash" data-testid="report-sha">{review.report_sha256}</code></dd>
        </dl>
        {review.blockers.length > 0 && !(decided(review.status) && review.signature_state === 'valid') && (
          <div class="blockers" role="status" data-testid="blockers">
            <strong>{quarantined(review.status) ? 'Release is blocked:' : 'Not signable now:'}</strong>
            <ul>{review.blockers.map((b) => <li key={b}>{b}</li>)}</ul>
            {quarantined(review.status) && <span class="muted small">Rejecting is still possible.</span>}
          </div>
        )}
        {canCold.sign(role) ? (
          signable ? (
            <p><button type="button" class="primary" data-testid="open-sign" onClick={() => { setDone(null); setNotice(''); setSigning(true); }}>
              Release or reject…</button></p>
          ) : (
            <p class="muted" data-testid="not-signable">
              {decided(review.status) && review.signature_state === 'valid'
                ? 'A decision with a valid signature exists; nothing to sign.'
                : `Nothing to sign now: the ${kind} is ${review.status.toLowerCase()}${kind === 'lot' ? ' (only quarantined lots are decided)' : ''}.`}
            </p>
          )
        ) : (
          <p class="muted" data-testid="sign-qa-only">Only the QA role may release or reject with an electronic signature.</p>
        )}
        <Reports tenant={tenant} kind={kind} id={id} role={role} />
      </section>
      <section class="card" aria-labelledby="data-h">
        <h2 id="data-h">Review data</h2>
        <p class="muted small">As of {when(review.as_of)}: the content your signature is bound to.</p>
        <ReportView report={review.report} kind={kind} lot={lot} ship={ship} />
        <h3>Excursions</h3>
        <ExcursionTable tenant={tenant} list={reportExcursions(review.report) ?? (ship?.excursions ?? series?.excursions) ?? []}
          canAck={canCold.manage(role)} onChange={reload} showSource={kind === 'lot'} />
        <h3>Temperature</h3>
        <TempChart series={series} label={`${kind} ${id} temperature`} testid="review-chart" height={200} />
        <p><MKTLine m={series?.mkt} /></p>
        <details>
          <summary>Report data (the JSON the signature is bound to)</summary>
          <pre class="report-json">{JSON.stringify(review.report, null, 2)}</pre>
        </details>
      </section>
      {review.signatures.length > 0 && (
        <section class="card" aria-labelledby="sigs-h">
          <h2 id="sigs-h">Signatures</h2>
          <SignatureList list={review.signatures} />
        </section>
      )}
      {signing && (
        <SignDialog tenant={tenant} session={session} path={`${base}/sign`} review={review} label={`${kind} ${lot?.number || id}`}
          onClose={() => setSigning(false)}
          onSigned={(sig) => {
            setSigning(false);
            setDone(sig);
            reload();
          }}
          onStale={(msg) => {
            setSigning(false);
            setNotice(msg);
            reload();
          }} />
      )}
    </>
  );
}

// The release report (docs/coldchain.md "Review") as the screen shows it; the raw JSON is
// below it. Fields the report lacks fall back to the current record.
interface ReportLot {
  id: string; number?: string; product?: string; quantity?: number; uom?: string; expiry?: string;
  custody?: { kind: string; id: string; from: string; to: string | null }[];
  budget?: { rule: string; kind: string; band?: string; limit_s: number; consumed_s: number }[];
}

function reportExcursions(r: any): Excursion[] | null {
  if (!r || !Array.isArray(r.excursions)) return null;
  return r.excursions.map((x: any) => ({
    ...x,
    source_kind: x.source_kind ?? (/^shipment/.test(x.source ?? '') ? 'shipment' : 'unit'),
    ongoing: x.ongoing ?? !!x.ongoing_at_as_of,
    end: x.end ?? null,
    duration_s: x.duration_s ?? 0,
    time_out_of_range_s: x.time_out_of_range_s ?? 0,
    degree_minutes: x.degree_minutes ?? 0,
    ack: x.ack ?? null,
  }));
}

const budgetOf = (b: NonNullable<ReportLot['budget']>): Budget[] => b.map((x) => ({
  rule: x.rule, kind: x.kind, band: x.band, limit_s: x.limit_s, consumed_s: x.consumed_s,
  fraction: x.limit_s > 0 ? x.consumed_s / x.limit_s : 0, remaining_s: Math.max(0, x.limit_s - x.consumed_s), deadline: null,
}));

function ReportLotView({ l, productName }: { l: ReportLot; productName?: string }) {
  return (
    <div class="report-lot" data-lot={l.id}>
      <dl class="facts">
        <dt>Lot</dt><dd>{l.number ?? l.id} ({l.id})</dd>
        <dt>Product</dt><dd>{productName ? `${productName} (${l.product})` : l.product}</dd>
        <dt>Quantity</dt><dd>{l.quantity} {l.uom} · expiry {l.expiry}</dd>
        <dt>Custody</dt>
        <dd>{(l.custody ?? []).map((c, i) => (
          <span key={i} class="custody">{i > 0 && ' → '}{c.kind} {c.id} ({when(c.from)} – {c.to ? when(c.to) : 'now'})</span>
        ))}</dd>
      </dl>
      <BudgetTable list={budgetOf(l.budget ?? [])} />
    </div>
  );
}

function ReportView({ report, kind, lot, ship }: { report: any; kind: 'lot' | 'shipment'; lot: Lot | null; ship: Shipment | null }) {
  const decisions: { signature: string; meaning: string; signed_at: string; signer: string }[] = report?.decisions ?? [];
  return (
    <div data-testid="report-view">
      {kind === 'lot' && (report?.lot ? <ReportLotView l={report.lot} productName={report.product?.name} /> : lot && (
        <ReportLotView l={{ ...lot, custody: lot.locations, budget: lot.budget }} />
      ))}
      {kind === 'shipment' && (() => {
        const sh = report?.shipment ?? ship;
        if (!sh) return null;
        return (
          <>
            <dl class="facts">
              <dt>Shipment</dt><dd>{sh.id} · {sh.carrier}</dd>
              <dt>Lane</dt><dd>{sh.lane?.id}: {sh.lane?.origin} → {sh.lane?.destination} ({sh.lane?.mode}, {sh.lane?.packaging})</dd>
              <dt>Limits</dt><dd>{temp(sh.limits?.low_c, 1)} – {temp(sh.limits?.high_c, 1)}</dd>
              <dt>Loggers</dt><dd>{(sh.loggers ?? []).map((l: any) => l.device).join(', ') || '–'}</dd>
              <dt>Lifecycle</dt>
              <dd>{(sh.transitions ?? []).map((t: any) => `${t.to} ${when(t.at)} (${t.actor})`).join(' → ') || '–'}</dd>
            </dl>
            {(report?.lots ?? []).map((l: ReportLot) => <ReportLotView key={l.id} l={l} />)}
          </>
        );
      })()}
      {decisions.length > 0 && (
        <>
          <h3>Earlier decisions</h3>
          <ul>{decisions.map((d) => <li key={d.signature}>{d.meaning} · {d.signer} · {when(d.signed_at)}</li>)}</ul>
        </>
      )}
    </div>
  );
}

function Crumbs({ kind, id }: { kind: 'lot' | 'shipment'; id: string }) {
  return (
    <p class="crumbs"><a href="/release" onClick={onLink}>QA release</a> ›{' '}
      <a href={`/${kind === 'lot' ? 'lots' : 'shipments'}/${enc(id)}`} onClick={onLink}>{id}</a> › review</p>
  );
}

function SignatureState({ review }: { review: Review }) {
  if (review.signature_state === 'invalidated') {
    return (
      <div class="card alert-card" role="alert" data-testid="signature-state" data-state="invalidated">
        <strong>Invalid — signed record has changed since signing.</strong> The earlier decision no longer covers the current
        data; a new decision is needed.
      </div>
    );
  }
  if (review.signature_state === 'valid') {
    return (
      <p class="ok-card" data-testid="signature-state" data-state="valid">
        <span aria-hidden="true">✓ </span>The latest signature verifies against the current record.
      </p>
    );
  }
  return null;
}

// invalidText says why a signature does not verify: "Invalid — <reason>".
export function invalidText(s: Signature): string {
  const why = (s.state_message || s.state.replace(/_/g, ' ')).replace(/^invalid\s*[—–-]\s*/i, '');
  return `Invalid — ${why}`;
}

export function SignatureList({ list }: { list: Signature[] }) {
  return (
    <ul class="signatures">
      {[...list].reverse().map((s) => (
        <li key={s.id} data-testid="signature" data-state={s.state}>
          <p class="manifestation">{s.manifestation}</p>
          <p class="small">
            <span class={s.state === 'valid' ? 'badge b-ok' : 'badge b-bad'}>
              {s.state === 'valid' ? 'Valid' : invalidText(s)}
            </span>{' '}
            <strong>{s.printed_name}</strong> ({s.signer_id}) · <strong>{s.meaning}</strong> · {when(s.signed_at, s.display_tz)}
            {s.display_tz ? ` (${s.display_tz})` : ''} · UTC {s.signed_at}
          </p>
          <p class="muted small">
            {s.reason ? `Reason: ${s.reason} · ` : ''}{s.method ?? ''}{s.first_in_session ? ', first signing of the session' : ''} · {s.id}
          </p>
        </li>
      ))}
    </ul>
  );
}

// SignDialog is a modal <dialog> (focus stays inside, Escape cancels). It sends exactly the
// as_of and report_sha256 of the review shown, so the signature binds to what QA read.
function SignDialog({ session, path, review, label, onClose, onSigned, onStale }: {
  tenant: string; session: Session; path: string; review: Review; label: string;
  onClose: () => void; onSigned: (s: Signature) => void; onStale: (msg: string) => void;
}) {
  const dlg = useRef<HTMLDialogElement>(null);
  const pw = useRef<HTMLInputElement>(null);
  const [meaning, setMeaning] = useState('');
  const [reason, setReason] = useState('');
  const [userId, setUserId] = useState('');
  const [password, setPassword] = useState('');
  const [needId, setNeedId] = useState(review.requirement.user_id);
  const [error, setError] = useState('');
  const [locked, setLocked] = useState(false);
  const [busy, setBusy] = useState(false);
  const blocked = review.blockers.length > 0;

  useEffect(() => {
    const d = dlg.current!;
    if (!d.open) d.showModal();
    return () => d.open && d.close();
  }, []);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!meaning) {
      setError('Choose the meaning of your signature.');
      return;
    }
    setBusy(true);
    setError('');
    try {
      const body: Record<string, string> = { meaning, password, reason: reason.trim(), as_of: review.as_of, report_sha256: review.report_sha256 };
      if (needId) body.user_id = userId.trim();
      const r = await api<{ signature: Signature }>('POST', path, body);
      onSigned(r.signature);
    } catch (err) {
      const b = err instanceof APIError ? err.body : null;
      const code = b?.code ?? '';
      setPassword('');
      if (code === 'wrong_password') {
        const left = b.max_failures && b.failures != null ? b.max_failures - b.failures : null;
        setError(`Wrong user ID or password: the signature was not applied. ${b.failures ?? '?'} of ${b.max_failures ?? 5} failed attempts`
          + `${left != null ? `; ${left} more lock${left === 1 ? 's' : ''} the account` : ''} (failed sign-ins count too).`);
        pw.current?.focus();
      } else if (code === 'locked') {
        setLocked(true);
        setError('Your account is locked after too many failed attempts (sign-ins and signings together). The signature was not applied; an administrator can unlock the account.');
      } else if (code === 'user_id_required') {
        setNeedId(true);
        setError('Enter your user ID as well: this is the first signing in this session.');
      } else if (code === 'record_changed') {
        onStale('The record changed since this review was loaded, so nothing was signed. The review has been reloaded: check the data and sign again.');
      } else if (code === 'blocked') {
        setError(`Release is blocked: ${err instanceof Error ? err.message : ''}. You may reject instead.`);
      } else if (err instanceof APIError && err.status === 403 && !code) {
        setError('Your role may not sign releases.');
      } else {
        setError(err instanceof Error ? err.message : String(err));
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <dialog ref={dlg} class="sign-dialog" aria-labelledby="sign-title" data-testid="sign-dialog" onCancel={(e) => { e.preventDefault(); onClose(); }}>
      <form onSubmit={submit}>
        <h2 id="sign-title">Electronic signature: {label}</h2>
        <p class="small">
          You are signing <strong>{review.record.type} {review.record.id}</strong> (version {review.record.version}) as reviewed at{' '}
          <strong>{when(review.as_of)}</strong>. Report SHA-256 <code class="hash">{review.report_sha256.slice(0, 16)}…</code>
        </p>
        <fieldset class="meanings">
          <legend>Meaning of the signature</legend>
          {review.meanings.map((m) => {
            const off = blocked && m !== 'Rejected';
            return (
              <label key={m} class={`radio${off ? ' disabled' : ''}`}>
                <input type="radio" name="meaning" value={m} checked={meaning === m} disabled={off || locked}
                  onChange={() => setMeaning(m)} />
                {m}{off ? ' (blocked: see the review)' : ''}
              </label>
            );
          })}
        </fieldset>
        <label class="block">Reason
          <textarea required rows={2} value={reason} disabled={locked} onInput={(e) => setReason((e.target as HTMLTextAreaElement).value)} />
        </label>
        {needId ? (
          <>
            <label class="block">User ID
              <input name="sign-user-id" autoComplete="off" required value={userId} disabled={locked} aria-describedby="sign-id-hint"
                onInput={(e) => setUserId((e.target as HTMLInputElement).value)} />
            </label>
            <span class="muted small-inline" id="sign-id-hint">First signing in this session: type your user ID as well as your password.</span>
          </>
        ) : (
          <p class="small" data-testid="sign-as">Signing as <strong>{session.user.username}</strong> (this session; password only).</p>
        )}
        <label class="block">Password
          <input ref={pw} name="sign-password" type="password" autoComplete="off" required value={password} disabled={locked}
            onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
        </label>
        <p class="muted small">Your electronic signature is the legally binding equivalent of your handwritten signature. It records your
          printed name, the date and time with zone, and the meaning.</p>
        <div class="msg-slot" aria-live="assertive">
          {error && <p class="error" role="alert" data-testid="sign-error">{error}</p>}
        </div>
        <p class="actions">
          <button type="submit" class="primary" disabled={busy || locked}>{busy ? 'Signing…' : meaning ? `Sign: ${meaning}` : 'Sign'}</button>
          <button type="button" onClick={onClose}>Cancel</button>
        </p>
      </form>
    </dialog>
  );
}
