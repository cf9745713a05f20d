// Chart.tsx - a small uPlot time-series chart (canvas). Created once per
// mount, fed with setData on every update, resized with its container and
// destroyed when the view goes away. Colours are palette hex values
// (lib/fleet.ts CHART_COLORS). A text summary is given for screen readers
// by the caller (the canvas itself is aria-hidden).
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { CHART_COLORS } from '../../lib/fleet';

export interface ChartSeries {
  label: string;
  color: string;
  /** Which y scale: left ("y") or right ("y2"). */
  scale?: 'y' | 'y2';
  values: (number | null)[];
  fill?: boolean;
}

export function Chart({ t, series, yLabel, y2Label, yRange, y2Range, fmtY, fmtY2, height = 140, label }: {
  t: number[];
  series: ChartSeries[];
  yLabel: string;
  y2Label?: string;
  yRange?: [number, number];
  y2Range?: [number, number];
  fmtY?: (v: number) => string;
  fmtY2?: (v: number) => string;
  height?: number;
  label: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = series.map((s) => `${s.label}:${s.scale ?? 'y'}`).join('|');

  const data = (): uPlot.AlignedData => [t.map((x) => x / 1000), ...series.map((s) => s.values)] as uPlot.AlignedData;

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const axisStroke = CHART_COLORS.axis.hex;
    const grid = { stroke: CHART_COLORS.grid.hex, width: 1 };
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      legend: { show: true, live: false },
      cursor: { show: true, drag: { x: false, y: false } },
      scales: {
        x: { time: true },
        y: yRange ? { range: yRange } : {},
        ...(y2Label ? { y2: y2Range ? { range: y2Range } : {} } : {}),
      },
      axes: [
        { stroke: axisStroke, grid, ticks: grid, size: 28 },
        { stroke: axisStroke, grid, ticks: grid, label: yLabel, labelSize: 16, size: 52,
          values: (_u, vals) => vals.map((v) => (fmtY ? fmtY(v) : String(v))) },
        ...(y2Label ? [{ side: 1 as const, scale: 'y2', stroke: axisStroke, grid: { show: false }, ticks: grid,
          label: y2Label, labelSize: 16, size: 48, values: (_u: uPlot, vals: number[]) => vals.map((v) => (fmtY2 ? fmtY2(v) : String(v))) }] : []),
      ],
      series: [
        {},
        ...series.map((s) => ({
          label: s.label, stroke: s.color, width: 2, scale: s.scale ?? 'y', spanGaps: false,
          fill: s.fill ? `${s.color}33` : undefined,
          value: (_u: uPlot, v: number | null) => (v === null ? '—' : s.scale === 'y2' && fmtY2 ? fmtY2(v) : fmtY ? fmtY(v) : String(v)),
        })),
      ],
    };
    const u = new uPlot(opts, data(), el);
    plot.current = u;
    const ro = new ResizeObserver(() => {
      const w = Math.max(200, el.clientWidth);
      if (Math.abs(w - u.width) > 1) u.setSize({ width: w, height });
    });
    ro.observe(el);
    return () => { ro.disconnect(); u.destroy(); plot.current = null; };
  }, [shape, height, yLabel, y2Label]);

  useEffect(() => { plot.current?.setData(data()); }, [t, series]);

  return (
    <figure class="min-w-0">
      <figcaption class="sr-only">{label}</figcaption>
      <div ref={box} class="dp-chart w-full overflow-hidden" aria-hidden="true" />
    </figure>
  );
}
