// TempChart draws a cold-chain temperature series (docs/coldchain.md "Series") with uPlot: the
// limits as dashed lines, excursions shaded, gaps left as gaps.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { Series, temp } from './coldchain';

const shade = 'rgba(183, 28, 28, 0.16)';
const limitColour = '#a4161a';

// toData turns the points into uPlot columns, with a null wherever two points are further
// apart than three typical intervals or the source changes (custody moved).
function toData(s: Series): [number[], (number | null)[]] {
  const xs: number[] = [];
  const ys: (number | null)[] = [];
  const ts = s.points.map((p) => Date.parse(p.at) / 1000);
  const gaps = ts.slice(1).map((t, i) => t - ts[i]).sort((a, b) => a - b);
  const typical = gaps.length ? gaps[gaps.length >> 1] : 60;
  for (let i = 0; i < s.points.length; i++) {
    if (i > 0 && (ts[i] - ts[i - 1] > typical * 3 + 1 || s.points[i].source !== s.points[i - 1].source)) {
      xs.push((ts[i] + ts[i - 1]) / 2);
      ys.push(null);
    }
    xs.push(ts[i]);
    ys.push(s.points[i].c);
  }
  return [xs, ys];
}

// timeTicks labels the time axis in 24-hour time (with seconds below 15 minutes), with the date
// at midnight and for ranges of more than two days.
const hm = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', hour12: false });
const hms = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
const dm = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short' });
function timeTicks(u: uPlot, vs: number[]): string[] {
  const span = (u.scales.x.max ?? 0) - (u.scales.x.min ?? 0);
  return vs.map((v) => {
    const d = new Date(v * 1000);
    if (span > 2 * 86400) return dm.format(d);
    if (span < 900) return hms.format(d);
    return d.getHours() === 0 && d.getMinutes() === 0 ? `${dm.format(d)}` : hm.format(d);
  });
}

export function TempChart({ series, label, testid, height = 240 }: { series: Series | null; label: string; testid: string; height?: number }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const cur = useRef<Series | null>(series);
  cur.current = series;

  useEffect(() => {
    const el = box.current!;
    const shadeExcursions = (u: uPlot) => {
      const s = cur.current;
      if (!s) return;
      const to = Date.parse(s.to) / 1000;
      u.ctx.save();
      u.ctx.fillStyle = shade;
      for (const e of s.excursions) {
        const a = u.valToPos(Date.parse(e.start) / 1000, 'x', true);
        const b = u.valToPos(e.end ? Date.parse(e.end) / 1000 : to, 'x', true);
        const l = Math.max(u.bbox.left, a);
        const r = Math.min(u.bbox.left + u.bbox.width, Math.max(b, a + 2));
        if (r > l) u.ctx.fillRect(l, u.bbox.top, r - l, u.bbox.height);
      }
      u.ctx.restore();
    };
    const drawLimits = (u: uPlot) => {
      const s = cur.current;
      if (!s) return;
      u.ctx.save();
      u.ctx.strokeStyle = limitColour;
      u.ctx.lineWidth = 1.5 * devicePixelRatio;
      u.ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
      for (const v of [s.limits.low_c, s.limits.high_c]) {
        if (v == null) continue;
        const y = Math.round(u.valToPos(v, 'y', true));
        u.ctx.beginPath();
        u.ctx.moveTo(u.bbox.left, y);
        u.ctx.lineTo(u.bbox.left + u.bbox.width, y);
        u.ctx.stroke();
      }
      u.ctx.restore();
    };
    const opts: uPlot.Options = {
      width: Math.max(300, el.clientWidth),
      height,
      legend: { show: false },
      scales: {
        x: { time: true },
        y: {
          range: (_u, min, max) => {
            const s = cur.current;
            const lo = Math.min(min ?? Infinity, s?.limits.low_c ?? Infinity);
            const hi = Math.max(max ?? -Infinity, s?.limits.high_c ?? -Infinity);
            if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 10];
            const pad = Math.max(1, (hi - lo) * 0.1);
            return [Math.floor(lo - pad), Math.ceil(hi + pad)];
          },
        },
      },
      axes: [
        { stroke: '#3d4852', grid: { stroke: '#e3e8ee' }, values: timeTicks },
        { stroke: '#3d4852', grid: { stroke: '#e3e8ee' }, size: 64, values: (_u, vs) => vs.map((v) => `${v} °C`) },
      ],
      series: [{}, { label, stroke: '#0b5cad', width: 1.5, spanGaps: false, points: { show: false } }],
      hooks: { drawClear: [shadeExcursions], draw: [drawLimits] },
    };
    const u = new uPlot(opts, [[], []], el);
    plot.current = u;
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(300, el.clientWidth), height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, []);

  useEffect(() => {
    const u = plot.current;
    if (!u || !series) return;
    const [xs, ys] = toData(series);
    u.setData([xs, ys], false);
    u.setScale('x', { min: Date.parse(series.from) / 1000, max: Date.parse(series.to) / 1000 });
  }, [series]);

  const n = series?.points.length ?? 0;
  return (
    <div class="ccchart" data-testid={testid} data-points={n} data-excursions={series?.excursions.length ?? 0}>
      <div ref={box} class="plot" style={{ height: `${height}px` }} role="img"
        aria-label={series ? `${label}: ${n} readings, limits ${temp(series.limits.low_c, 1)} to ${temp(series.limits.high_c, 1)}, ${series.excursions.length} excursion(s)` : label} />
      <p class="legend muted small">
        <span class="key-line" aria-hidden="true" /> limits {series ? `${temp(series.limits.low_c, 1)} – ${temp(series.limits.high_c, 1)}` : ''}
        {' · '}<span class="key-shade" aria-hidden="true" /> excursion{' · '}{n} readings{series && n === 0 ? ' (no data in this window)' : ''}
      </p>
    </div>
  );
}
