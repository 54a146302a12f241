import { useEffect } from 'preact/hooks';
import { api, tenantPath } from '../api';
import { ago, useLive } from '../hooks';
import { live, online } from '../live';
import { formatValue, isStatusMetric, metricInfo, outOfRange, sortMetrics } from '../metrics';
import { onLink } from '../router';
import { Alarm, compareAlarms, isCalling } from '../alarms';
import { PriorityBadge } from './alarms';

const shownMetrics = 5;

export function Overview({ tenant }: { tenant: string }) {
  useLive();
  // Seed subjects' latest values from the API (the stream then keeps them current).
  useEffect(() => {
    let stop = false;
    api<{ subjects: string[] }>('GET', tenantPath(tenant, '/subjects')).then(async (r) => {
      for (const s of r.subjects.slice(0, 60)) {
        if (stop) return;
        const l = await api<{ latest: { t: string; v?: number; vs?: string; metric: string; unit: string }[] }>(
          'GET', tenantPath(tenant, `/subjects/${encodeURIComponent(s)}/latest`));
        let m = live.subjects.get(s);
        if (!m) live.subjects.set(s, (m = new Map()));
        for (const p of l.latest) {
          const t = Date.parse(p.t);
          const prev = m.get(p.metric);
          if (!prev || prev.t < t) m.set(p.metric, { v: p.v ?? null, text: p.vs, t, unit: p.unit });
        }
      }
    }).catch(() => {});
    return () => {
      stop = true;
    };
  }, [tenant]);

  const now = Date.now();
  const devices = [...live.devices.values()].sort((a, b) => a.id.localeCompare(b.id));
  const up = devices.filter((d) => online(d, now)).length;
  // Open alarms per subject, most urgent first; subjects with alarms but no readings are listed too.
  const bySubject = new Map<string, Alarm[]>();
  for (const a of live.alarms.values()) {
    if (!a.subject) continue;
    const l = bySubject.get(a.subject);
    if (l) l.push(a);
    else bySubject.set(a.subject, [a]);
  }
  for (const l of bySubject.values()) l.sort(compareAlarms);
  const subjects = [...new Set([...live.subjects.keys(), ...bySubject.keys()])].sort();
  return (
    <>
      <h1>Live overview</h1>
      <p class="summary" data-testid="summary">
        <strong>{up}</strong> of <strong>{devices.length}</strong> devices online · <strong>{subjects.length}</strong> subjects
      </p>
      <div class="grid2">
        <section class="card" aria-labelledby="subjects-h">
          <h2 id="subjects-h">Subjects</h2>
          <div class="scroll">
            <table class="subjects" data-testid="subjects">
              <thead>
                <tr><th scope="col">Subject</th><th scope="col">Latest readings</th></tr>
              </thead>
              <tbody>
                {subjects.map((s) => {
                  const m = live.subjects.get(s) ?? new Map();
                  const al = bySubject.get(s);
                  const metrics = sortMetrics([...m.keys()].filter((k) => m.get(k)!.v != null && !isStatusMetric(k))).slice(0, shownMetrics);
                  return (
                    <tr key={s} data-subject={s} data-alarm-priority={al?.[0].priority}>
                      <th scope="row"><a href={`/subjects/${encodeURIComponent(s)}`} onClick={onLink}>{s}</a></th>
                      <td>
                        {al && (
                          <a class="subject-alarm" href={`/alarms?subject=${encodeURIComponent(s)}`} onClick={onLink} data-testid={`alarm-${s}`}>
                            <PriorityBadge p={al[0].priority} calling={isCalling(al[0])} />{' '}
                            {al[0].message || al[0].code}{al.length > 1 ? ` (+${al.length - 1})` : ''}
                            {!isCalling(al[0]) && <span class="muted"> · {al[0].state}</span>}
                          </a>
                        )}
                        <ul class="vals">
                          {metrics.map((k) => {
                            const l = m.get(k)!;
                            const info = metricInfo(k, l.unit);
                            const bad = l.v != null && outOfRange(k, l.v);
                            return (
                              <li key={k} class={bad ? 'val bad' : 'val'} data-metric={k} title={`${info.label}, ${ago(l.t, now)}`}>
                                <span class="vl">{info.label}</span>{' '}
                                <span class="vv" data-testid={`v-${s}-${k}`}>{formatValue(k, l.v)}</span>{' '}
                                <span class="vu">{info.unit}</span>
                                {bad && <span class="sr-only"> (out of normal range)</span>}
                              </li>
                            );
                          })}
                        </ul>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
            {subjects.length === 0 && <p class="muted">Waiting for readings…</p>}
          </div>
        </section>
        <section class="card" aria-labelledby="devices-h">
          <h2 id="devices-h">Devices</h2>
          <div class="scroll">
            <table class="devices" data-testid="devices">
              <thead>
                <tr>
                  <th scope="col">Device</th>
                  <th scope="col">Subject</th>
                  <th scope="col">Status</th>
                  <th scope="col">Last seen</th>
                  {live.hasBattery && <th scope="col">Battery</th>}
                  {live.hasSignal && <th scope="col">Signal</th>}
                </tr>
              </thead>
              <tbody>
                {devices.map((d) => {
                  const on = online(d, now);
                  return (
                    <tr key={d.id} data-device={d.id} data-online={on ? 'true' : 'false'}>
                      <th scope="row">{d.id}</th>
                      <td>{d.subject}</td>
                      <td>
                        <span class={on ? 'status on' : 'status off'}>
                          <span aria-hidden="true">{on ? '●' : '○'}</span> {d.revoked ? 'Revoked' : on ? 'Online' : 'Offline'}
                        </span>
                      </td>
                      <td class="num">{ago(d.lastSeen, now)}</td>
                      {live.hasBattery && <td class="num">{d.battery == null ? '–' : `${Math.round(d.battery)} %`}</td>}
                      {live.hasSignal && <td class="num">{d.signal == null ? '–' : `${Math.round(d.signal)} dBm`}</td>}
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        </section>
      </div>
    </>
  );
}
