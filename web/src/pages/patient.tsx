// The patient page (issue 7): header and current NEWS2, trend charts of the patient's attributed
// readings (the subject page's Chart on …/patients/{id}/readings) and the NEWS2 history, the
// observation entry form (ACVPU with new confusion, air/oxygen, manual vitals; the API's
// validation errors next to their field), the patient's alarms with acknowledge, device
// assignments, baseline/deterioration flags and the timeline. docs/clinical.md §3–§5.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { api, APIError, Role, tenantPath } from '../api';
import { Alarm, alarmAction, canAlarms, compareAlarms, formatAlarmValue, isCalling, isOpen, normalise } from '../alarms';
import { canPatients, Flag, isStale, normaliseView, ObsSet, paramLabel, PatientView, setBand, TimelineEvent, when } from '../clinical';
import { ago, useLive } from '../hooks';
import { live, LiveReading } from '../live';
import { formatValue, metricInfo, outOfRange, sortMetrics } from '../metrics';
import { onLink } from '../router';
import { PriorityBadge } from './alarms';
import { apiMessage, News2Box, span } from './station';
import { Chart, Range } from './subject';

const HOUR = 3600_000;
const presets = [
  { label: '1 h', span: HOUR },
  { label: '6 h', span: 6 * HOUR },
  { label: '24 h', span: 24 * HOUR },
  { label: '7 d', span: 7 * 24 * HOUR },
];
const defaultMetrics = ['hr', 'spo2', 'rr', 'nibp_sys', 'temp_body'];
const flagMetric: Record<string, string> = { weight: 'weight', sbp: 'nibp_sys', dbp: 'nibp_dia', hr_rest: 'hr', spo2: 'spo2', rr: 'rr', temp: 'temp_body' };

export function PatientPage({ tenant, role, id }: { tenant: string; role: Role; id: string }) {
  const [view, setView] = useState<PatientView | null>(null);
  const [error, setError] = useState('');
  const [n, setN] = useState(0); // bumped to reload the header and everything derived from it
  const [tick, setTick] = useState(0); // bumped every minute: the header and NEWS2 only (each read is audited)
  const [range, setRange] = useState<Range>(() => ({ from: Date.now() - 6 * HOUR, to: Date.now(), live: true }));
  const base = tenantPath(tenant, `/patients/${encodeURIComponent(id)}`);
  const reload = () => setN((x) => x + 1);

  useEffect(() => {
    let stop = false;
    api<PatientView>('GET', base).then((v) => !stop && (setView(normaliseView(v)), setError('')), (e) => !stop && setError(apiMessage(e, 'patient')));
    const t = window.setTimeout(() => setTick((x) => x + 1), 60_000);
    return () => {
      stop = true;
      clearTimeout(t);
    };
  }, [base, n, tick]);
  // A NEWS2 alarm of this patient means a new set: reload.
  useEffect(() => live.onAlarm((a) => {
    if (a.subject === id && a.code?.startsWith('NEWS2')) reload();
  }), [id]);

  const devKey = (view?.assignments ?? []).filter((a) => !a.to).map((a) => a.device).sort().join('\n');
  const devices = useMemo(() => new Set(devKey ? devKey.split('\n') : []), [devKey]);

  if (!view) return error ? <p class="error" role="alert">{error}</p> : <p class="loading">Loading…</p>;
  const p = view.patient;
  const enc = view.encounter;
  const span_ = range.to - range.from;
  const metrics = sortMetrics([...new Set([...defaultMetrics, ...Object.keys(view.vitals ?? {}).filter((m) => m !== 'pr_spo2' || !view.vitals.hr),
    ...view.flags.map((f) => flagMetric[f.param]).filter(Boolean)])]);
  return (
    <>
      <p class="crumbs">
        <a href="/patients" onClick={onLink}>Patients</a> › {enc && <><a href={`/station?ward=${encodeURIComponent(enc.ward)}`} onClick={onLink}>Central station</a> › </>}{p.name}
      </p>
      <div class="chart-h">
        <h1 data-testid="patient-name">{p.name}</h1>
        <span class="muted">MRN {p.mrn}{p.age != null && ` · ${p.age} y`}{p.sex && ` · ${p.sex}`}{p.birth_date && ` · born ${p.birth_date}`}
          {enc ? ` · ${enc.ward ?? ''}, bed ${(enc.bed ?? '').replace((enc.ward ?? '') + '-', '')} since ${when(enc.admitted)}` : ' · not admitted'}
          {` · SpO₂ scale ${p.spo2_scale ?? 1}`}</span>
      </div>
      {error && <p class="error" role="alert">{error}</p>}
      <div class="grid2">
        <div>
          <CurrentNews2 view={view} />
          <LiveVitals view={view} devices={devices} />
          <div class="toolbar" role="toolbar" aria-label="Time range">
            {presets.map((x) => (
              <button key={x.label} type="button" aria-pressed={range.live && span_ === x.span}
                onClick={() => setRange({ from: Date.now() - x.span, to: Date.now(), live: true })}>{x.label}</button>
            ))}
            <span class="muted range-note">{range.live ? 'Live' : 'Fixed range'} · drag across a chart to zoom</span>
          </div>
          <News2Chart tenant={tenant} base={base} range={range} n={n + tick} />
          <div class="charts one">
            {metrics.map((m) => (
              <Chart key={m} tenant={tenant} subject={id} metric={m} unit="" range={range} base={`${base}/readings`}
                match={(r: LiveReading) => devices.has(r.device)} onZoom={(from, to) => setRange({ from, to, live: false })} />
            ))}
          </div>
        </div>
        <div>
          {canPatients.observe(role) && <ObservationForm base={base} onSaved={reload} />}
          <PatientAlarms tenant={tenant} role={role} id={id} />
          <Flags flags={view.flags} base={base} n={n} />
          <Assignments tenant={tenant} role={role} view={view} onChange={reload} />
          <Timeline base={base} n={n} />
        </div>
      </div>
    </>
  );
}

function CurrentNews2({ view }: { view: PatientView }) {
  const s = setBand(view.news2);
  const set = view.news2;
  const due = view.next_due ? Date.parse(view.next_due) : null;
  const now = Date.now();
  return (
    <section class="card" aria-labelledby="n2-h" data-testid="current-news2" data-band={s.band ?? ''} data-band-class={s.cls} data-total={s.total ?? ''}>
      <h2 id="n2-h">NEWS2</h2>
      <div class="n2-row">
        <News2Box cls={s.cls} score={s.score} text={s.text} complete={!set || set.complete} />
        {set && (
          <ul class="n2-parts">
            {Object.entries(set.scores ?? {}).map(([k, v]) => (
              <li key={k} class={v >= 3 ? 'red' : v > 0 ? 'some' : ''}><span class="vl">{paramLabel[k] ?? k}</span> <strong>{v}</strong>
                {set.parts?.[k] && <span class="muted small"> ({String(set.parts[k].value)})</span>}</li>
            ))}
          </ul>
        )}
      </div>
      <p class="small muted">
        {set ? <>Set of {when(set.evaluated_at)} ({set.source}, scale {set.scale}). </> : 'No observation set yet. '}
        {view.overdue ? <strong class="overdue">Observations overdue{due ? ` since ${when(view.next_due)}` : ''}.</strong>
          : due ? <>Next observations due {due > now ? `in ${span(due - now)}` : 'now'} ({when(view.next_due)}).</> : ''}
        {view.last_complete && view.last_complete.id !== set?.id && <> Last complete: {view.last_complete.total} at {when(view.last_complete.evaluated_at)}.</>}
      </p>
    </section>
  );
}

// LiveVitals: the latest vitals from the header, kept current by the patient's devices' readings.
function LiveVitals({ view, devices }: { view: PatientView; devices: Set<string> }) {
  useLive();
  const latest = useRef(new Map<string, { v: number; t: number }>());
  useEffect(() => {
    for (const [k, x] of Object.entries(view.vitals ?? {})) {
      const t = Date.parse(x.t);
      if ((latest.current.get(k)?.t ?? 0) < t) latest.current.set(k, { v: x.value, t });
    }
  }, [view]);
  useEffect(() => live.onReadings((rs) => {
    for (const r of rs) {
      if (r.value == null || !devices.has(r.device)) continue;
      const prev = latest.current.get(r.metric);
      if (!prev || prev.t <= r.time) latest.current.set(r.metric, { v: r.value, t: r.time });
    }
  }), [devices]);
  const now = Date.now();
  const ms = sortMetrics([...latest.current.keys()]);
  if (ms.length === 0) return null;
  return (
    <section class="card" aria-label="Latest vitals">
      <ul class="vals" data-testid="patient-vitals">
        {ms.map((m) => {
          const x = latest.current.get(m)!;
          const info = metricInfo(m);
          const st = isStale(m, x.t, now);
          return (
            <li key={m} class={`val${outOfRange(m, x.v) ? ' bad' : ''}${st ? ' stale' : ''}`} data-metric={m} title={`measured ${when(new Date(x.t).toISOString())}`}>
              <span class="vl">{info.label}</span> <span class="vv">{formatValue(m, x.v)}</span> <span class="vu">{info.unit}</span>
              {st && <span class="stale-tag">stale, {ago(x.t, now)}</span>}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

// News2Chart: the NEWS2 total of every set in the range, stepped, over the band zones; an
// incomplete set is drawn at its minimum score as a hollow point.
function News2Chart({ tenant, base, range, n }: { tenant: string; base: string; range: Range; n: number }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const [sets, setSets] = useState<ObsSet[] | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    const el = box.current!;
    const zones = (u: uPlot) => {
      const z: [number, number, string][] = [[0, 4.5, 'rgba(255, 224, 102, 0.25)'], [4.5, 6.5, 'rgba(239, 108, 0, 0.15)'], [6.5, 20, 'rgba(183, 28, 28, 0.12)']];
      u.ctx.save();
      for (const [lo, hi, c] of z) {
        const y1 = Math.max(u.bbox.top, u.valToPos(hi, 'y', true));
        const y2 = Math.min(u.bbox.top + u.bbox.height, u.valToPos(lo, 'y', true));
        if (y2 <= y1) continue;
        u.ctx.fillStyle = c;
        u.ctx.fillRect(u.bbox.left, y1, u.bbox.width, y2 - y1);
      }
      u.ctx.restore();
    };
    const u = new uPlot({
      width: Math.max(300, el.clientWidth),
      height: 180,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, _lo, hi) => [0, Math.max(9, (hi ?? 0) + 1)] } },
      axes: [
        { stroke: '#3d4852', grid: { stroke: '#e3e8ee' }, space: 70 },
        { stroke: '#3d4852', grid: { stroke: '#e3e8ee' }, size: 40 },
      ],
      series: [
        {},
        { label: 'NEWS2', stroke: '#102a43', width: 2, paths: uPlot.paths.stepped!({ align: 1 }), points: { show: true, size: 6, fill: '#102a43' } },
        { label: 'Incomplete (minimum)', stroke: '#4a5561', width: 0, paths: () => null, points: { show: true, size: 7, fill: '#fff', stroke: '#4a5561', width: 1.5 } },
      ],
      hooks: { drawClear: [zones] },
    }, [[], [], []], el);
    plot.current = u;
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(300, el.clientWidth), height: 180 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
    };
  }, []);
  useEffect(() => {
    let stop = false;
    const to = range.live ? Date.now() + 60_000 : range.to;
    api<{ sets: ObsSet[] }>('GET', `${base}/news2?from=${new Date(range.from).toISOString()}&to=${new Date(to).toISOString()}`)
      .then((r) => {
        if (stop) return;
        r.sets ??= [];
        setSets(r.sets);
        setError('');
        const xs = r.sets.map((s) => Date.parse(s.evaluated_at) / 1000);
        plot.current?.setData([xs, r.sets.map((s) => (s.complete ? s.total : null)), r.sets.map((s) => (s.complete ? null : s.score_min))], false);
        plot.current?.setScale('x', { min: range.from / 1000, max: Math.max(to, range.to) / 1000 });
      }, (e) => !stop && setError(apiMessage(e, 'NEWS2')));
    return () => {
      stop = true;
    };
  }, [base, range.from, range.to, range.live, n]);
  const recent = (sets ?? []).slice(-8).reverse();
  return (
    <section class="card chart" data-testid="news2-chart" data-sets={sets?.length ?? 0} aria-label="NEWS2 history">
      <header class="chart-h">
        <h2>NEWS2 history</h2>
        <span class="muted">{sets ? `${sets.length} sets` : 'loading…'} · zones: low 0–4, medium 5–6, high ≥ 7 · hollow = incomplete (minimum)</span>
      </header>
      {error && <p class="error" role="alert">{error}</p>}
      <div ref={box} class="plot n2plot" />
      {recent.length > 0 && (
        <table class="small n2sets">
          <thead><tr><th scope="col">Time</th><th scope="col">Source</th><th scope="col">Score</th><th scope="col">Band</th></tr></thead>
          <tbody>
            {recent.map((s) => {
              const b = setBand(s);
              return (
                <tr key={s.id} data-source={s.source}>
                  <td class="num">{when(s.evaluated_at)}</td><td>{s.source}</td>
                  <td><span class={`n2chip ${b.cls}`}>{b.score}</span></td><td>{b.text}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}

// The observation entry form (POST …/observations): manual values are checked here against the
// manual ranges (news2.md §2.1); the API's answer names the field of any other error, which is
// shown next to that field. A value outside the device range needs a confirmation tick.
const numeric: { k: 'rr' | 'spo2' | 'sbp' | 'pulse' | 'temp'; label: string; unit: string; min: number; max: number; step: string }[] = [
  { k: 'rr', label: 'Respiration rate', unit: '/min', min: 0, max: 80, step: '1' },
  { k: 'spo2', label: 'SpO₂', unit: '%', min: 0, max: 100, step: '1' },
  { k: 'sbp', label: 'Systolic BP', unit: 'mmHg', min: 0, max: 300, step: '1' },
  { k: 'pulse', label: 'Pulse', unit: '/min', min: 0, max: 300, step: '1' },
  { k: 'temp', label: 'Temperature', unit: '°C', min: 20, max: 45, step: '0.1' },
];
const acvpuText: Record<string, string> = { A: 'A — alert', C: 'C — new confusion', V: 'V — responds to voice', P: 'P — responds to pain', U: 'U — unresponsive' };
const emptyForm = { at: '', rr: '', spo2: '', sbp: '', pulse: '', temp: '', o2: '', acvpu: '', newConfusion: false, note: '' };

function ObservationForm({ base, onSaved }: { base: string; onSaved: () => void }) {
  const [f, setF] = useState({ ...emptyForm });
  const [errs, setErrs] = useState<Record<string, string>>({});
  const [confirm, setConfirm] = useState<Record<string, boolean>>({}); // fields that need a confirmation tick
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  const set = (k: keyof typeof emptyForm) => (e: Event) => {
    const t = e.target as HTMLInputElement;
    setF({ ...f, [k]: t.type === 'checkbox' ? t.checked : t.value });
    if (errs[k]) setErrs({ ...errs, [k]: '' });
  };
  const err = (k: string) => errs[k] ? <span class="field-error" id={`obs-${k}-err`} role="alert">{errs[k]}</span> : null;
  const aria = (k: string) => ({ 'aria-invalid': errs[k] ? true : undefined, 'aria-describedby': errs[k] ? `obs-${k}-err` : undefined });

  const submit = async (e: Event) => {
    e.preventDefault();
    setResult(null);
    const body: Record<string, unknown> = {};
    const bad: Record<string, string> = {};
    for (const x of numeric) {
      const s = f[x.k].trim();
      if (!s) continue;
      const v = Number(s);
      if (!Number.isFinite(v)) bad[x.k] = 'Enter a number.';
      else if (v < x.min || v > x.max) bad[x.k] = `Must be ${x.min}–${x.max} ${x.unit}.`;
      else body[x.k] = v;
    }
    if (f.o2) body.o2 = f.o2;
    if (f.acvpu) body.acvpu = f.acvpu;
    if (f.acvpu === 'C') {
      if (!f.newConfusion) bad.acvpu = 'Confirm that the confusion is new or worse than usual (otherwise choose A).';
      else body.new_confusion_confirmed = true;
    }
    if (f.at) {
      const t = new Date(f.at).getTime();
      if (Number.isNaN(t)) bad.at = 'Enter a date and time.';
      else body.at = new Date(t).toISOString();
    }
    if (Object.keys(body).filter((k) => k !== 'at' && k !== 'new_confusion_confirmed').length === 0 && !bad.acvpu) {
      bad.form = 'Enter at least one observation.';
    }
    if (f.note.trim()) body.note = f.note.trim();
    if (Object.values(confirm).some(Boolean)) body.confirmed = true;
    setErrs(bad);
    if (Object.keys(bad).length) return;
    setBusy(true);
    try {
      const r = await api<{ observation: unknown; set: ObsSet }>('POST', `${base}/observations`, body);
      const b = setBand(r.set);
      setResult({ ok: true, text: `Recorded. NEWS2 now ${b.score} — ${b.text}.` });
      setF({ ...emptyForm });
      setConfirm({});
      onSaved();
    } catch (e) {
      const field = e instanceof APIError ? (e.body?.field as string | undefined) : undefined;
      const k = field === 'new_confusion_confirmed' ? 'acvpu' : field;
      if (k && k in emptyForm) {
        setErrs({ [k]: e instanceof APIError && e.body?.needs_confirmation ? `${(e as Error).message} Tick "confirm" if the value is right.` : (e as Error).message });
        if (e instanceof APIError && e.body?.needs_confirmation) setConfirm({ ...confirm, [k]: false });
      } else {
        setResult({ ok: false, text: e instanceof APIError && e.status === 403 ? 'Your role may not record observations.' : (e as Error).message });
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="card" aria-labelledby="obs-h">
      <h2 id="obs-h">Record observations</h2>
      <form class="obs-form" onSubmit={submit} noValidate data-testid="obs-form">
        <div class="obs-grid">
          {numeric.map((x) => (
            <div class="field" key={x.k}>
              <label for={`obs-${x.k}`}>{x.label} <span class="unit">({x.unit})</span></label>
              <input id={`obs-${x.k}`} name={x.k} inputMode="decimal" value={f[x.k]} onInput={set(x.k)} {...aria(x.k)} />
              {err(x.k)}
              {x.k in confirm && (
                <label class="check"><input type="checkbox" checked={confirm[x.k]} data-testid={`confirm-${x.k}`}
                  onChange={(e) => setConfirm({ ...confirm, [x.k]: (e.target as HTMLInputElement).checked })} /> Confirm this value is right</label>
              )}
            </div>
          ))}
          <fieldset class="field">
            <legend>Air or oxygen</legend>
            <label class="check"><input type="radio" name="o2" value="" checked={f.o2 === ''} onChange={set('o2')} /> Not recorded</label>
            <label class="check"><input type="radio" name="o2" value="AIR" checked={f.o2 === 'AIR'} onChange={set('o2')} /> Air</label>
            <label class="check"><input type="radio" name="o2" value="OXYGEN" checked={f.o2 === 'OXYGEN'} onChange={set('o2')} /> Supplemental oxygen</label>
            {err('o2')}
          </fieldset>
          <div class="field">
            <label for="obs-acvpu">Consciousness (ACVPU)</label>
            <select id="obs-acvpu" name="acvpu" value={f.acvpu} onChange={set('acvpu')} {...aria('acvpu')}>
              <option value="">Not recorded</option>
              {Object.entries(acvpuText).map(([k, v]) => <option key={k} value={k}>{v}</option>)}
            </select>
            {f.acvpu === 'C' && (
              <label class="check"><input type="checkbox" name="new_confusion_confirmed" checked={f.newConfusion} onChange={set('newConfusion')} />
                The confusion is new or worse than usual</label>
            )}
            {err('acvpu')}
          </div>
          <div class="field">
            <label for="obs-at">Time <span class="unit">(empty = now)</span></label>
            <input id="obs-at" type="datetime-local" value={f.at} onInput={set('at')} {...aria('at')} />
            {err('at')}
          </div>
          <div class="field wide">
            <label for="obs-note">Note</label>
            <input id="obs-note" value={f.note} onInput={set('note')} maxLength={500} />
            {err('note')}
          </div>
        </div>
        {errs.form && <p class="error" role="alert">{errs.form}</p>}
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>Record</button>
          <span class="msg-slot" aria-live="polite">
            {result && <span class={result.ok ? 'ok' : 'error'} data-testid="obs-result">{result.text}</span>}
          </span>
        </div>
      </form>
    </section>
  );
}

function PatientAlarms({ tenant, role, id }: { tenant: string; role: Role; id: string }) {
  const [list, setList] = useState<Map<string, Alarm> | null>(null);
  const [error, setError] = useState('');
  const [msg, setMsg] = useState<{ id: string; ok: boolean; text: string } | null>(null);
  useLive();
  useEffect(() => {
    if (!canAlarms.read(role)) return;
    api<{ alarms: any[] }>('GET', tenantPath(tenant, `/subjects/${encodeURIComponent(id)}/alarms`))
      .then((r) => setList(new Map((r.alarms ?? []).map(normalise).map((a) => [a.id, a]))), (e) => {
        setList(new Map());
        setError(apiMessage(e, 'alarms'));
      });
  }, [tenant, id]);
  useEffect(() => live.onAlarm((a) => {
    if (a.subject === id) setList((m) => new Map(m ?? []).set(a.id, a));
  }), [id]);
  const ack = async (a: Alarm) => {
    setMsg(null);
    try {
      live.applyAlarm(await alarmAction(tenant, a.id, 'ack', {}));
      setMsg({ id: a.id, ok: true, text: 'Acknowledged.' });
    } catch (e: any) {
      setMsg({ id: a.id, ok: false, text: e?.status === 403 ? 'Your role may not acknowledge this alarm.' : e?.message });
    }
  };
  const now = Date.now();
  const all = list ? [...list.values()] : [];
  const open = all.filter(isOpen).sort(compareAlarms);
  const past = all.filter((a) => !isOpen(a)).sort((a, b) => Date.parse(b.raised_at) - Date.parse(a.raised_at)).slice(0, 10);
  const canAct = canAlarms.act(role);
  return (
    <section class="card" aria-labelledby="pa-h" data-testid="patient-alarms">
      <h2 id="pa-h">Alarms <span class="muted">({open.length} open)</span></h2>
      {error && <p class="error" role="alert">{error}</p>}
      {list && open.length === 0 && past.length === 0 && <p class="muted">No alarms.</p>}
      <table class="alarms palarms">
        <tbody>
          {[...open, ...past].map((a) => {
            const calling = isCalling(a);
            return (
              <tr key={a.id} data-alarm={a.id} data-state={a.state} data-priority={a.priority} class={`alarm p-${a.priority}${calling ? ' calling' : ''}`}>
                <td>
                  <PriorityBadge p={a.priority} calling={calling} /> <span class="amsg">{a.message || a.code}</span>
                  <div class="muted small">{a.code}{a.value != null && <> · {formatAlarmValue(a)}</>} · {ago(Date.parse(a.raised_at), now)}</div>
                </td>
                <td class="pa-act">
                  <span class={`st st-${a.state}`}>{a.state}</span>{a.acknowledged_by && <span class="muted small"> by {a.acknowledged_by}</span>}
                  {canAct && calling && (
                    <div><button type="button" class="primary" onClick={() => ack(a)}>Acknowledge<span class="sr-only"> {a.code}</span></button></div>
                  )}
                  {msg?.id === a.id && <p class={msg.ok ? 'ok small' : 'error small'} role={msg.ok ? undefined : 'alert'}>{msg.text}</p>}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <p class="small"><a href={`/alarms?subject=${encodeURIComponent(id)}&state=all`} onClick={onLink}>All alarms of this patient</a></p>
    </section>
  );
}

const stateText: Record<string, string> = { ACCUMULATING: 'Accumulating', ALERT: 'Alert', ALERT_OPEN: 'Alert (ongoing)', IN_CONTROL: 'Watch' };

function Flags({ flags, base, n }: { flags: Flag[]; base: string; n: number }) {
  const [all, setAll] = useState<Flag[] | null>(null);
  useEffect(() => {
    api<{ flags: Flag[] }>('GET', `${base}/flags`).then((r) => setAll(r.flags ?? []), () => setAll(null));
  }, [base, n]);
  const list = all ?? flags;
  return (
    <section class="card" aria-labelledby="fl-h" data-testid="flags">
      <h2 id="fl-h">Baseline and deterioration flags</h2>
      <p class="muted small">Personal baseline monitoring (shadow mode: shown, not notified). Last 30 days, newest first.</p>
      {list.length === 0 ? <p class="muted">No flags.</p> : (
        <table class="small">
          <thead><tr><th scope="col">Parameter</th><th scope="col">State</th><th scope="col">Value vs usual</th><th scope="col">Distance</th><th scope="col">Since</th></tr></thead>
          <tbody>
            {list.slice(0, 20).map((f) => (
              <tr key={f.id} data-flag={f.code ?? f.param} data-state={f.state}>
                <th scope="row">{paramLabel[f.param] ?? f.param} <span aria-label={f.direction === 'UP' ? 'rising' : 'falling'}>{f.direction === 'UP' ? '↑' : '↓'}</span>
                  <div class="muted small">{f.explanation}</div></th>
                <td><span class={`flag-st ${f.state === 'ALERT' || f.state === 'ALERT_OPEN' ? 'alert' : ''}`}>{stateText[f.state] ?? f.state}</span>{f.watch && f.state !== 'IN_CONTROL' && ' · watch'}</td>
                <td class="num">{f.value} vs {f.baseline?.median}</td>
                <td class="num">{f.z >= 0 ? '+' : ''}{f.z.toFixed(1)} SD</td>
                <td class="num">{f.since} ({f.days} d)<div class="muted">day {f.day}</div></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function Assignments({ tenant, role, view, onChange }: { tenant: string; role: Role; view: PatientView; onChange: () => void }) {
  const [free, setFree] = useState<{ id: string; kind: string; model: string; last_seen?: string }[]>([]);
  const [pick, setPick] = useState({ device: '', kind: 'bedside' });
  const [msg, setMsg] = useState<{ ok: boolean; text: string } | null>(null);
  const manage = canPatients.manage(role);
  useEffect(() => {
    if (!manage) return;
    api<{ devices: { id: string; kind: string; model: string; last_seen?: string }[] }>('GET', tenantPath(tenant, '/unassigned-devices'))
      .then((r) => setFree(r.devices ?? []), () => setFree([]));
  }, [tenant, view]);
  const call = async (fn: () => Promise<unknown>, done: string) => {
    setMsg(null);
    try {
      await fn();
      setMsg({ ok: true, text: done });
      onChange();
    } catch (e: any) {
      setMsg({ ok: false, text: e?.message ?? String(e) });
    }
  };
  const list = [...view.assignments].sort((a, b) => (a.to ? 1 : 0) - (b.to ? 1 : 0) || Date.parse(b.from) - Date.parse(a.from));
  return (
    <section class="card" aria-labelledby="as-h" data-testid="assignments">
      <h2 id="as-h">Devices</h2>
      {list.length === 0 ? <p class="muted">No devices assigned.</p> : (
        <table class="small">
          <thead><tr><th scope="col">Device</th><th scope="col">Kind</th><th scope="col">From</th><th scope="col">To</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {list.map((a) => (
              <tr key={a.id} data-device={a.device} data-open={a.to ? 'false' : 'true'}>
                <th scope="row">{a.device}</th><td>{a.kind}</td><td class="num">{when(a.from)}</td><td class="num">{a.to ? when(a.to) : 'now'}</td>
                <td>{manage && !a.to && (
                  <button type="button" onClick={() => call(() => api('POST', tenantPath(tenant, `/assignments/${encodeURIComponent(a.id)}/end`), {}), `${a.device} unassigned.`)}>
                    End<span class="sr-only"> assignment of {a.device}</span></button>
                )}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {manage && (
        <form class="row-form" data-testid="assign-form" aria-label="Assign a device (from now)" onSubmit={(e) => {
          e.preventDefault();
          if (!pick.device) return setMsg({ ok: false, text: 'Choose a device.' });
          call(() => api('POST', tenantPath(tenant, '/assignments'), { device: pick.device, patient: view.patient.id, kind: pick.kind }), `${pick.device} assigned.`);
        }}>
          <label>Device
            <select value={pick.device} onChange={(e) => setPick({ ...pick, device: (e.target as HTMLSelectElement).value })}>
              <option value="">Choose…</option>
              {free.map((d) => <option key={d.id} value={d.id}>{d.id} ({d.model})</option>)}
            </select>
          </label>
          <label>Kind
            <select value={pick.kind} onChange={(e) => setPick({ ...pick, kind: (e.target as HTMLSelectElement).value })}>
              <option value="bedside">Bedside</option><option value="rpm">Home (RPM)</option>
            </select>
          </label>
          <button type="submit">Assign<span class="sr-only"> from now</span></button>
          {free.length === 0 && <span class="muted small">No unassigned devices.</span>}
        </form>
      )}
      <div aria-live="polite">
        {msg && <p class={msg.ok ? 'ok small' : 'error small'} role={msg.ok ? undefined : 'alert'} data-testid="assign-msg">{msg.text}</p>}
      </div>
    </section>
  );
}

function Timeline({ base, n }: { base: string; n: number }) {
  const [events, setEvents] = useState<TimelineEvent[] | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    api<{ events: TimelineEvent[] }>('GET', `${base}/timeline`).then((r) => setEvents(r.events ?? []), (e) => setError(apiMessage(e, 'timeline')));
  }, [base, n]);
  return (
    <section class="card" aria-labelledby="tl-h" data-testid="timeline">
      <h2 id="tl-h">Timeline <span class="muted small">(7 days)</span></h2>
      {error && <p class="error" role="alert">{error}</p>}
      {events?.length === 0 && <p class="muted">Nothing in the last 7 days.</p>}
      <ol class="timeline">
        {events?.slice(0, 50).map((e, i) => (
          <li key={i} class={`tl-${e.kind}`} data-kind={e.kind}><time class="muted small">{when(e.t)}</time> {e.text}</li>
        ))}
      </ol>
    </section>
  );
}
