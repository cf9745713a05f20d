// RateChart.tsx - live tokens/s while an answer streams (uPlot on a
// canvas). Redrawn every 250 ms from the run's arrival times; the legend is
// off (its default colours are not ours) and the current rate is also given
// as text for screen readers.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { rateSeries } from '../../lib/pulseStats';

const AXIS = '#94a3b8'; // slate-400
const GRID = '#1e293b'; // slate-800
const LINE = '#818cf8'; // indigo-400

export function RateChart({ times, live, endAt, label }: {
  /** arrival times (performance.now()); the array grows in place while streaming */
  times: number[];
  live: boolean;
  /** when the run ended (the series stops there) */
  endAt: number | null;
  label: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const summary = useRef<HTMLParagraphElement>(null);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const width = () => Math.max(200, el.clientWidth);
    const u = new uPlot({
      width: width(), height: 120,
      legend: { show: false },
      cursor: { show: false },
      scales: { x: { time: false, range: (_u, _min, max) => [0, Math.max(1, max)] }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.15)] } },
      axes: [
        { stroke: AXIS, grid: { stroke: GRID, width: 1 }, ticks: { stroke: GRID }, size: 28, values: (_u, v) => v.map((x) => `${x}s`) },
        { stroke: AXIS, grid: { stroke: GRID, width: 1 }, ticks: { stroke: GRID }, size: 44 },
      ],
      series: [{}, { label: 'tokens/s', stroke: LINE, width: 2, fill: 'rgba(129,140,248,0.15)', points: { show: false } }],
    }, [[], []], el);
    plot.current = u;
    const ro = new ResizeObserver(() => u.setSize({ width: width(), height: 120 }));
    ro.observe(el);
    return () => { ro.disconnect(); u.destroy(); plot.current = null; };
  }, []);

  useEffect(() => {
    const draw = () => {
      const u = plot.current;
      if (!u) return;
      const until = endAt ?? (live ? performance.now() : (times[times.length - 1] ?? 0));
      const s = rateSeries(times, until);
      u.setData([s.x, s.y]);
      if (summary.current) {
        const last = s.y.length ? s.y[s.y.length - 1] : null;
        summary.current.textContent = last === null ? 'no tokens yet' : `${Math.round(last)} tokens per second over the last second`;
      }
    };
    draw();
    if (!live) return;
    const t = setInterval(draw, 250);
    return () => clearInterval(t);
  }, [times, live, endAt]);

  return (
    <figure class="mt-3" aria-label={label}>
      <figcaption class="mb-1 text-xs font-semibold uppercase tracking-wider text-slate-400">{label}</figcaption>
      <div ref={box} class="w-full overflow-hidden" aria-hidden="true" data-testid="rate-chart" />
      <p ref={summary} class="sr-only" aria-live="off" />
    </figure>
  );
}
