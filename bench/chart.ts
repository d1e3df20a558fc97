// The chart of docs/BENCHMARKS.md: cost against size for the implementation at scale (item 4), log-log panels,
// written as SVG by hand (no dependencies).
import type { Row } from "./scale.js";

export interface Series {
  readonly label: string;
  readonly color: string;
  readonly dashed?: boolean;
  readonly points: readonly (readonly [number, number])[];
}

export interface Panel {
  readonly title: string;
  readonly x: string;
  readonly y: string;
  readonly series: readonly Series[];
}

const W = 440;
const H = 300;
const M = { left: 62, right: 14, top: 34, bottom: 74 };

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** Powers of ten covering [lo, hi], at least one decade. */
function decades(lo: number, hi: number): [number, number] {
  const a = Math.floor(Math.log10(lo));
  const b = Math.ceil(Math.log10(hi));
  return [a, b > a ? b : a + 1];
}

const tick = (e: number): string => (e >= 0 && e <= 5 ? String(10 ** e) : `1e${e}`);

function panel(p: Panel, ox: number, oy: number): string {
  const pts = p.series.flatMap((s) => s.points).filter(([x, y]) => x > 0 && y > 0);
  if (pts.length === 0) return "";
  const [xa, xb] = decades(Math.min(...pts.map(([x]) => x)), Math.max(...pts.map(([x]) => x)));
  const [ya, yb] = decades(Math.min(...pts.map(([, y]) => y)), Math.max(...pts.map(([, y]) => y)));
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const px = (x: number): number => ox + M.left + ((Math.log10(x) - xa) / (xb - xa)) * pw;
  const py = (y: number): number => oy + M.top + ph - ((Math.log10(y) - ya) / (yb - ya)) * ph;
  const out: string[] = [`<text x="${ox + M.left}" y="${oy + 20}" font-weight="bold">${esc(p.title)}</text>`];
  out.push(`<rect x="${ox + M.left}" y="${oy + M.top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`);
  for (let e = xa; e <= xb; e++) {
    const x = px(10 ** e);
    out.push(`<line x1="${x}" y1="${oy + M.top}" x2="${x}" y2="${oy + M.top + ph}" stroke="#ddd"/>`, `<text x="${x}" y="${oy + M.top + ph + 14}" text-anchor="middle">${tick(e)}</text>`);
  }
  for (let e = ya; e <= yb; e++) {
    const y = py(10 ** e);
    out.push(`<line x1="${ox + M.left}" y1="${y}" x2="${ox + M.left + pw}" y2="${y}" stroke="#ddd"/>`, `<text x="${ox + M.left - 5}" y="${y + 4}" text-anchor="end">${tick(e)}</text>`);
  }
  out.push(`<text x="${ox + M.left + pw / 2}" y="${oy + M.top + ph + 30}" text-anchor="middle">${esc(p.x)}</text>`);
  out.push(`<text transform="translate(${ox + 14},${oy + M.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(p.y)}</text>`);
  for (const [i, s] of p.series.entries()) {
    const valid = s.points.filter(([x, y]) => x > 0 && y > 0);
    const d = valid.map(([x, y], j) => `${j === 0 ? "M" : "L"}${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(" ");
    out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed === true ? ' stroke-dasharray="5,3"' : ""}/>`);
    for (const [x, y] of valid) out.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${s.color}"/>`);
    const ly = oy + M.top + ph + 46 + Math.floor(i / 2) * 14;
    const lx = ox + M.left + (i % 2) * (pw / 2);
    out.push(`<line x1="${lx}" y1="${ly - 4}" x2="${lx + 18}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${s.dashed === true ? ' stroke-dasharray="5,3"' : ""}/>`, `<text x="${lx + 22}" y="${ly}">${esc(s.label)}</text>`);
  }
  return out.join("\n");
}

/** A figure of a row: a number, or the median of a "min / median / max" spread (bench/ratio.ts). */
const n = (r: Row, k: string): number => Number(String(r[k]).split(" / ").at(-2) ?? r[k]);
const gib = (r: Row): number => Number(/^(\d+) GiB/.exec(String(r.size))?.[1] ?? NaN);
const slots = (r: Row): number => Number(/^(\d+)/.exec(String(r.size))?.[1] ?? NaN);

/** Four panels from the scale tables of bench/run.ts (by table name). */
export function scaleChart(tables: Readonly<Record<string, readonly Row[]>>): string {
  const bitmap = tables["bitmap"] ?? [];
  const enable = (tables["userfault-enable"] ?? []).filter((r) => n(r, "mappings") === 4096);
  const lookup = tables["memslot-lookup"] ?? [];
  const random = tables["gmem-random-conversions"] ?? [];
  const fixed = random.filter((r) => String(r.bench).includes("4 KiB"));
  const scaled = random.filter((r) => String(r.bench).includes("scaled"));
  const panels: Panel[] = [
    {
      title: "Userfault bitmap scan and clear",
      x: "slot size (GiB)",
      y: "ms",
      series: [
        { label: "TypeScript scan", color: "#1f77b4", points: bitmap.map((r) => [gib(r), n(r, "tsScanMs")]) },
        { label: "best flat C scan (gcc -O2)", color: "#ff7f0e", points: bitmap.map((r) => [gib(r), n(r, "cFlatScanMs")]) },
        { label: "TypeScript clear", color: "#1f77b4", dashed: true, points: bitmap.map((r) => [gib(r), n(r, "tsClearMs")]) },
        { label: "C, the TypeScript's algorithm", color: "#ff7f0e", dashed: true, points: bitmap.map((r) => [gib(r), n(r, "cSameScanMs")]) },
      ],
    },
    {
      title: "Enable USERFAULT, 4096 sparse mappings",
      x: "slot size (GiB)",
      y: "ms",
      series: [
        { label: "impl, zap the slot", color: "#2ca02c", points: enable.map((r) => [gib(r), n(r, "zapSlotMs")]) },
        { label: "impl, zap-all quirk", color: "#2ca02c", dashed: true, points: enable.map((r) => [gib(r), n(r, "zapAllQuirkMs")]) },
        { label: "model, zap the slot", color: "#9467bd", points: enable.map((r) => [gib(r), n(r, "modelZapSlotMs")]) },
      ],
    },
    {
      title: "gfn -> memslot lookup",
      x: "memslots",
      y: "ns per lookup",
      series: [
        { label: "impl (binary search)", color: "#d62728", points: lookup.map((r) => [slots(r), n(r, "implNsPerLookup")]) },
        { label: "model (linear scan)", color: "#9467bd", points: lookup.map((r) => [slots(r), n(r, "modelNsPerLookup")]) },
      ],
    },
    {
      title: "guest_memfd random-range conversions",
      x: "file size (GiB)",
      y: "µs per conversion",
      series: [
        { label: "impl, ranges scaled to the file", color: "#17becf", points: scaled.map((r) => [gib(r), n(r, "usPerConversion")]) },
        { label: "impl, 4 KiB-2 MiB ranges", color: "#8c564b", points: fixed.map((r) => [gib(r), n(r, "usPerConversion")]) },
        { label: "model, first 20000, 4 KiB-2 MiB", color: "#9467bd", dashed: true, points: fixed.map((r) => [gib(r), n(r, "modelUsFirst20k")]) },
      ],
    },
  ];
  return panelsSvg(panels);
}

/** Panels two to a row, as one SVG document. */
export function panelsSvg(panels: readonly Panel[]): string {
  const rows = Math.ceil(panels.length / 2);
  const body = panels.map((p, i) => panel(p, (i % 2) * W, Math.floor(i / 2) * H)).join("\n");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * W}" height="${rows * H}" viewBox="0 0 ${2 * W} ${rows * H}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="white"/>
${body}
</svg>
`;
}
