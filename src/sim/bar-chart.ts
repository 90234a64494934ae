// A minimal SVG bar chart (the line charts are in ./svg.ts), for the split experiment's
// workload figure. Plain strings; no dependencies.
import { escapeXml, PALETTE } from './svg.js';

export interface BarChart {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly bars: readonly { readonly label: string; readonly value: number }[];
  readonly format?: (value: number) => string;
}

const WIDTH = 720;
const HEIGHT = 420;
const MARGIN = { left: 70, right: 30, top: 40, bottom: 60 } as const;
/** Renders vertical bars with the value printed over each bar. */
export function renderBarChart(chart: BarChart): string {
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const hi = Math.max(...chart.bars.map((b) => b.value), Number.MIN_VALUE);
  const slot = plotW / Math.max(1, chart.bars.length);
  const format = chart.format ?? ((v: number) => Number(v.toPrecision(3)).toString());
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${MARGIN.left + plotW / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(chart.title)}</text>`,
    `<line x1="${MARGIN.left}" y1="${MARGIN.top + plotH}" x2="${MARGIN.left + plotW}" y2="${MARGIN.top + plotH}" stroke="black"/>`,
    `<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 10}" text-anchor="middle">${escapeXml(chart.xLabel)}</text>`,
    `<text transform="translate(16 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(chart.yLabel)}</text>`,
  ];
  chart.bars.forEach((b, i) => {
    const h = (Math.max(0, b.value) / hi) * plotH;
    const x = MARGIN.left + i * slot + slot * 0.15;
    const color = PALETTE[i % PALETTE.length] ?? 'black';
    const mid = (x + slot * 0.35).toFixed(1);
    out.push(
      `<rect x="${x.toFixed(1)}" y="${(MARGIN.top + plotH - h).toFixed(1)}" width="${(slot * 0.7).toFixed(1)}" height="${h.toFixed(1)}" fill="${color}"/>`,
      `<text x="${mid}" y="${(MARGIN.top + plotH - h - 5).toFixed(1)}" text-anchor="middle">${escapeXml(format(b.value))}</text>`,
      `<text x="${mid}" y="${MARGIN.top + plotH + 18}" text-anchor="middle">${escapeXml(b.label)}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n');
}
