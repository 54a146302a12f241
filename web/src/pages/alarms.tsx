// The alarm console: open alarms ordered by priority then age, live from the `alarm` stream
// events, with acknowledge (one click), silence, escalate and resolve, an escalation
// countdown, filters, and the history of an alarm and of a subject. Filters and the selected
// alarm live in the query string (/alarms?priority=high&subject=…&alarm=…).
import { useEffect, useState } from 'preact/hooks';
import { api, APIError, Role, tenantPath } from '../api';
import {
  Alarm, AlarmAction, AlarmDetail, AlarmEvent, alarmAction, canAlarms, compareAlarms, countdown,
  formatAlarmValue, isCalling, isOpen, isSilenced, isTerminal, normalise, Priority, priorityLabel, priorityMark,
} from '../alarms';
import { ago, useLive } from '../hooks';
import { live } from '../live';
import { navigate, onLink, useSearch } from '../router';

interface Filters {
  priority: string;
  state: string;
  subject: string;
}

const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : '');

export function PriorityBadge({ p, calling = false }: { p: Priority; calling?: boolean }) {
  return (
    <span class={`prio p-${p}${calling ? ' calling' : ''}`} data-priority={p}>
      <span aria-hidden="true">{priorityMark[p]}</span> {priorityLabel[p]}
    </span>
  );
}

function actionError(e: any, what: string): string {
  if (e instanceof APIError) {
    if (e.status === 403) return `Your role may not ${what} this alarm.`;
    if (e.status === 409) return `This alarm cannot be ${what === 'silence' ? 'silenced' : what === 'record an assessment for' ? 'assessed' : what + 'd'} in its current state (${e.message}).`;
  }
  return e?.message ?? String(e);
}

export function AlarmsPage({ tenant, role }: { tenant: string; role: Role }) {
  const search = useSearch();
  const q = new URLSearchParams(search);
  const f: Filters = { priority: q.get('priority') ?? '', state: q.get('state') ?? 'active', subject: q.get('subject') ?? '' };
  const selected = q.get('alarm') ?? '';
  const canAct = canAlarms.act(role);
  const canManage = canAlarms.manage(role);
  const canAssess = canAlarms.assess(role);
  useLive();
  const now = Date.now();

  const setQuery = (patch: Partial<Filters & { alarm: string }>) => {
    const n = new URLSearchParams(location.search);
    for (const [k, v] of Object.entries(patch)) {
      if (v && !(k === 'state' && v === 'active')) n.set(k, v);
      else n.delete(k);
    }
    const s = n.toString();
    navigate('/alarms' + (s ? '?' + s : ''), true);
  };

  const matches = (a: Alarm) =>
    (!f.priority || a.priority === f.priority) && (!f.subject || a.subject === f.subject) && (f.state === 'all' || isOpen(a));

  const [list, setList] = useState<Map<string, Alarm> | null>(null);
  const [error, setError] = useState('');
  const [msg, setMsg] = useState<{ id: string; text: string; ok: boolean } | null>(null);
  useEffect(() => {
    let stop = false;
    setError('');
    const p = new URLSearchParams({ state: f.state === 'all' ? 'all' : 'active', limit: '500' });
    if (f.priority) p.set('priority', f.priority);
    if (f.subject) p.set('subject', f.subject);
    api<{ alarms: any[] }>('GET', tenantPath(tenant, `/alarms?${p}`))
      .then((r) => !stop && setList(new Map(r.alarms.map(normalise).map((a) => [a.id, a]))))
      .catch((e) => {
        if (stop) return;
        setList(new Map());
        setError(e?.status === 404 || e?.status === 503 ? 'This server has no alarm service yet.' : e.message);
      });
    return () => {
      stop = true;
    };
  }, [tenant, f.state, f.priority, f.subject]);
  // Live: every alarm event updates, adds or drops the alarm.
  useEffect(() => live.onAlarm((a) => setList((m) => {
    if (!m) return m;
    const n = new Map(m);
    if (matches(a)) n.set(a.id, a);
    else n.delete(a.id);
    return n;
  })), [f.state, f.priority, f.subject]);

  const act = async (a: Alarm, action: AlarmAction, body: Record<string, string>, what: string, done: string) => {
    setMsg(null);
    try {
      live.applyAlarm(await alarmAction(tenant, a.id, action, body));
      setMsg({ id: a.id, text: done, ok: true });
      return true;
    } catch (e) {
      setMsg({ id: a.id, text: actionError(e, what), ok: false });
      return false;
    }
  };

  const rows = list ? [...list.values()].filter(matches).sort(compareAlarms) : [];
  const [subjectInput, setSubjectInput] = useState(f.subject);
  useEffect(() => setSubjectInput(f.subject), [f.subject]);

  return (
    <>
      <h1>Alarms</h1>
      <form class="toolbar" role="search" aria-label="Filter alarms" onSubmit={(e) => {
        e.preventDefault();
        setQuery({ subject: subjectInput.trim() });
      }}>
        <label>Priority
          <select value={f.priority} data-testid="filter-priority" onChange={(e) => setQuery({ priority: (e.target as HTMLSelectElement).value })}>
            <option value="">All</option><option value="high">High</option><option value="medium">Medium</option><option value="low">Low</option>
          </select>
        </label>
        <label>State
          <select value={f.state} data-testid="filter-state" onChange={(e) => setQuery({ state: (e.target as HTMLSelectElement).value })}>
            <option value="active">Open</option><option value="all">All, with history</option>
          </select>
        </label>
        <label>Subject
          <input value={subjectInput} placeholder="any" data-testid="filter-subject" onInput={(e) => setSubjectInput((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit">Filter</button>
        {(f.priority || f.subject || f.state !== 'active') && (
          <button type="button" onClick={() => setQuery({ priority: '', subject: '', state: '' })}>Clear filters</button>
        )}
      </form>
      {!canAct && !canManage && <p class="notice" data-testid="watch-only">Your role ({role}) can watch alarms but not act on them.</p>}
      {!canAct && canManage && <p class="notice">Your role ({role}) may resolve alarms by hand (Details) but not acknowledge them.</p>}
      {error && <p class="error" role="alert">{error}</p>}
      <section class="card" aria-labelledby="alarms-h">
        <h2 id="alarms-h">{f.state === 'all' ? 'Alarms' : 'Open alarms'} <span class="muted">({rows.length})</span></h2>
        <div class="scroll">
          <table class="alarms" data-testid="alarms">
            <thead>
              <tr>
                <th scope="col">Priority</th><th scope="col">Subject</th><th scope="col">Alarm</th><th scope="col">State</th>
                <th scope="col">Raised</th><th scope="col">Escalation</th><th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((a) => {
                const calling = isCalling(a);
                const next = calling && a.next_escalation_at ? countdown(a.next_escalation_at, now) : '';
                return (
                  <tr key={a.id} data-alarm={a.id} data-state={a.state} data-priority={a.priority}
                    class={`alarm p-${a.priority}${calling ? ' calling' : ''}${a.id === selected ? ' selected' : ''}`}>
                    <td><PriorityBadge p={a.priority} calling={calling} /></td>
                    <th scope="row"><a href={`/subjects/${encodeURIComponent(a.subject)}`} onClick={onLink}>{a.subject || a.device}</a></th>
                    <td>
                      <div class="amsg">{a.message || a.code}</div>
                      <div class="muted small">{a.code}{a.value != null && <> · {formatAlarmValue(a)}</>}{a.kind === 'technical' && ' · technical'}</div>
                    </td>
                    <td data-testid="alarm-state">
                      <span class={`st st-${a.state}`}>{a.state}</span>
                      {a.acknowledged_by && <div class="muted small">by {a.acknowledged_by}</div>}
                      {isSilenced(a, now) && <div class="muted small">silenced {countdown(a.silenced_until, now)}</div>}
                    </td>
                    <td class="num" title={when(a.raised_at)}>{ago(Date.parse(a.raised_at), now)}</td>
                    <td class="num">
                      tier {a.escalation_tier ?? 0}
                      {next && <div class="countdown" data-testid="countdown">tier {(a.escalation_tier ?? 0) + 1} in {next}</div>}
                    </td>
                    <td>
                      <div class="actions">
                        {canAct && calling && (
                          <button type="button" class="primary" onClick={() => act(a, 'ack', {}, 'acknowledge', 'Acknowledged.')}>
                            Acknowledge<span class="sr-only"> {a.subject} {a.code}</span>
                          </button>
                        )}
                        <a class="btn" href={`/alarms?${new URLSearchParams({ ...Object.fromEntries(q), alarm: a.id })}`} onClick={onLink}>
                          Details<span class="sr-only"> of {a.subject} {a.code}</span>
                        </a>
                      </div>
                      {msg?.id === a.id && <p class={msg.ok ? 'ok small' : 'error small'} role={msg.ok ? undefined : 'alert'}>{msg.text}</p>}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          {list && rows.length === 0 && !error && <p class="muted" data-testid="no-alarms">No {f.state === 'all' ? '' : 'open '}alarms{f.subject ? ` for ${f.subject}` : ''}.</p>}
          {!list && <p class="muted">Loading…</p>}
        </div>
      </section>
      {selected && (
        <AlarmDetails key={selected} tenant={tenant} id={selected} canAct={canAct} canManage={canManage} canAssess={canAssess} now={now} act={act} msg={msg?.id === selected ? msg : null}
          onClose={() => setQuery({ alarm: '' })} onSubject={(s) => setQuery({ subject: s, state: 'all', alarm: '' })} />
      )}
      {f.subject && <SubjectHistory tenant={tenant} subject={f.subject} />}
    </>
  );
}

const durations = [
  { v: '1m', label: '1 min' },
  { v: '2m', label: '2 min' },
  { v: '5m', label: '5 min' },
  { v: '10m', label: '10 min' },
];

function AlarmDetails({ tenant, id, canAct, canManage, canAssess, now, act, msg, onClose, onSubject }: {
  tenant: string; id: string; canAct: boolean; canManage: boolean; canAssess: boolean; now: number;
  act: (a: Alarm, action: AlarmAction, body: Record<string, string>, what: string, done: string) => Promise<boolean>;
  msg: { text: string; ok: boolean } | null; onClose: () => void; onSubject: (s: string) => void;
}) {
  const [d, setD] = useState<AlarmDetail | null>(null);
  const [error, setError] = useState('');
  const [n, setN] = useState(0);
  const [form, setForm] = useState({ ackReason: '', duration: '2m', silenceReason: '', escalateReason: '', note: '', assessNote: '' });
  useEffect(() => {
    api<any>('GET', tenantPath(tenant, `/alarms/${encodeURIComponent(id)}`))
      .then((r) => setD({ ...normalise(r), history: r.history ?? [] }), (e) => setError(e.message));
  }, [tenant, id, n]);
  useEffect(() => live.onAlarm((a) => {
    if (a.id === id) setN((x) => x + 1);
  }), [id]);
  const set = (k: keyof typeof form) => (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value });
  const run = async (action: AlarmAction, body: Record<string, string>, what: string, done: string, clear: (keyof typeof form)[]) => {
    if (!d) return;
    if (await act(d, action, body, what, done)) {
      const f2 = { ...form };
      for (const k of clear) f2[k] = k === 'duration' ? '2m' : '';
      setForm(f2);
    }
  };
  const open = d && !isTerminal(d.state);
  return (
    <section class="card details" aria-labelledby="detail-h" data-testid="alarm-details">
      <div class="chart-h">
        <h2 id="detail-h">{d ? <><PriorityBadge p={d.priority} calling={isCalling(d)} /> {d.subject} · {d.message || d.code}</> : 'Alarm'}</h2>
        <button type="button" onClick={onClose}>Close</button>
      </div>
      {error && <p class="error" role="alert">{error}</p>}
      {d && (
        <>
          <dl class="facts">
            <dt>State</dt><dd data-testid="detail-state">{d.state}{d.acknowledged_by ? ` by ${d.acknowledged_by}` : ''}</dd>
            <dt>Code</dt><dd>{d.code} ({d.kind})</dd>
            {d.value != null && <><dt>Value</dt><dd>{formatAlarmValue(d)}</dd></>}
            <dt>Device</dt><dd>{d.device}</dd>
            <dt>Raised</dt><dd>{when(d.raised_at)}</dd>
            {d.acknowledged_at && <><dt>Acknowledged</dt><dd>{when(d.acknowledged_at)}</dd></>}
            {isSilenced(d, now) && <><dt>Silenced</dt><dd>until {when(d.silenced_until)} ({countdown(d.silenced_until, now)})</dd></>}
            <dt>Escalation</dt><dd>tier {d.escalation_tier ?? 0}{isCalling(d) && d.next_escalation_at ? `, next in ${countdown(d.next_escalation_at, now)}` : ''}</dd>
            {d.resolved_at && <><dt>Resolved</dt><dd>{when(d.resolved_at)}</dd></>}
            {d.assessment_due_at && <><dt>Assessment due</dt><dd data-testid="assessment-due">{when(d.assessment_due_at)}{' '}
              ({Date.parse(d.assessment_due_at) > now ? `in ${countdown(d.assessment_due_at, now)}` : 'overdue'})</dd></>}
          </dl>
          <p><button type="button" class="link" onClick={() => onSubject(d.subject)}>All alarms of {d.subject}</button></p>
          {(canAct || canManage) && open && (
            <div class="alarm-forms">
              {canAct && isCalling(d) && (
                <form class="row-form" onSubmit={(e) => {
                  e.preventDefault();
                  run('ack', form.ackReason ? { reason: form.ackReason } : {}, 'acknowledge', 'Acknowledged.', ['ackReason']);
                }}>
                  <label>Reason (optional) <input value={form.ackReason} onInput={set('ackReason')} /></label>
                  <button type="submit" class="primary">Acknowledge</button>
                </form>
              )}
              {canAct && <form class="row-form" onSubmit={(e) => {
                e.preventDefault();
                run('silence', { duration: form.duration, reason: form.silenceReason }, 'silence', 'Silenced.', ['silenceReason']);
              }}>
                <label>Silence for <select value={form.duration} onChange={set('duration')}>
                  {durations.map((x) => <option key={x.v} value={x.v}>{x.label}</option>)}
                </select></label>
                <label>Reason <input value={form.silenceReason} onInput={set('silenceReason')} /></label>
                <button type="submit">Silence</button>
              </form>}
              {canAct && <form class="row-form" onSubmit={(e) => {
                e.preventDefault();
                run('escalate', { reason: form.escalateReason }, 'escalate', 'Escalated.', ['escalateReason']);
              }}>
                <label>Escalation reason <input required value={form.escalateReason} onInput={set('escalateReason')} /></label>
                <button type="submit">Escalate</button>
              </form>}
              {canAssess && d.assessment_due_at && <form class="row-form" onSubmit={(e) => {
                e.preventDefault();
                run('assessment', form.assessNote ? { note: form.assessNote } : {}, 'record an assessment for', 'Assessment recorded.', ['assessNote']);
              }}>
                <label>Assessment note (optional) <input value={form.assessNote} onInput={set('assessNote')} /></label>
                <button type="submit" class="primary">Assessment done</button>
              </form>}
              {canManage && <form class="row-form" onSubmit={(e) => {
                e.preventDefault();
                run('resolve', { note: form.note }, 'resolve', 'Resolved.', ['note']);
              }}>
                <label>Resolution note <input required value={form.note} onInput={set('note')} /></label>
                <button type="submit" class="danger">Resolve</button>
              </form>}
            </div>
          )}
          <div class="msg-slot" aria-live="polite">
            {msg && <p class={msg.ok ? 'ok' : 'error'} role={msg.ok ? undefined : 'alert'}>{msg.text}</p>}
          </div>
          <h3>History</h3>
          <HistoryTable events={d.history ?? []} />
        </>
      )}
    </section>
  );
}

function HistoryTable({ events }: { events: AlarmEvent[] }) {
  if (events.length === 0) return <p class="muted">No history yet.</p>;
  return (
    <table class="history" data-testid="alarm-history">
      <thead><tr><th scope="col">Time</th><th scope="col">Action</th><th scope="col">By</th><th scope="col">State</th><th scope="col">Reason</th></tr></thead>
      <tbody>
        {events.map((e, i) => (
          <tr key={i}>
            <td class="num">{when(e.at)}</td>
            <td>{e.action}</td>
            <td>{e.actor ?? ''}</td>
            <td>{e.from || e.to ? `${(e.from ?? '').toLowerCase()} → ${(e.to ?? '').toLowerCase()}` : ''}</td>
            <td>{e.reason ?? ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

// SubjectHistory lists a subject's alarms, open and closed (GET …/subjects/{s}/alarms).
function SubjectHistory({ tenant, subject }: { tenant: string; subject: string }) {
  const [items, setItems] = useState<Alarm[] | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    setItems(null);
    api<any>('GET', tenantPath(tenant, `/subjects/${encodeURIComponent(subject)}/alarms`))
      .then((r) => setItems(((r.alarms ?? r.history ?? []) as any[]).map(normalise).sort((a, b) => Date.parse(b.raised_at) - Date.parse(a.raised_at))))
      .catch((e) => setError(e?.status === 404 ? '' : e.message));
  }, [tenant, subject]);
  return (
    <section class="card" aria-labelledby="subj-h" data-testid="subject-history">
      <h2 id="subj-h">Alarm history of {subject}</h2>
      {error && <p class="error">{error}</p>}
      {items && items.length === 0 && <p class="muted">No alarms recorded.</p>}
      {items && items.length > 0 && (
        <table class="history">
          <thead><tr><th scope="col">Raised</th><th scope="col">Priority</th><th scope="col">Alarm</th><th scope="col">State</th><th scope="col">Acknowledged</th><th scope="col">Resolved</th></tr></thead>
          <tbody>
            {items.map((a) => (
              <tr key={a.id}>
                <td class="num"><a href={`/alarms?subject=${encodeURIComponent(subject)}&state=all&alarm=${encodeURIComponent(a.id)}`} onClick={onLink}>{when(a.raised_at)}</a></td>
                <td><PriorityBadge p={a.priority} /></td>
                <td>{a.message || a.code}</td>
                <td>{a.state}</td>
                <td>{a.acknowledged_by ? `${a.acknowledged_by}, ${when(a.acknowledged_at)}` : ''}</td>
                <td>{when(a.resolved_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
