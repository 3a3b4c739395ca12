// SPDX-License-Identifier: Apache-2.0
/**
 * The run's timeline plot, drawn by Chart.js: each phase a floating bar on its fault's lane
 * (bars of one lane overlap, not grouped), the end of each fault and every probe evaluation a
 * point. Below it the same in words, for screen readers and the browser tests.
 */
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  PointElement,
  ScatterController,
  Tooltip,
  type ChartDataset,
} from 'chart.js';
import { useEffect, useRef } from 'preact/hooks';

import { SEGMENT_PHASES, type Timeline } from './timeline-model.js';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, PointElement, ScatterController, Tooltip, Legend);

const COLORS: Readonly<Record<string, string>> = {
  queued: '#9aa5b1',
  applying: '#f0b429',
  applied: '#d64545',
  reverting: '#7c5e10',
  reverted: '#2f8132',
  failed: '#000000',
  'probe passed': '#2680c2',
  'probe failed': '#ba2525',
};

type Point = { x: number | [number, number]; y: string; detail?: string };

function datasetsOf(timeline: Timeline): ChartDataset<'bar' | 'scatter', Point[]>[] {
  const bars = SEGMENT_PHASES.map((phase) => ({
    type: 'bar' as const,
    label: phase,
    data: timeline.segments.filter((s) => s.phase === phase).map((s) => ({ x: [s.start, s.end] as [number, number], y: s.lane })),
    backgroundColor: COLORS[phase],
    grouped: false,
    // Chart.js draws higher orders first: bars at the back, ends and probe marks on top.
    order: 2,
    barPercentage: 0.9,
    categoryPercentage: 0.8,
    minBarLength: 2,
  }));
  const points = (label: string, data: Point[], pointStyle: 'rectRot' | 'circle' | 'crossRot', radius: number) => ({
    type: 'scatter' as const,
    label,
    order: label.startsWith('probe') ? 0 : 1,
    data,
    backgroundColor: COLORS[label],
    borderColor: COLORS[label],
    pointStyle,
    pointRadius: radius,
    pointHoverRadius: radius + 2,
  });
  return [
    ...bars,
    points('reverted', timeline.ends.filter((e) => e.phase === 'reverted').map((e) => ({ x: e.at, y: e.lane, detail: e.detail })), 'rectRot', 7),
    points('failed', timeline.ends.filter((e) => e.phase === 'failed').map((e) => ({ x: e.at, y: e.lane, detail: e.detail })), 'rectRot', 7),
    points('probe passed', timeline.probes.filter((p) => p.passed).map((p) => ({ x: p.at, y: p.lane, detail: p.detail })), 'circle', 4),
    points('probe failed', timeline.probes.filter((p) => !p.passed).map((p) => ({ x: p.at, y: p.lane, detail: p.detail })), 'crossRot', 6),
  ];
}

export function TimelinePlot({ timeline }: { timeline: Timeline }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<Chart<'bar' | 'scatter', Point[], string> | undefined>(undefined);
  useEffect(() => {
    if (!canvas.current) return undefined;
    chart.current = new Chart<'bar' | 'scatter', Point[], string>(canvas.current, {
      type: 'bar',
      data: { labels: [], datasets: [] },
      options: {
        indexAxis: 'y',
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        parsing: { xAxisKey: 'x', yAxisKey: 'y' },
        scales: {
          x: { type: 'linear', min: 0, title: { display: true, text: 'seconds since queued' } },
          y: { type: 'category', offset: true },
        },
        plugins: {
          legend: { position: 'bottom', labels: { boxWidth: 12, sort: (a, b) => (a.datasetIndex ?? 0) - (b.datasetIndex ?? 0) } },
          tooltip: {
            callbacks: {
              label: (item) => {
                const raw = item.raw as Point;
                const when = Array.isArray(raw.x) ? `${raw.x[0].toFixed(1)}–${raw.x[1].toFixed(1)} s` : `${raw.x.toFixed(1)} s`;
                return `${item.dataset.label ?? ''} ${when}${raw.detail ? `: ${raw.detail.slice(0, 120)}` : ''}`;
              },
            },
          },
        },
      },
    });
    return () => {
      chart.current?.destroy();
      chart.current = undefined;
    };
  }, []);
  useEffect(() => {
    const c = chart.current;
    if (!c) return;
    c.data.labels = [...timeline.lanes];
    c.data.datasets = datasetsOf(timeline);
    if (c.options.scales?.['x']) c.options.scales['x'].max = Math.ceil(timeline.span);
    c.update('none');
  }, [timeline]);
  const height = 90 + Math.max(1, timeline.lanes.length) * 44;
  const summary = timeline.lanes.map((lane) => `${lane}: ${timeline.current.get(lane) ?? 'probes'}`).join('; ');
  return (
    <figure class="timeline" aria-labelledby="timeline-title">
      <div class="timeline-canvas" style={{ height: `${height}px` }}>
        <canvas ref={canvas} role="img" aria-label={`Timeline of the run: ${summary || 'no fault has started yet'}`} />
      </div>
      <figcaption id="timeline-title">
        <ul class="lanes" data-testid="timeline-lanes">
          {timeline.lanes.map((lane) => <li key={lane} data-lane={lane} data-phase={timeline.current.get(lane) ?? ''}><strong>{lane}</strong>: {timeline.current.get(lane) ?? 'probe evaluations'}{' '}({timeline.probes.filter((p) => p.lane === lane).length} probe evaluations)</li>)}
        </ul>
      </figcaption>
    </figure>
  );
}
