import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { api, tenantPath } from '../api';
import { live, LiveReading } from '../live';
import { formatValue, metricInfo, sortMetrics } from '../metrics';
import { onLink } from '../router';

const HOUR = 3600_000;
const presets = [
  { label: '1 h', span: HOUR },
  { label: '24 h', span: 24 * HOUR },
  { label: '7 d', span: 7 * 24 * HOUR },
];
const maxRaw = 2000; // raw points when the range holds fewer than this, else buckets
const targetBuckets = 600;

// A range is either live (the last `span` ms, following now) or fixed.
export interface Range {
  from: number;
  to: number;
  live: boolean;
}

export function SubjectPage({ tenant, subject }: { tenant: string; subject: string }) {
  const [metrics, setMetrics] = useState<{ metric: string; unit: string }[] | null>(null);
  const [error, setError] = useState('');
  const [range, setRange] = useState<Range>(() => ({ from: Date.now() - HOUR, to: Date.now(), live: true }));
  const [custom, setCustom] = useState({ from: '', to: '' });

  useEffect(() => {
    api<{ latest: { metric: string; unit: string; v?: number }[] }>(
      'GET', tenantPath(tenant, `/subjects/${encodeURIComponent(subject)}/latest`))
      .then((r) => {
        const numeric = r.latest.filter((p) => p.v !== undefined);
        const order = sortMetrics(numeric.map((p) => p.metric));
        setMetrics(order.map((m) => ({ metric: m, unit: numeric.find((p) => p.metric === m)!.unit })));
      })
      .catch((e) => setError(e.message));
  }, [tenant, subject]);

  const span = range.to - range.from;
  const pan = (dir: number) => {
    const shift = (span / 2) * dir;
    const to = Math.min(Date.now(), range.to + shift);
    setRange({ from: to - span, to, live: dir > 0 && to >= Date.now() - 1000 });
  };
  const applyCustom = (e: Event) => {
    e.preventDefault();
    const from = Date.parse(custom.from);
    const to = Date.parse(custom.to);
    if (!Number.isNaN(from) && !Number.isNaN(to) && from < to) setRange({ from, to, live: false });
  };
  return (
    <>
      <p class="crumbs"><a href="/" onClick={onLink}>Overview</a> › {subject}</p>
      <h1>{subject}</h1>
      <div class="toolbar" role="toolbar" aria-label="Time range">
        {presets.map((p) => (
          <button key={p.label} type="button" aria-pressed={range.live && span === p.span}
            onClick={() => setRange({ from: Date.now() - p.span, to: Date.now(), live: true })}>{p.label}</button>
        ))}
        <button type="button" onClick={() => pan(-1)} aria-label="Earlier">◀ Earlier</button>
        <button type="button" onClick={() => pan(1)} aria-label="Later">Later ▶</button>
        <form class="custom" onSubmit={applyCustom}>
          <label>From <input type="datetime-local" value={custom.from}
            onInput={(e) => setCustom({ ...custom, from: (e.target as HTMLInputElement).value })} /></label>
          <label>To <input type="datetime-local" value={custom.to}
            onInput={(e) => setCustom({ ...custom, to: (e.target as HTMLInputElement).value })} /></label>
          <button type="submit">Show</button>
        </form>
        <span class="muted range-note">{range.live ? 'Live' : 'Fixed range'} · drag across a chart to zoom</span>
      </div>
      {error && <p class="error" role="alert">{error}</p>}
      {metrics === null && !error && <p class="loading">Loading…</p>}
      {metrics?.length === 0 && <p class="muted">No numeric readings for this subject yet.</p>}
      <div class="charts">
        {metrics?.map((m) => (
          <Chart key={m.metric} tenant={tenant} subject={subject} metric={m.metric} unit={m.unit} range={range}
            onZoom={(from, to) => setRange({ from, to, live: false })} />
        ))}
      </div>
    </>
  );
}

interface Series {
  xs: number[]; // seconds
  ys: (number | null)[];
  raw: boolean;
  step: number; // seconds between points (bucket step or typical raw gap)
}

// withGaps inserts a null where two points are further apart than gap seconds, so uPlot
// draws a gap instead of a line across missing data.
function withGaps(xs: number[], ys: (number | null)[], gap: number): [number[], (number | null)[]] {
  const ox: number[] = [];
  const oy: (number | null)[] = [];
  for (let i = 0; i < xs.length; i++) {
    if (i > 0 && xs[i] - xs[i - 1] > gap) {
      ox.push((xs[i] + xs[i - 1]) / 2);
      oy.push(null);
    }
    ox.push(xs[i]);
    oy.push(ys[i]);
  }
  return [ox, oy];
}

function median(a: number[]): number {
  if (a.length === 0) return 0;
  const s = [...a].sort((x, y) => x - y);
  return s[s.length >> 1];
}

async function load(base: string, metric: string, from: number, to: number): Promise<Series> {
  const q = `metric=${encodeURIComponent(metric)}&from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}`;
  const step = Math.max(1, Math.ceil((to - from) / 1000 / targetBuckets));
  const b = await api<{ buckets: { t: string; mean: number; count: number }[] }>('GET', `${base}?${q}&step=${step}s`);
  const total = b.buckets.reduce((n, x) => n + x.count, 0);
  if (total < maxRaw) {
    const r = await api<{ points: { t: string; v?: number }[] }>('GET', `${base}?${q}&limit=${maxRaw}`);
    const xs = r.points.map((p) => Date.parse(p.t) / 1000);
    const ys = r.points.map((p) => p.v ?? null);
    const gaps = xs.slice(1).map((x, i) => x - xs[i]);
    const typical = Math.max(1, median(gaps));
    const [gx, gy] = withGaps(xs, ys, typical * 3 + 1);
    return { xs: gx, ys: gy, raw: true, step: typical };
  }
  const xs = b.buckets.map((x) => Date.parse(x.t) / 1000);
  const ys = b.buckets.map((x) => x.mean);
  const [gx, gy] = withGaps(xs, ys, step * 1.5);
  return { xs: gx, ys: gy, raw: false, step };
}

// Chart is one metric's trend. By default it shows a subject's readings; the patient page
// passes its own readings route (`base`) and which stream readings belong to the chart (`match`).
export function Chart(props: {
  tenant: string; subject: string; metric: string; unit: string; range: Range; onZoom: (from: number, to: number) => void;
  base?: string; match?: (r: LiveReading) => boolean;
}) {
  const { tenant, subject, metric, unit, range } = props;
  const base = props.base ?? tenantPath(tenant, `/subjects/${encodeURIComponent(subject)}/readings`);
  const match = useRef(props.match);
  match.current = props.match;
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const data = useRef<Series>({ xs: [], ys: [], raw: true, step: 1 });
  const zoom = useRef(props.onZoom);
  zoom.current = props.onZoom;
  const [info, setInfo] = useState({ points: 0, raw: true, loading: true, error: '' });
  const m = metricInfo(metric, unit);

  // Create the plot once.
  useEffect(() => {
    const el = box.current!;
    const band = (u: uPlot) => {
      if (m.low === undefined && m.high === undefined) return;
      const lo = m.low ?? u.scales.y.min!;
      const hi = m.high ?? u.scales.y.max!;
      const y1 = u.valToPos(hi, 'y', true);
      const y2 = u.valToPos(lo, 'y', true);
      u.ctx.save();
      u.ctx.fillStyle = 'rgba(20, 108, 46, 0.10)';
      u.ctx.fillRect(u.bbox.left, Math.max(u.bbox.top, y1), u.bbox.width, Math.min(u.bbox.top + u.bbox.height, y2) - Math.max(u.bbox.top, y1));
      u.ctx.restore();
    };
    const opts: uPlot.Options = {
      width: Math.max(300, el.clientWidth),
      height: 200,
      cursor: { drag: { x: true, y: false, setScale: false } },
      select: { show: true, left: 0, top: 0, width: 0, height: 0 },
      legend: { show: false },
      scales: { x: { time: true } },
      axes: [
        { stroke: '#3d4852', grid: { stroke: '#e3e8ee' }, space: 70 },
        { stroke: '#3d4852', grid: { stroke: '#e3e8ee' }, size: 50 },
      ],
      series: [{}, { label: m.label, stroke: '#0b5cad', width: 1.5, spanGaps: false, points: { show: false } }],
      hooks: {
        drawClear: [band],
        setSelect: [
          (u) => {
            if (u.select.width < 5) return;
            const from = u.posToVal(u.select.left, 'x') * 1000;
            const to = u.posToVal(u.select.left + u.select.width, 'x') * 1000;
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            zoom.current(Math.round(from), Math.round(to));
          },
        ],
      },
    };
    const u = new uPlot(opts, [[], []], el);
    plot.current = u;
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(300, el.clientWidth), height: 200 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, []);

  // (Re)load when the range changes.
  useEffect(() => {
    let stale = false;
    setInfo((i) => ({ ...i, loading: true, error: '' }));
    load(base, metric, range.from, range.to)
      .then((s) => {
        if (stale) return;
        data.current = s;
        plot.current?.setData([s.xs, s.ys], false);
        plot.current?.setScale('x', { min: range.from / 1000, max: range.to / 1000 });
        setInfo({ points: s.ys.filter((y) => y != null).length, raw: s.raw, loading: false, error: '' });
      })
      .catch((e) => !stale && setInfo((i) => ({ ...i, loading: false, error: e.message })));
    return () => {
      stale = true;
    };
  }, [base, metric, range.from, range.to, range.live]);

  // Live append: new readings of this subject and metric join the chart (live ranges only).
  useEffect(() => {
    if (!range.live) return;
    const span = range.to - range.from;
    let pending = false;
    let timer: number | undefined;
    const off = live.onReadings((rs: LiveReading[]) => {
      const s = data.current;
      for (const r of rs) {
        if (r.metric !== metric || r.value == null || !(match.current ? match.current(r) : r.subject === subject)) continue;
        const x = r.time / 1000;
        const last = s.xs[s.xs.length - 1];
        if (last !== undefined && x <= last) continue;
        if (last !== undefined && x - last > Math.max(s.step * 3 + 1, 1)) {
          s.xs.push((x + last) / 2);
          s.ys.push(null);
        }
        s.xs.push(x);
        s.ys.push(r.value);
        pending = true;
      }
      if (pending && timer === undefined) {
        timer = window.setTimeout(() => {
          timer = undefined;
          pending = false;
          const now = Date.now();
          const from = (now - span) / 1000;
          while (s.xs.length > 0 && s.xs[0] < from) {
            s.xs.shift();
            s.ys.shift();
          }
          plot.current?.setData([s.xs, s.ys], false);
          plot.current?.setScale('x', { min: from, max: now / 1000 });
          setInfo((i) => ({ ...i, points: s.ys.filter((y) => y != null).length }));
        }, 1000);
      }
    });
    return () => {
      off();
      clearTimeout(timer);
    };
  }, [subject, metric, range.from, range.to, range.live]);

  const latest = data.current.ys.length ? data.current.ys[data.current.ys.length - 1] : null;
  const normal = m.low !== undefined || m.high !== undefined
    ? `normal ${m.low ?? '…'}–${m.high ?? '…'} ${m.unit}` : '';
  return (
    <section class="card chart" data-testid={`chart-${metric}`} data-points={info.points} aria-label={`${m.label} trend`}>
      <header class="chart-h">
        <h2>{m.label} <span class="unit">({m.unit})</span></h2>
        <span class="muted">
          {normal}{normal && ' · '}{info.loading ? 'loading…' : `${info.points} ${info.raw ? 'points' : 'buckets'}`}
          {latest != null && <> · latest <strong>{formatValue(metric, latest)}</strong></>}
        </span>
      </header>
      {info.error && <p class="error" role="alert">{info.error}</p>}
      <div ref={box} class="plot" />
    </section>
  );
}
