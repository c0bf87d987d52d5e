/** A small hand-written SVG line chart: stacked panels sharing one time axis. */

export interface Series {
  name: string;
  points: Array<[x: number, y: number]>;
}

export interface Panel {
  title: string;
  unit: string;
  series: Series[];
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"];
const WIDTH = 960;
const PANEL_HEIGHT = 200;
const MARGIN = { left: 70, right: 190, top: 36, bottom: 34 };

const xmlText = (s: string) => s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");

/** A round step for about `count` ticks over `span`. */
function niceStep(span: number, count: number): number {
  const raw = span / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const residual = raw / magnitude;
  return (residual > 5 ? 10 : residual > 2 ? 5 : residual > 1 ? 2 : 1) * magnitude;
}

const label = (n: number) =>
  Math.abs(n) >= 10_000
    ? `${(n / 1000).toFixed(0)}k`
    : Math.abs(n) >= 1000
      ? `${(n / 1000).toFixed(1)}k`
      : String(Number(n.toPrecision(3)));

export function renderChart(title: string, subtitle: string, panels: Panel[]): string {
  const allX = panels.flatMap((p) => p.series.flatMap((s) => s.points.map(([x]) => x)));
  const xMax = Math.max(1, ...allX);
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const height = 50 + panels.length * (PANEL_HEIGHT + MARGIN.top + MARGIN.bottom);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    // A chart committed to docs/ is read by screen readers too: the title is its alternative text.
    `<title>${xmlText(`${title}: ${subtitle}`)}</title>`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${MARGIN.left}" y="22" font-size="16" font-weight="bold">${xmlText(title)}</text>`,
    `<text x="${MARGIN.left}" y="40" fill="#555">${xmlText(subtitle)}</text>`,
  ];
  const xStep = niceStep(xMax, 10);
  panels.forEach((panel, index) => {
    const top = 50 + index * (PANEL_HEIGHT + MARGIN.top + MARGIN.bottom) + MARGIN.top;
    const values = panel.series.flatMap((s) => s.points.map(([, y]) => y)).filter(Number.isFinite);
    const yMax = Math.max(1e-9, ...values) * 1.1;
    const yStep = niceStep(yMax, 5);
    const sx = (x: number) => MARGIN.left + (x / xMax) * plotWidth;
    const sy = (y: number) => top + PANEL_HEIGHT - (Math.min(y, yMax) / yMax) * PANEL_HEIGHT;
    parts.push(
      `<text x="${MARGIN.left}" y="${top - 10}" font-weight="bold">${xmlText(`${panel.title} (${panel.unit})`)}</text>`,
    );
    for (let y = 0; y <= yMax; y += yStep) {
      parts.push(
        `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${sy(y).toFixed(1)}" y2="${sy(y).toFixed(1)}" stroke="#e5e5e5"/>`,
        `<text x="${MARGIN.left - 6}" y="${(sy(y) + 4).toFixed(1)}" text-anchor="end" fill="#555">${label(y)}</text>`,
      );
    }
    for (let x = 0; x <= xMax; x += xStep) {
      parts.push(
        `<line x1="${sx(x).toFixed(1)}" x2="${sx(x).toFixed(1)}" y1="${top + PANEL_HEIGHT}" y2="${top + PANEL_HEIGHT + 4}" stroke="#555"/>`,
        `<text x="${sx(x).toFixed(1)}" y="${top + PANEL_HEIGHT + 16}" text-anchor="middle" fill="#555">${label(x)} s</text>`,
      );
    }
    parts.push(
      `<rect x="${MARGIN.left}" y="${top}" width="${plotWidth}" height="${PANEL_HEIGHT}" fill="none" stroke="#999"/>`,
    );
    panel.series.forEach((series, s) => {
      const color = COLORS[s % COLORS.length]!;
      const points = series.points
        .filter(([, y]) => Number.isFinite(y))
        .map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`)
        .join(" ");
      if (points) parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.6" points="${points}"/>`);
      const ly = top + 12 + s * 18;
      parts.push(
        `<line x1="${MARGIN.left + plotWidth + 12}" x2="${MARGIN.left + plotWidth + 32}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="3"/>`,
        `<text x="${MARGIN.left + plotWidth + 38}" y="${ly}">${xmlText(series.name)}</text>`,
      );
    });
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}
