// Small hand-written SVG charts (a line chart and a bar chart) for the simulators' reports.
// Plain strings; no DOM, no dependencies.

export interface LineSeries {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
}

const WIDTH = 720;
const HEIGHT = 420;
const MARGIN = { left: 80, right: 170, top: 40, bottom: 60 } as const;
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'] as const;

function escapeXml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}

function fmt(value: number): string {
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 1e4 || abs < 1e-2) return value.toExponential(1);
  return Number(value.toPrecision(3)).toString();
}

function ticks(lo: number, hi: number, count: number): number[] {
  return Array.from({ length: count + 1 }, (_, i) => lo + ((hi - lo) * i) / count);
}

function frame(title: string, xLabel: string, yLabel: string, body: string[]): string {
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(title)}</text>`,
    `<text x="${MARGIN.left + (WIDTH - MARGIN.left - MARGIN.right) / 2}" y="${HEIGHT - 15}" text-anchor="middle">${escapeXml(xLabel)}</text>`,
    `<text transform="translate(18 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(yLabel)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

/** A line chart; `logY` plots log10 of y (values <= 0 are clamped to the smallest positive). */
export function lineChartSvg(options: {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly LineSeries[];
  readonly logY?: boolean;
}): string {
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const all = options.series.flatMap((s) => s.points);
  const xs = all.map((p) => p[0]);
  const positive = all.map((p) => p[1]).filter((y) => y > 0);
  const floor = positive.length > 0 ? Math.min(...positive) : 1;
  const ty = (y: number): number => (options.logY ? Math.log10(Math.max(y, floor)) : y);
  const ys = all.map((p) => ty(p[1]));
  const xLo = Math.min(...xs, 0);
  const xHi = Math.max(...xs, 1);
  let yLo = options.logY ? Math.floor(Math.min(...ys)) : Math.min(0, ...ys);
  let yHi = options.logY ? Math.ceil(Math.max(...ys)) : Math.max(...ys);
  if (!(yHi > yLo)) {
    yLo -= 1;
    yHi += 1;
  }
  const px = (x: number): number => MARGIN.left + ((x - xLo) / (xHi - xLo)) * plotW;
  const py = (y: number): number => MARGIN.top + plotH - ((y - yLo) / (yHi - yLo)) * plotH;
  const body: string[] = [
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#888"/>`,
  ];
  for (const x of ticks(xLo, xHi, 5)) {
    body.push(
      `<line x1="${px(x)}" y1="${MARGIN.top + plotH}" x2="${px(x)}" y2="${MARGIN.top + plotH + 5}" stroke="#888"/>`,
      `<text x="${px(x)}" y="${MARGIN.top + plotH + 20}" text-anchor="middle">${fmt(x)}</text>`,
    );
  }
  const yTicks = options.logY
    ? Array.from({ length: yHi - yLo + 1 }, (_, i) => yLo + i)
    : ticks(yLo, yHi, 5);
  for (const y of yTicks) {
    const label = options.logY ? fmt(10 ** y) : fmt(y);
    body.push(
      `<line x1="${MARGIN.left}" y1="${py(y)}" x2="${MARGIN.left + plotW}" y2="${py(y)}" stroke="#eee"/>`,
      `<text x="${MARGIN.left - 6}" y="${py(y) + 4}" text-anchor="end">${label}</text>`,
    );
  }
  options.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length] ?? '#000';
    const d = s.points
      .map((p, j) => `${j === 0 ? 'M' : 'L'}${px(p[0]).toFixed(1)},${py(ty(p[1])).toFixed(1)}`)
      .join(' ');
    body.push(
      `<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`,
      `<rect x="${WIDTH - MARGIN.right + 15}" y="${MARGIN.top + i * 20}" width="12" height="12" fill="${color}"/>`,
      `<text x="${WIDTH - MARGIN.right + 32}" y="${MARGIN.top + i * 20 + 10}">${escapeXml(s.name)}</text>`,
    );
  });
  return frame(options.title, options.xLabel, options.yLabel, body);
}

/** A vertical bar chart with the value printed over each bar. */
export function barChartSvg(options: {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly bars: readonly { readonly label: string; readonly value: number }[];
  readonly format?: (value: number) => string;
}): string {
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const hi = Math.max(...options.bars.map((b) => b.value), 1e-12);
  const slot = plotW / Math.max(1, options.bars.length);
  const format = options.format ?? fmt;
  const body: string[] = [
    `<line x1="${MARGIN.left}" y1="${MARGIN.top + plotH}" x2="${MARGIN.left + plotW}" y2="${MARGIN.top + plotH}" stroke="#888"/>`,
  ];
  options.bars.forEach((b, i) => {
    const h = (Math.max(0, b.value) / hi) * plotH;
    const x = MARGIN.left + i * slot + slot * 0.15;
    const color = COLORS[i % COLORS.length] ?? '#000';
    body.push(
      `<rect x="${x.toFixed(1)}" y="${(MARGIN.top + plotH - h).toFixed(1)}" width="${(slot * 0.7).toFixed(1)}" height="${h.toFixed(1)}" fill="${color}"/>`,
      `<text x="${(x + slot * 0.35).toFixed(1)}" y="${(MARGIN.top + plotH - h - 5).toFixed(1)}" text-anchor="middle">${escapeXml(format(b.value))}</text>`,
      `<text x="${(x + slot * 0.35).toFixed(1)}" y="${MARGIN.top + plotH + 18}" text-anchor="middle">${escapeXml(b.label)}</text>`,
    );
  });
  return frame(options.title, options.xLabel, options.yLabel, body);
}
