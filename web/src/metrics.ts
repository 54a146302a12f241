// Display names, units and normal ranges of the metrics the console shows. Clinical ranges are
// the NEWS2 score-0 bands for adults (shared/specs/news2.md, Royal College of Physicians 2017);
// storage ranges are the 2–8 °C cold chain.

export interface MetricInfo {
  label: string;
  unit: string; // display unit
  low?: number; // normal range, inclusive
  high?: number;
  digits: number;
}

const table: Record<string, MetricInfo> = {
  hr: { label: 'Heart rate', unit: '/min', low: 51, high: 90, digits: 0 },
  pr_spo2: { label: 'Pulse rate (SpO₂)', unit: '/min', low: 51, high: 90, digits: 0 },
  pr_nibp: { label: 'Pulse rate (NIBP)', unit: '/min', low: 51, high: 90, digits: 0 },
  spo2: { label: 'SpO₂', unit: '%', low: 96, high: 100, digits: 0 },
  rr: { label: 'Respiration rate', unit: '/min', low: 12, high: 20, digits: 0 },
  nibp_sys: { label: 'Systolic BP', unit: 'mmHg', low: 111, high: 219, digits: 0 },
  nibp_dia: { label: 'Diastolic BP', unit: 'mmHg', digits: 0 },
  nibp_mean: { label: 'Mean BP', unit: 'mmHg', digits: 0 },
  temp_body: { label: 'Temperature', unit: '°C', low: 36.1, high: 38.0, digits: 1 },
  temp_ambient: { label: 'Ambient temperature', unit: '°C', low: 2, high: 8, digits: 1 },
  rh: { label: 'Humidity', unit: '%', digits: 0 },
  glucose: { label: 'Glucose', unit: 'mg/dL', low: 70, high: 180, digits: 0 },
  weight: { label: 'Weight', unit: 'kg', digits: 1 },
  pi: { label: 'Perfusion index', unit: '%', digits: 1 },
  battery: { label: 'Battery', unit: '%', digits: 0 },
  lat: { label: 'Latitude', unit: '°', digits: 4 },
  lon: { label: 'Longitude', unit: '°', digits: 4 },
};

const ucum: Record<string, string> = { 'mm[Hg]': 'mmHg', Cel: '°C', '/min': '/min', '%': '%' };

export function metricInfo(metric: string, unit = ''): MetricInfo {
  return table[metric] ?? { label: metric, unit: ucum[unit] ?? unit, digits: 2 };
}

export function formatValue(metric: string, v: number | null | undefined): string {
  if (v == null || Number.isNaN(v)) return '–';
  return v.toFixed(metricInfo(metric).digits);
}

export function outOfRange(metric: string, v: number): boolean {
  const m = table[metric];
  if (!m) return false;
  return (m.low !== undefined && v < m.low) || (m.high !== undefined && v > m.high);
}

// Device status flags (heartbeat, sensor off, poor signal, and the server's connectivity
// readings): stored as readings for the alarms and the record, but not a subject's vital sign.
const statusMetrics = new Set(['heartbeat', 'sensor_off', 'signal_poor', 'connected']);
export const isStatusMetric = (metric: string) => statusMetrics.has(metric);

// Order in which a subject's metrics are listed: vital signs first.
export const metricOrder = ['hr', 'spo2', 'rr', 'nibp_sys', 'nibp_dia', 'temp_body', 'pr_spo2', 'temp_ambient', 'rh'];

export function sortMetrics(ms: string[]): string[] {
  const rank = (m: string) => {
    const i = metricOrder.indexOf(m);
    return i < 0 ? 100 : i;
  };
  return [...ms].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}
