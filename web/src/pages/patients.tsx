// The patients page (issue 7, docs/console.md, docs/clinical.md §3): find a patient (name, MRN,
// ward or bed), open their page, and — for roles with patients.manage — create a patient, admit
// them to a free bed, transfer them to another free bed and discharge them after a confirmation.
// Free beds are the wards' beds (GET …/wards) less the beds of open encounters in the patient
// list (GET …/patients, audited once as patient.list), so no extra route is needed; the server
// still refuses an occupied bed with 409, which is shown.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, APIError, Role, tenantPath } from '../api';
import { canPatients, Ward, when } from '../clinical';
import { onLink } from '../router';
import { apiMessage } from './station';

interface Row {
  id: string;
  mrn: string;
  name: string;
  birth_date?: string;
  sex?: string;
  created?: string;
  encounter: { id: string; ward: string; bed: string; admitted: string } | null;
}

type Panel = { kind: 'admit' | 'transfer' | 'discharge'; patient: string } | null;
type Msg = { ok: boolean; text: string } | null;

const val = (e: Event) => (e.target as HTMLInputElement).value;

export function PatientsPage({ tenant, role }: { tenant: string; role: Role }) {
  const [rows, setRows] = useState<Row[] | null>(null);
  const [wards, setWards] = useState<Ward[]>([]);
  const [error, setError] = useState('');
  const [n, setN] = useState(0);
  const [q, setQ] = useState(() => new URLSearchParams(location.search).get('q') ?? '');
  const [show, setShow] = useState<'all' | 'admitted' | 'not'>('all');
  const [panel, setPanel] = useState<Panel>(null);
  const [msg, setMsg] = useState<Msg>(null);
  const manage = canPatients.manage(role);
  const reload = () => setN((x) => x + 1);

  useEffect(() => {
    let stop = false;
    Promise.all([
      api<{ patients: Row[] }>('GET', tenantPath(tenant, '/patients')),
      api<{ wards: Ward[] }>('GET', tenantPath(tenant, '/wards')),
    ]).then(([p, w]) => {
      if (stop) return;
      setRows(p.patients ?? []);
      setWards((w.wards ?? []).map((x) => ({ ...x, beds: x.beds ?? [] })));
      setError('');
    }, (e) => !stop && setError(apiMessage(e, 'patients')));
    return () => {
      stop = true;
    };
  }, [tenant, n]);

  const beds = useMemo(() => {
    const m = new Map<string, { ward: string; label: string }>();
    for (const w of wards) for (const b of w.beds) m.set(b.id, { ward: w.name, label: b.label });
    return m;
  }, [wards]);
  const occupied = useMemo(() => new Set((rows ?? []).filter((r) => r.encounter).map((r) => r.encounter!.bed)), [rows]);
  const place = (r: Row) => {
    if (!r.encounter) return '';
    const b = beds.get(r.encounter.bed);
    return b ? `${b.ward} · bed ${b.label}` : `${r.encounter.ward} · ${r.encounter.bed}`;
  };

  if (!rows) return error ? <p class="error" role="alert">{error}</p> : <p class="loading">Loading…</p>;
  const needle = q.trim().toLowerCase();
  const list = rows
    .filter((r) => show === 'all' || (show === 'admitted') === !!r.encounter)
    .filter((r) => !needle || [r.name, r.mrn, r.id, place(r)].some((s) => s.toLowerCase().includes(needle)))
    .sort((a, b) => a.name.localeCompare(b.name) || a.mrn.localeCompare(b.mrn));

  const done = (text: string) => {
    setPanel(null);
    setMsg({ ok: true, text });
    reload();
  };

  return (
    <section data-testid="patients">
      <h1>Patients</h1>
      <p class="muted small">Free beds are the wards' beds without an admitted patient. NEWS2 and live vitals of admitted patients are on the{' '}
        <a href="/station" onClick={onLink}>central station</a> and on each patient's page.</p>
      {manage && <NewPatient tenant={tenant} onCreated={(p) => {
        setQ(p.mrn);
        setShow('all');
        setMsg({ ok: true, text: `${p.name} (MRN ${p.mrn}) created. Admit them from the list.` });
        reload();
      }} />}
      <section class="card" aria-labelledby="pl-h">
        <h2 id="pl-h" class="sr-only">Patient list</h2>
        <div class="toolbar" role="search">
          <label>Search
            <input type="search" name="q" value={q} placeholder="Name, MRN, ward or bed" data-testid="patient-search"
              onInput={(e) => setQ(val(e))} />
          </label>
          <label>Show
            <select value={show} onChange={(e) => setShow(val(e) as typeof show)}>
              <option value="all">All patients</option>
              <option value="admitted">Admitted</option>
              <option value="not">Not admitted</option>
            </select>
          </label>
          <span class="muted range-note" aria-live="polite" data-testid="patient-count">{list.length} of {rows.length} patients</span>
        </div>
        {error && <p class="error" role="alert">{error}</p>}
        <div class="msg-slot" aria-live="polite">
          {msg && (msg.ok ? <p class="ok" data-testid="patients-msg">{msg.text}</p> : <p class="error" role="alert" data-testid="patients-msg">{msg.text}</p>)}
        </div>
        {list.length === 0 ? <p class="muted">{rows.length ? 'No patient matches.' : 'No patients yet.'}</p> : (
          <table class="patients" data-testid="patient-list">
            <thead>
              <tr>
                <th scope="col">Name</th><th scope="col">MRN</th><th scope="col">Born · sex</th><th scope="col">Ward · bed</th>
                {manage && <th scope="col"><span class="sr-only">Actions</span></th>}
              </tr>
            </thead>
            <tbody>
              {list.map((r) => {
                const open = panel?.patient === r.id ? panel : null;
                return [
                  <tr key={r.id} data-patient={r.id} data-bed={r.encounter?.bed ?? ''}>
                    <th scope="row"><a href={`/patients/${encodeURIComponent(r.id)}`} onClick={onLink}>{r.name}</a></th>
                    <td class="num">{r.mrn}</td>
                    <td class="num">{r.birth_date || '–'}{r.sex && r.sex !== 'unknown' ? ` · ${r.sex}` : ''}</td>
                    <td data-testid="place">{r.encounter ? <>{place(r)}<div class="muted small">since {when(r.encounter.admitted)}</div></> : <span class="muted">Not admitted</span>}</td>
                    {manage && (
                      <td class="row-actions">
                        {(r.encounter ? (['transfer', 'discharge'] as const) : (['admit'] as const)).map((k) => (
                          <button key={k} type="button" class={k === 'discharge' ? 'danger' : undefined} id={`${k}-${r.id}`}
                            aria-expanded={open?.kind === k} aria-controls={`panel-${r.id}`}
                            onClick={() => {
                              setMsg(null);
                              setPanel(open?.kind === k ? null : { kind: k, patient: r.id });
                            }}>
                            {k === 'admit' ? 'Admit' : k === 'transfer' ? 'Transfer' : 'Discharge'}<span class="sr-only"> {r.name}</span>
                          </button>
                        ))}
                      </td>
                    )}
                  </tr>,
                  open && (
                    <tr key={r.id + '-panel'} class="panel-row">
                      <td colSpan={manage ? 5 : 4} id={`panel-${r.id}`}>
                        {open.kind === 'discharge'
                          ? <Discharge tenant={tenant} row={r} place={place(r)} onDone={done} onCancel={() => close(setPanel, `${open.kind}-${r.id}`)} />
                          : <Place tenant={tenant} row={r} kind={open.kind} wards={wards} occupied={occupied} onDone={done} onStale={reload}
                            onCancel={() => close(setPanel, `${open.kind}-${r.id}`)} />}
                      </td>
                    </tr>
                  ),
                ];
              })}
            </tbody>
          </table>
        )}
      </section>
    </section>
  );
}

// close hides the panel and gives the focus back to the button that opened it.
function close(setPanel: (p: Panel) => void, opener: string) {
  setPanel(null);
  requestAnimationFrame(() => document.getElementById(opener)?.focus());
}

// Place is the admit / transfer form: a ward with a free bed, then one of its free beds.
function Place({ tenant, row, kind, wards, occupied, onDone, onStale, onCancel }: {
  tenant: string; row: Row; kind: 'admit' | 'transfer'; wards: Ward[]; occupied: Set<string>;
  onDone: (text: string) => void; onStale: () => void; onCancel: () => void;
}) {
  const free = wards.map((w) => ({ ...w, beds: w.beds.filter((b) => !occupied.has(b.id)) })).filter((w) => w.beds.length > 0);
  const first = free.find((w) => w.id === row.encounter?.ward) ?? free[0];
  const [ward, setWard] = useState(first?.id ?? '');
  const [bed, setBed] = useState(first?.beds[0]?.id ?? '');
  const [err, setErr] = useState('');
  const [busy, setBusy] = useState(false);
  const firstField = useRef<HTMLSelectElement>(null);
  useEffect(() => firstField.current?.focus(), []);
  const w = free.find((x) => x.id === ward);
  // When the free beds change under the form (another user admitted someone), keep a valid choice.
  useEffect(() => {
    if (!w) {
      if (free[0]) {
        setWard(free[0].id);
        setBed(free[0].beds[0].id);
      }
    } else if (!w.beds.some((b) => b.id === bed)) {
      setBed(w.beds[0].id);
    }
  }, [occupied, wards]);
  const verb = kind === 'admit' ? 'Admit' : 'Transfer';
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!ward || !bed) return setErr('Choose a ward and a free bed.');
    setBusy(true);
    setErr('');
    try {
      await api('POST', tenantPath(tenant, `/patients/${encodeURIComponent(row.id)}/${kind}`), { ward, bed });
      const label = w?.beds.find((b) => b.id === bed)?.label ?? bed;
      onDone(`${row.name} ${kind === 'admit' ? 'admitted to' : 'transferred to'} ${w?.name ?? ward} bed ${label}.`);
    } catch (e) {
      if (e instanceof APIError && e.status === 409) {
        setErr(`Not ${kind === 'admit' ? 'admitted' : 'transferred'}: the bed was taken or the admission changed meanwhile. The free beds are updated; choose again.`);
        onStale();
      } else {
        setErr(e instanceof APIError && e.status === 403 ? 'Your role may not admit or move patients.' : (e as Error).message);
      }
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="row-form" data-testid={`${kind}-form`} aria-label={`${verb} ${row.name}`} onSubmit={submit}
      onKeyDown={(e) => e.key === 'Escape' && onCancel()}>
      {free.length === 0 ? (
        <p class="error" role="alert">No free bed in any ward.</p>
      ) : (
        <>
          <label>Ward
            <select ref={firstField} name="ward" value={ward} onChange={(e) => {
              const id = val(e);
              setWard(id);
              setBed(free.find((x) => x.id === id)?.beds[0]?.id ?? '');
            }}>
              {free.map((x) => <option key={x.id} value={x.id}>{x.name} ({x.beds.length} free)</option>)}
            </select>
          </label>
          <label>Bed
            <select name="bed" value={bed} onChange={(e) => setBed(val(e))}>
              {(w?.beds ?? []).map((b) => <option key={b.id} value={b.id}>{b.label}</option>)}
            </select>
          </label>
          <button type="submit" class="primary" disabled={busy}>{verb}<span class="sr-only"> {row.name}</span></button>
        </>
      )}
      <button type="button" onClick={onCancel}>Cancel</button>
      {err && <p class="error" role="alert">{err}</p>}
    </form>
  );
}

function Discharge({ tenant, row, place, onDone, onCancel }: { tenant: string; row: Row; place: string; onDone: (text: string) => void; onCancel: () => void }) {
  const [err, setErr] = useState('');
  const [busy, setBusy] = useState(false);
  const confirm = useRef<HTMLButtonElement>(null);
  useEffect(() => confirm.current?.focus(), []);
  const go = async () => {
    setBusy(true);
    setErr('');
    try {
      await api('POST', tenantPath(tenant, `/patients/${encodeURIComponent(row.id)}/discharge`), {});
      onDone(`${row.name} discharged; their bedside devices were unassigned.`);
    } catch (e) {
      setErr(e instanceof APIError && e.status === 403 ? 'Your role may not discharge patients.' : (e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="row-form" role="group" aria-labelledby={`dc-${row.id}`} data-testid="discharge-confirm" onKeyDown={(e) => e.key === 'Escape' && onCancel()}>
      <p id={`dc-${row.id}`}><strong>Discharge {row.name}</strong> from {place} now? Their open bedside device assignments end at the same time.</p>
      <button ref={confirm} type="button" class="danger" disabled={busy} onClick={go}>Confirm discharge</button>
      <button type="button" onClick={onCancel}>Cancel</button>
      {err && <p class="error" role="alert">{err}</p>}
    </div>
  );
}

const emptyPatient = { name: '', mrn: '', birth_date: '', sex: 'unknown' };

// NewPatient is the "New patient" form (POST …/patients): required fields are checked here,
// the API's field errors are shown next to their field, anything else (a taken MRN) below.
function NewPatient({ tenant, onCreated }: { tenant: string; onCreated: (p: Row) => void }) {
  const [f, setF] = useState({ ...emptyPatient });
  const [errs, setErrs] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const set = (k: keyof typeof emptyPatient) => (e: Event) => {
    setF({ ...f, [k]: val(e) });
    if (errs[k]) setErrs({ ...errs, [k]: '' });
  };
  const err = (k: string) => errs[k] ? <span class="field-error" id={`np-${k}-err`} role="alert">{errs[k]}</span> : null;
  const aria = (k: string) => ({ 'aria-invalid': errs[k] ? true : undefined, 'aria-describedby': errs[k] ? `np-${k}-err` : undefined });
  const submit = async (e: Event) => {
    e.preventDefault();
    const bad: Record<string, string> = {};
    if (!f.name.trim()) bad.name = 'Enter the name.';
    if (!f.mrn.trim()) bad.mrn = 'Enter the medical record number.';
    if (f.birth_date && !(f.birth_date <= new Date().toISOString().slice(0, 10))) bad.birth_date = 'The date of birth cannot be in the future.';
    setErrs(bad);
    if (Object.keys(bad).length) return;
    setBusy(true);
    try {
      const body: Record<string, string> = { name: f.name.trim(), mrn: f.mrn.trim(), sex: f.sex };
      if (f.birth_date) body.birth_date = f.birth_date;
      const p = await api<Row>('POST', tenantPath(tenant, '/patients'), body);
      setF({ ...emptyPatient });
      onCreated(p);
    } catch (e) {
      const field = e instanceof APIError ? (e.body?.field as string | undefined) : undefined;
      if (field && field in emptyPatient) setErrs({ [field]: (e as Error).message });
      else if (e instanceof APIError && e.status === 409) setErrs({ mrn: 'A patient with this MRN already exists.' });
      else if (e instanceof APIError && e.status === 403) setErrs({ form: 'Your role may not create patients.' });
      else setErrs({ form: (e as Error).message });
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="card" aria-labelledby="np-h" data-testid="new-patient">
      <h2 id="np-h">New patient</h2>
      <form onSubmit={submit} noValidate>
        <div class="obs-grid">
          <div class="field">
            <label for="np-name">Name</label>
            <input id="np-name" name="name" autoComplete="off" value={f.name} onInput={set('name')} maxLength={200} required {...aria('name')} />
            {err('name')}
          </div>
          <div class="field">
            <label for="np-mrn">MRN</label>
            <input id="np-mrn" name="mrn" autoComplete="off" value={f.mrn} onInput={set('mrn')} maxLength={64} required {...aria('mrn')} />
            {err('mrn')}
          </div>
          <div class="field">
            <label for="np-dob">Date of birth</label>
            <input id="np-dob" name="birth_date" type="date" value={f.birth_date} onInput={set('birth_date')} {...aria('birth_date')} />
            {err('birth_date')}
          </div>
          <div class="field">
            <label for="np-sex">Sex</label>
            <select id="np-sex" name="sex" value={f.sex} onChange={set('sex')} {...aria('sex')}>
              <option value="female">Female</option>
              <option value="male">Male</option>
              <option value="other">Other</option>
              <option value="unknown">Unknown</option>
            </select>
            {err('sex')}
          </div>
        </div>
        {errs.form && <p class="error" role="alert" data-testid="new-patient-error">{errs.form}</p>}
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>Create patient</button>
        </div>
      </form>
    </section>
  );
}
