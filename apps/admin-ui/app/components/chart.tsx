'use client';

import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/** One line of a {@link TimeChart}. */
export interface ChartSeries {
  readonly label: string;
  /** A CSS colour or a `var(--name)` of the stylesheet (resolved when the chart is built). */
  readonly color: string;
  /** Formats a value for the legend and the y axis. */
  readonly format?: (value: number) => string;
}

/** Props of {@link TimeChart}. */
export interface TimeChartProps {
  /** Accessible name of the chart (the canvas itself says nothing to a screen reader). */
  readonly title: string;
  /** Times in Unix seconds. */
  readonly times: readonly number[];
  /** One array of values per series, aligned with `times`; null = no value (a gap). */
  readonly values: readonly (readonly (number | null)[])[];
  readonly series: readonly ChartSeries[];
  readonly height?: number;
  /** Lower and upper bound of the y axis when fixed (e.g. 0–100 for percentages). */
  readonly range?: readonly [number, number];
}

function resolveColor(element: HTMLElement, color: string): string {
  const variable = /^var\((--[\w-]+)\)$/.exec(color);
  if (variable === null) return color;
  return getComputedStyle(element).getPropertyValue(variable[1]).trim() || 'currentColor';
}

/**
 * A live time-series chart drawn by uPlot on a canvas, as wide as its container (it follows resizes). New data is
 * handed to the same uPlot instance, so updates every second cost a redraw and nothing more.
 */
export function TimeChart({ title, times, values, series, height = 160, range }: TimeChartProps) {
  const container = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const data = [times, ...values] as unknown as uPlot.AlignedData;
  const latest = useRef(data);
  latest.current = data;

  useEffect(() => {
    const element = container.current;
    if (element === null) return undefined;
    const text = resolveColor(element, 'var(--muted)');
    const grid = resolveColor(element, 'var(--line)');
    const axis = (format?: (value: number) => string, size?: number): uPlot.Axis => ({
      stroke: text,
      ...(size === undefined ? {} : { size }),
      grid: { stroke: grid, width: 1 },
      ticks: { stroke: grid, width: 1 },
      ...(format === undefined ? {} : { values: (_u: uPlot, splits: number[]) => splits.map(format) }),
    });
    const chart = new uPlot(
      {
        width: Math.max(200, element.clientWidth),
        height,
        series: [
          {},
          ...series.map((s) => ({
            label: s.label,
            stroke: resolveColor(element, s.color),
            width: 2,
            spanGaps: false,
            value: (_u: uPlot, v: number | null) => (v === null ? '–' : (s.format?.(v) ?? String(v))),
          })),
        ],
        scales: {
          x: { time: true },
          y: range === undefined ? { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } : { range: [...range] },
        },
        axes: [axis(), axis(series[0]?.format, 64)],
        legend: { live: true },
        cursor: { drag: { x: false, y: false } },
      },
      latest.current,
      element,
    );
    plot.current = chart;
    const observer = new ResizeObserver(() => chart.setSize({ width: Math.max(200, element.clientWidth), height }));
    observer.observe(element);
    return () => {
      observer.disconnect();
      chart.destroy();
      plot.current = null;
    };
    // The chart is built once per shape; data changes go through setData below.
  }, [height, range, series]);

  useEffect(() => {
    plot.current?.setData(latest.current);
  });

  return <div ref={container} className="chart" role="img" aria-label={title} />;
}
