// On every page: a banner for each new high-priority alarm that is still unacknowledged, with
// the IEC high-priority burst repeated every 10 s while one calls (unless the alarm is
// silenced or the console's sound is paused), the console's sound-pause toggle, and the
// alarm count for the navigation.
import { useEffect, useState } from 'preact/hooks';
import { highest, isCalling, isSilenced, sound } from './alarms';
import { live } from './live';
import { onLink } from './router';

const repeatMs = 10_000;

function useAlarmsVersion() {
  const [, setV] = useState(0);
  useEffect(() => {
    const off1 = live.subscribe(() => setV((x) => x + 1));
    const off2 = sound.subscribe(() => setV((x) => x + 1));
    return () => {
      off1();
      off2();
    };
  }, []);
}

export function AlarmBanner() {
  useAlarmsVersion();
  const [shown, setShown] = useState<string[]>([]); // newest first
  const [, tick] = useState(0);
  useEffect(() => {
    const calling = () => shown.some((id) => {
      const a = live.alarms.get(id);
      return a && isCalling(a) && !isSilenced(a, Date.now());
    });
    const off = live.onAlarm((a, prev) => {
      const isNew = a.priority === 'high' && isCalling(a) && !(prev && prev.priority === 'high' && isCalling(prev));
      if (!isNew) return;
      setShown((s) => [a.id, ...s.filter((x) => x !== a.id)]);
      sound.endPause();
      if (!isSilenced(a, Date.now())) sound.play('high');
    });
    const t = setInterval(() => {
      if (calling()) sound.play('high');
      tick((x) => x + 1);
    }, repeatMs);
    return () => {
      off();
      clearInterval(t);
    };
  }, [shown]);
  const now = Date.now();
  const items = shown.map((id) => live.alarms.get(id)).filter((a) => a && a.priority === 'high' && isCalling(a));
  return (
    <div class="alarm-banners" role="alert" aria-live="assertive" data-bursts={sound.bursts}>
      {items.map((a) => a && (
        <div class="alarm-banner" key={a.id} data-testid="alarm-banner" data-alarm={a.id}>
          <span class="prio p-high calling"><span aria-hidden="true">!!!</span> High</span>
          <span class="ab-text"><strong>{a.subject || a.device}</strong> · {a.message || a.code}{isSilenced(a, now) ? ' (silenced)' : ''}</span>
          <a href={`/alarms?alarm=${encodeURIComponent(a.id)}`} onClick={onLink}>View alarm</a>
          {sound.blocked && !sound.paused(now) && (
            <button type="button" onClick={() => sound.play('high')}>Enable sound</button>
          )}
          <button type="button" class="ab-close" aria-label={`Hide the banner for ${a.subject}`} onClick={() => setShown((s) => s.filter((x) => x !== a.id))}>×</button>
        </div>
      ))}
    </div>
  );
}

// SoundToggle pauses this console's alarm sound for two minutes (spec §5.1: audio pause; a new
// alarm ends it; indefinite audio off is not offered).
export function SoundToggle() {
  useAlarmsVersion();
  const [, tick] = useState(0);
  useEffect(() => {
    const t = setInterval(() => sound.paused() && tick((x) => x + 1), 1000);
    return () => clearInterval(t);
  }, []);
  const now = Date.now();
  const paused = sound.paused(now);
  const left = Math.ceil((sound.pausedUntil - now) / 1000);
  return (
    <button type="button" class="sound" aria-pressed={paused} data-testid="sound-toggle" onClick={() => sound.togglePause()}
      title={paused ? 'Alarm sound paused; click to turn it back on' : 'Pause the alarm sound of this console for 2 minutes'}>
      {paused ? `Sound paused ${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}` : 'Pause sound'}
    </button>
  );
}

// AlarmCount: the number of open alarms, coloured by the highest unacknowledged priority.
export function AlarmCount() {
  useAlarmsVersion();
  const n = live.alarms.size;
  if (n === 0) return null;
  const top = highest([...live.alarms.values()].filter(isCalling));
  return (
    <span class={`count ${top ? 'p-' + top : 'p-ack'}`} data-testid="alarm-count">
      {n}<span class="sr-only"> open alarm{n === 1 ? '' : 's'}</span>
    </span>
  );
}
