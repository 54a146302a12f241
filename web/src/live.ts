// The live store: one EventSource on GET /api/v1/stream for the selected tenant, holding the
// devices' status and every subject's latest readings. The browser reconnects by itself with
// Last-Event-ID; when the server refuses the stream (or is down) the store checks the session
// and reconnects with ?last_event_id=, so no reading is lost. Views subscribe and are told
// about changes at most every `notifyEvery` ms, so 500 devices at 1 Hz cost a few renders a
// second, not hundreds. Alarms arrive as `alarm` events (the server sends the open ones on
// every connect); they are told to subscribers at once, not batched.
import { api, tenantPath } from './api';
import { Alarm, isOpen, normalise } from './alarms';

export interface LiveDevice {
  id: string;
  subject: string;
  kind: string;
  model: string;
  revoked: boolean;
  lastSeen: number | null; // Unix ms
  interval: number; // ms
  battery?: number;
  signal?: number;
}

export interface Latest {
  v: number | null;
  text?: string;
  t: number; // Unix ms (measured)
  unit: string;
}

export interface LiveReading {
  device: string;
  subject: string;
  metric: string;
  value?: number;
  text?: string;
  unit?: string;
  time: number;
}

export type LinkState = 'connecting' | 'open' | 'down';

const notifyEvery = 500;

export function online(d: LiveDevice, now: number): boolean {
  return !d.revoked && d.lastSeen != null && now - d.lastSeen <= 2 * d.interval + 5000;
}

export class LiveStore {
  devices = new Map<string, LiveDevice>();
  subjects = new Map<string, Map<string, Latest>>();
  state: LinkState = 'connecting';
  hasBattery = false;
  hasSignal = false;
  version = 0;
  alarms = new Map<string, Alarm>(); // open alarms by id
  private alarmSeen = new Map<string, number>();
  private alarmListeners = new Set<(a: Alarm, prev: Alarm | undefined) => void>();
  private es: EventSource | null = null;
  private lastId = '';
  private tenant = '';
  private listeners = new Set<() => void>();
  private readingListeners = new Set<(rs: LiveReading[]) => void>();
  private timer: number | undefined;
  private retry: number | undefined;
  private closed = false;

  connect(tenant: string) {
    this.close();
    this.closed = false;
    this.tenant = tenant;
    this.devices.clear();
    this.subjects.clear();
    this.alarms.clear();
    this.alarmSeen.clear();
    this.lastId = '';
    this.open();
  }

  close() {
    this.closed = true;
    this.es?.close();
    this.es = null;
    clearTimeout(this.retry);
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  onReadings(fn: (rs: LiveReading[]) => void): () => void {
    this.readingListeners.add(fn);
    return () => this.readingListeners.delete(fn);
  }

  // onAlarm is told about every alarm event (with the alarm's previous version, if known).
  onAlarm(fn: (a: Alarm, prev: Alarm | undefined) => void): () => void {
    this.alarmListeners.add(fn);
    return () => this.alarmListeners.delete(fn);
  }

  // applyAlarm records an alarm's new version (from the stream or an action's answer).
  applyAlarm(a: Alarm) {
    const prev = this.alarms.get(a.id);
    this.alarmSeen.set(a.id, Date.now());
    if (isOpen(a)) this.alarms.set(a.id, a);
    else this.alarms.delete(a.id);
    for (const fn of this.alarmListeners) fn(a, prev);
    this.changed(true);
  }

  // resyncAlarms replaces the open alarms with the API's list after a (re)connect, so alarms
  // that closed while the stream was down do not linger; versions the stream delivered while
  // the list was loading win.
  private async resyncAlarms() {
    const started = Date.now();
    const tenant = this.tenant;
    try {
      const r = await api<{ alarms: any[] }>('GET', tenantPath(tenant, '/alarms?state=active&limit=1000'));
      if (tenant !== this.tenant) return;
      const fresh = new Map(r.alarms.map((x) => [x.id as string, normalise(x)]));
      for (const [id] of this.alarms) {
        if (!fresh.has(id) && (this.alarmSeen.get(id) ?? 0) < started) this.alarms.delete(id);
      }
      for (const [id, a] of fresh) {
        if ((this.alarmSeen.get(id) ?? 0) < started && isOpen(a)) this.alarms.set(id, a);
      }
      this.changed(true);
    } catch {
      /* no alarm API (404/503) or not allowed (403): the stream's events are all there is */
    }
  }

  private open() {
    let url = `/api/v1/stream?tenant=${encodeURIComponent(this.tenant)}`;
    if (this.lastId) url += `&last_event_id=${encodeURIComponent(this.lastId)}`;
    const es = new EventSource(url);
    this.es = es;
    es.onopen = () => {
      this.setState('open');
      this.resyncAlarms();
    };
    es.onerror = () => {
      // CONNECTING: the browser retries by itself (with Last-Event-ID); CLOSED: the server
      // refused the stream (401, 5xx), so we check the session and reopen it ourselves.
      this.setState('down');
      if (es.readyState === EventSource.CLOSED) this.recover();
    };
    es.addEventListener('devices', (e) => this.onDevices(JSON.parse((e as MessageEvent).data)));
    es.addEventListener('reading', (e) => {
      const me = e as MessageEvent;
      if (me.lastEventId) this.lastId = me.lastEventId;
      this.onReading(JSON.parse(me.data).readings as LiveReading[]);
    });
    es.addEventListener('alarm', (e) => this.applyAlarm(normalise(JSON.parse((e as MessageEvent).data))));
    es.addEventListener('expired', () => {
      es.close();
      this.recover();
    });
  }

  // recover checks the session (a 401 sends the app to the login page) and reopens the
  // stream after the sequence last seen.
  private recover() {
    this.es?.close();
    this.es = null;
    clearTimeout(this.retry);
    this.retry = window.setTimeout(async () => {
      if (this.closed) return;
      try {
        await api('GET', '/api/v1/me');
      } catch (err: any) {
        if (err?.status === 401) return; // the app logs out
      }
      if (!this.closed) this.open();
    }, 2000);
  }

  private setState(s: LinkState) {
    if (this.state !== s) {
      this.state = s;
      this.changed(true);
    }
  }

  private onDevices(msg: { full: boolean; devices: any[] }) {
    if (msg.full) this.devices.clear();
    for (const d of msg.devices) {
      const old = this.devices.get(d.id);
      const lastSeen = Math.max(d.last_seen ?? 0, old?.lastSeen ?? 0) || null;
      this.devices.set(d.id, {
        id: d.id,
        subject: d.subject,
        kind: d.kind,
        model: d.model,
        revoked: d.revoked,
        lastSeen,
        interval: d.interval_ms,
        battery: d.battery ?? old?.battery,
        signal: d.signal ?? old?.signal,
      });
      if (d.battery != null) this.hasBattery = true;
      if (d.signal != null) this.hasSignal = true;
    }
    this.changed();
  }

  private onReading(rs: LiveReading[]) {
    const now = Date.now();
    for (const r of rs) {
      let m = this.subjects.get(r.subject);
      if (!m) {
        m = new Map();
        this.subjects.set(r.subject, m);
      }
      const prev = m.get(r.metric);
      if (!prev || prev.t <= r.time) m.set(r.metric, { v: r.value ?? null, text: r.text, t: r.time, unit: r.unit ?? '' });
      const d = this.devices.get(r.device);
      if (d) {
        d.lastSeen = Math.max(d.lastSeen ?? 0, Math.min(r.time, now));
        if (r.metric === 'battery' && r.value != null) {
          d.battery = r.value;
          this.hasBattery = true;
        }
      }
    }
    for (const fn of this.readingListeners) fn(rs);
    this.changed();
  }

  // changed tells subscribers, at most every notifyEvery ms unless now.
  private changed(now = false) {
    this.version++;
    if (now) {
      clearTimeout(this.timer);
      this.timer = undefined;
      for (const fn of this.listeners) fn();
      return;
    }
    if (this.timer !== undefined) return;
    this.timer = window.setTimeout(() => {
      this.timer = undefined;
      for (const fn of this.listeners) fn();
    }, notifyEvery);
  }
}

export const live = new LiveStore();
