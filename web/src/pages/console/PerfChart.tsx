// PerfChart.tsx - one model's last predictions on a uPlot canvas: tokens/s
// (left axis) and time to first token (right axis). The legend is off (its
// colours are not ours); the figures are in the table next to it and the
// chart has a text summary for screen readers.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Prediction } from '../../api/logs';
import { chartSeries } from '../../lib/consolePerf';

const AXIS = '#94a3b8'; // slate-400
const GRID = '#1e293b'; // slate-800
const TPS = '#818cf8'; // indigo-400
const TTFT = '#fcd34d'; // amber-300
const H = 200;

export function PerfChart({ preds, summary }: { preds: readonly Prediction[]; summary: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const width = () => Math.max(240, el.clientWidth);
    const u = new uPlot({
      width: width(), height: H,
      legend: { show: false },
      cursor: { show: false },
      scales: {
        x: { time: false },
        tps: { range: (_u, _min, max) => [0, Math.max(1, (max ?? 1) * 1.15)] },
        ttft: { range: (_u, _min, max) => [0, Math.max(0.1, (max ?? 0.1) * 1.15)] },
      },
      axes: [
        { stroke: AXIS, grid: { stroke: GRID, width: 1 }, ticks: { stroke: GRID }, size: 28,
          incrs: [1, 2, 5, 10, 20, 50, 100], values: (_u, v) => v.map((x) => (Number.isInteger(x) ? `#${x}` : '')) },
        { scale: 'tps', stroke: TPS, grid: { stroke: GRID, width: 1 }, ticks: { stroke: GRID }, size: 48 },
        { scale: 'ttft', side: 1, stroke: TTFT, grid: { show: false }, ticks: { stroke: GRID }, size: 52,
          values: (_u, v) => v.map((x) => `${x}s`) },
      ],
      series: [
        {},
        { label: 'tokens/s', scale: 'tps', stroke: TPS, width: 2, points: { show: true, size: 5, fill: TPS } },
        { label: 'TTFT', scale: 'ttft', stroke: TTFT, width: 1.5, dash: [4, 3], points: { show: true, size: 4, fill: TTFT } },
      ],
    }, [[], [], []], el);
    plot.current = u;
    const ro = new ResizeObserver(() => u.setSize({ width: width(), height: H }));
    ro.observe(el);
    return () => { ro.disconnect(); u.destroy(); plot.current = null; };
  }, []);

  useEffect(() => {
    plot.current?.setData(chartSeries(preds) as unknown as uPlot.AlignedData);
  }, [preds]);

  return (
    <figure aria-label="Tokens per second and time to first token of the last predictions">
      <div ref={box} class="w-full overflow-hidden" aria-hidden="true" data-testid="perf-chart" />
      <figcaption class="mt-2 flex flex-wrap gap-x-4 gap-y-1 text-xs text-slate-300">
        <span><span class="mr-1 inline-block h-0.5 w-4 bg-indigo-400 align-middle" aria-hidden="true" />tokens/s (left)</span>
        <span><span class="mr-1 inline-block h-0.5 w-4 bg-amber-300 align-middle" aria-hidden="true" />time to first token (right)</span>
        <span class="sr-only">{summary}</span>
      </figcaption>
    </figure>
  );
}
