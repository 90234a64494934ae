// Minimal SVG line charts for the simulators' figures (no dependency: the charts are simple,
// and a plotting library would pull a browser or canvas stack into a CLI).

export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
}

export interface LineChart {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  /** Logarithmic y axis (values must be > 0). */
  readonly logY?: boolean;
  readonly width?: number;
  readonly height?: number;
}

export const PALETTE = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
];
const MARGIN = { left: 70, right: 170, top: 40, bottom: 50 } as const;
const TICKS = 5;

export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

function niceNumber(value: number): string {
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 1e4 || abs < 1e-2) return value.toExponential(0).replace('e+', 'e');
  return Number(value.toPrecision(3)).toString();
}

/** Renders a line chart with markers, axes, ticks and a legend. */
export function renderLineChart(chart: LineChart): string {
  const width = chart.width ?? 720;
  const height = chart.height ?? 420;
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const xs = chart.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = chart.series.flatMap((s) => s.points.map((p) => p[1]));
  const ty = (v: number): number => (chart.logY ? Math.log10(Math.max(v, Number.MIN_VALUE)) : v);
  const xMin = Math.min(...xs);
  const xMax = Math.max(...xs);
  let yMin = chart.logY ? Math.floor(Math.min(...ys.map(ty))) : Math.min(0, ...ys);
  let yMax = chart.logY ? Math.ceil(Math.max(...ys.map(ty))) : Math.max(...ys);
  if (yMax === yMin) {
    yMax += 1;
    yMin -= chart.logY ? 1 : 0;
  }
  const px = (x: number): number =>
    MARGIN.left + (xMax === xMin ? plotW / 2 : ((x - xMin) / (xMax - xMin)) * plotW);
  const py = (y: number): number => MARGIN.top + plotH - ((ty(y) - yMin) / (yMax - yMin)) * plotH;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${MARGIN.left + plotW / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(chart.title)}</text>`,
  );
  for (let i = 0; i <= TICKS; i++) {
    const yv = yMin + ((yMax - yMin) * i) / TICKS;
    const y = MARGIN.top + plotH - (plotH * i) / TICKS;
    const label = chart.logY ? `1e${Math.round(yv * 10) / 10}` : niceNumber(yv);
    out.push(
      `<line x1="${MARGIN.left}" y1="${y}" x2="${MARGIN.left + plotW}" y2="${y}" stroke="#e0e0e0"/>`,
      `<text x="${MARGIN.left - 6}" y="${y + 4}" text-anchor="end">${label}</text>`,
    );
  }
  const xTicks = [...new Set(xs)].sort((a, b) => a - b);
  const step = Math.max(1, Math.ceil(xTicks.length / 10));
  xTicks.forEach((xv, i) => {
    if (i % step !== 0) return;
    out.push(
      `<text x="${px(xv)}" y="${MARGIN.top + plotH + 18}" text-anchor="middle">${niceNumber(xv)}</text>`,
    );
  });
  out.push(
    `<line x1="${MARGIN.left}" y1="${MARGIN.top + plotH}" x2="${MARGIN.left + plotW}" y2="${MARGIN.top + plotH}" stroke="black"/>`,
    `<line x1="${MARGIN.left}" y1="${MARGIN.top}" x2="${MARGIN.left}" y2="${MARGIN.top + plotH}" stroke="black"/>`,
    `<text x="${MARGIN.left + plotW / 2}" y="${height - 10}" text-anchor="middle">${escapeXml(chart.xLabel)}</text>`,
    `<text transform="translate(16 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(chart.yLabel)}</text>`,
  );
  chart.series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length] ?? 'black';
    const path = s.points
      .map((p, j) => `${j === 0 ? 'M' : 'L'}${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`)
      .join(' ');
    out.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="2"/>`);
    for (const p of s.points) {
      out.push(
        `<circle cx="${px(p[0]).toFixed(1)}" cy="${py(p[1]).toFixed(1)}" r="3" fill="${color}"/>`,
      );
    }
    const ly = MARGIN.top + 10 + i * 18;
    out.push(
      `<line x1="${width - MARGIN.right + 15}" y1="${ly}" x2="${width - MARGIN.right + 35}" y2="${ly}" stroke="${color}" stroke-width="2"/>`,
      `<text x="${width - MARGIN.right + 40}" y="${ly + 4}">${escapeXml(s.name)}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n');
}
