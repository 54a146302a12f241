// Alarms: the record the API and the `alarm` SSE event carry, ordering (priority, then age —
// oldest first, as the server orders them), the actions, and the console's alarm sound.
// Priorities, colours and sound patterns follow IEC 60601-1-8 as summarised in
// shared/specs/alarms.md §1.2.
import { api, Role, tenantPath } from './api';

export type Priority = 'high' | 'medium' | 'low';

export interface Alarm {
  id: string;
  tenant: string;
  subject: string;
  device: string;
  metric: string;
  code: string;
  kind: string;
  priority: Priority;
  state: string;
  message: string;
  value?: number | null;
  unit?: string;
  raised_at: string;
  acknowledged_at?: string | null;
  acknowledged_by?: string | null;
  silenced_until?: string | null;
  escalation_tier?: number;
  next_escalation_at?: string | null;
  resolved_at?: string | null;
  assessment_due_at?: string | null; // NEWS2 alarms: the clinician's assessment is due by then (alarms.md §7)
}

export interface AlarmEvent {
  at: string;
  action: string;
  actor?: string;
  reason?: string;
  from?: string;
  to?: string;
}

export type AlarmDetail = Alarm & { history?: AlarmEvent[] };

const rank: Record<string, number> = { high: 3, medium: 2, low: 1 };
export const priorityLabel: Record<Priority, string> = { high: 'High', medium: 'Medium', low: 'Low' };
// IEC 60601-1-8 priority markers (!!! high, !! medium, ! low): the colour is never the only cue.
export const priorityMark: Record<Priority, string> = { high: '!!!', medium: '!!', low: '!' };

// normalise lower-cases the enumerations (the engine names them in upper case) so both spellings
// work.
export function normalise(a: any): Alarm {
  return {
    ...a,
    priority: String(a.priority ?? 'low').toLowerCase() as Priority,
    state: String(a.state ?? '').toLowerCase(),
    kind: String(a.kind ?? '').toLowerCase(),
  };
}

export const isTerminal = (s: string) => s === 'resolved' || s === 'cancelled' || s === 'discarded';
// Open and visible to clinicians (pending is an engineering state, spec §4.1).
export const isOpen = (a: Alarm) => !isTerminal(a.state) && a.state !== 'pending';
// Unacknowledged: still calling for someone.
export const isCalling = (a: Alarm) => a.state === 'active' || a.state === 'latched' || a.state === 'escalated';
export const isSilenced = (a: Alarm, now: number) => !!a.silenced_until && Date.parse(a.silenced_until) > now;

export function compareAlarms(a: Alarm, b: Alarm): number {
  return (rank[b.priority] ?? 0) - (rank[a.priority] ?? 0) || Date.parse(a.raised_at) - Date.parse(b.raised_at) || a.id.localeCompare(b.id);
}

// highest returns the highest priority among the alarms, or null.
export function highest(alarms: Iterable<Alarm>): Priority | null {
  let best: Priority | null = null;
  for (const a of alarms) if (!best || rank[a.priority] > rank[best]) best = a.priority;
  return best;
}

// Alarm permissions per role, as the server's (docs/api.md): alarms.read — every role but QA;
// alarms.act (acknowledge, silence, escalate) — nurse, clinician, operator; alarms.manage
// (resolve by hand) — admin. The server decides anyway (403 per alarm and capacity).
export const canAlarms = {
  read: (r: Role) => r !== 'qa',
  act: (r: Role) => r === 'nurse' || r === 'clinician' || r === 'operator' || r === 'provider-admin',
  manage: (r: Role) => r === 'admin' || r === 'provider-admin',
  // Recording a NEWS2 assessment: physicians (the clinician role) with access to the patient.
  assess: (r: Role) => r === 'clinician',
};

export type AlarmAction = 'ack' | 'silence' | 'escalate' | 'resolve' | 'assessment';

export function alarmAction(tenant: string, id: string, action: AlarmAction, body: Record<string, string>): Promise<any> {
  return api<any>('POST', tenantPath(tenant, `/alarms/${encodeURIComponent(id)}/${action}`), body).then(normalise);
}

// countdown formats the time left until an ISO instant: "1:05", "0:09", or "" when none.
export function countdown(iso: string | null | undefined, now: number): string {
  if (!iso) return '';
  const s = Math.ceil((Date.parse(iso) - now) / 1000);
  if (Number.isNaN(s)) return '';
  if (s <= 0) return 'due now';
  const m = Math.floor(s / 60);
  return m >= 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${m}:${String(s % 60).padStart(2, '0')}`;
}

export function formatAlarmValue(a: Alarm): string {
  if (a.value == null) return '';
  const v = a.value;
  return `${Number.isInteger(v) ? v : v.toFixed(1)}${a.unit ? ' ' + a.unit : ''}`;
}

// The alarm sound (Web Audio). The AudioContext is created inside a user gesture only, so the
// browser never blocks it (no autoplay warnings); until then `blocked` is true and the banner
// offers to enable sound. Patterns (seconds from the burst's start): HIGH is 10 pulses, 3+2,
// pause, 3+2; MEDIUM 3 pulses; LOW 1 pulse, quieter and lower — never louder or more frequent
// than MEDIUM.
const patterns: Record<Priority, { at: number[]; len: number; hz: number; gain: number }> = {
  high: { at: [0, 0.25, 0.5, 0.95, 1.2, 2.2, 2.45, 2.7, 3.15, 3.4], len: 0.15, hz: 880, gain: 0.25 },
  medium: { at: [0, 0.3, 0.6], len: 0.2, hz: 660, gain: 0.2 },
  low: { at: [0], len: 0.25, hz: 520, gain: 0.15 },
};

const pauseMs = 120_000; // audio pause, spec §5.1

export class AlarmSound {
  private ctx: AudioContext | null = null;
  bursts = 0; // bursts played (tests read it)
  pausedUntil = 0;
  private listeners = new Set<() => void>();

  constructor() {
    const unlock = () => {
      if (!this.ctx) {
        try {
          this.ctx = new AudioContext();
        } catch {
          return;
        }
      }
      if (this.ctx.state === 'suspended') this.ctx.resume().catch(() => {});
      this.changed();
    };
    for (const ev of ['pointerdown', 'keydown']) document.addEventListener(ev, unlock, { capture: true });
  }

  get blocked(): boolean {
    return !this.ctx || this.ctx.state !== 'running';
  }

  paused(now = Date.now()): boolean {
    return this.pausedUntil > now;
  }

  // togglePause pauses the console's sound for two minutes, or ends the pause.
  togglePause() {
    this.pausedUntil = this.paused() ? 0 : Date.now() + pauseMs;
    this.changed();
  }

  // endPause: a new alarm ends the audio pause (spec §5.1).
  endPause() {
    if (this.pausedUntil) {
      this.pausedUntil = 0;
      this.changed();
    }
  }

  play(p: Priority): boolean {
    if (this.paused() || this.blocked || !this.ctx) return false;
    const ctx = this.ctx;
    const pat = patterns[p];
    const t0 = ctx.currentTime + 0.05;
    for (const at of pat.at) {
      const osc = ctx.createOscillator();
      const g = ctx.createGain();
      osc.type = 'triangle';
      osc.frequency.value = pat.hz;
      g.gain.setValueAtTime(0, t0 + at);
      g.gain.linearRampToValueAtTime(pat.gain, t0 + at + 0.01);
      g.gain.setValueAtTime(pat.gain, t0 + at + pat.len - 0.02);
      g.gain.linearRampToValueAtTime(0, t0 + at + pat.len);
      osc.connect(g).connect(ctx.destination);
      osc.start(t0 + at);
      osc.stop(t0 + at + pat.len);
    }
    this.bursts++;
    this.changed();
    return true;
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed() {
    for (const fn of this.listeners) fn();
  }
}

export const sound = new AlarmSound();
