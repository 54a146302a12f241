import { useEffect, useState } from 'preact/hooks';
import { live } from './live';

// useLive re-renders the component when the live store changes (at most twice a second) and
// every second (relative times).
export function useLive(): number {
  const [v, setV] = useState(0);
  useEffect(() => {
    const off = live.subscribe(() => setV((x) => x + 1));
    const t = setInterval(() => setV((x) => x + 1), 1000);
    return () => {
      off();
      clearInterval(t);
    };
  }, []);
  return v;
}

export function ago(ms: number | null | undefined, now: number): string {
  if (!ms) return 'never';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}
