// A race recorded on the real kernel, drawn on its real time axis: one column per actor, one row per invocation or
// response in time order (text), or one lane per actor with each operation a bar from invocation to response (SVG).
import { opArgs, outcomeText } from "../props/concurrent/diagram.js";
import type { Op } from "../schema/ops.js";
import { pending, type Actor, type Recording } from "./races.js";

const WIDTH = 44;

const us = (ns: number): string => (ns / 1000).toFixed(1);
const clip = (t: string, w: number): string => (t.length <= w ? t : `${t.slice(0, w - 1)}~`);

interface Event {
  readonly at: number;
  readonly lane: number;
  readonly text: string;
}

/** The text diagram: time in microseconds from the actors' release, then each actor's column. */
export function renderRecordedRace(actors: readonly Actor[], rec: Recording, mark?: string): string {
  const lanes = actors.map((a) => a.name);
  const events: Event[] = [];
  const inFlight = new Map<number, number>();
  for (const r of rec.ops) {
    const lane = lanes.indexOf(r.actor);
    const op = actors[lane]!.steps[r.index]!;
    const key = `${r.actor}#${r.index}`;
    events.push({ at: r.call, lane, text: `${key === mark ? ">> " : ""}${op.op} ${opArgs(op)}` });
    const late = r.waits === undefined ? "" : " (after the watchdog)";
    if (r.ret !== null && r.outcome !== null) events.push({ at: r.ret, lane, text: `= ${outcomeText(r.outcome)}${late}` });
    if (r.waits !== undefined) events.push({ at: Number.MAX_SAFE_INTEGER, lane, text: `.. still blocked in ${r.waits}` });
  }
  events.sort((a, b) => a.at - b.at || a.lane - b.lane);
  const lines = [`${"us".padStart(10)}  ${lanes.map((n) => n.padEnd(WIDTH)).join(" ")}`.trimEnd()];
  for (const e of events) {
    for (const r of rec.ops) {
      const lane = lanes.indexOf(r.actor);
      const end = pending(r) ? Number.MAX_SAFE_INTEGER : r.ret!;
      if (r.call < e.at && e.at < end) inFlight.set(lane, 1);
    }
    const cells = lanes.map((_, i) => (i === e.lane ? clip(e.text, WIDTH) : inFlight.has(i) ? "|" : "").padEnd(WIDTH));
    inFlight.clear();
    const at = e.at === Number.MAX_SAFE_INTEGER ? "watchdog" : us(e.at);
    lines.push(`${at.padStart(10)}  ${cells.join(" ")}`.trimEnd());
  }
  if (rec.after.length > 0) {
    lines.push("", "read after the run:");
    for (const o of rec.after) lines.push(`  ${o.op.op} ${opArgs(o.op)} = ${outcomeText(o.outcome)}`);
  }
  return lines.join("\n");
}

const esc = (t: string): string => t.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** The SVG diagram: a lane per actor, each operation a bar from its invocation to its response on a linear time axis. */
export function renderRecordedRaceSvg(actors: readonly Actor[], rec: Recording, title: string, mark?: string): string {
  const lane = 70;
  const left = 110;
  const width = 900;
  const ends = rec.ops.map((r) => (pending(r) ? r.call : r.ret!));
  const t1 = Math.max(1, ...ends, ...rec.ops.map((r) => r.call));
  const t0 = Math.min(...rec.ops.map((r) => r.call), t1);
  const x = (t: number): number => left + ((t - t0) / Math.max(1, t1 - t0)) * width;
  const height = 60 + lane * actors.length + 40;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${left + width + 40}" height="${height}" font-family="monospace" font-size="11">`,
    `<text x="10" y="20" font-size="13">${esc(title)}</text>`,
    `<line x1="${left}" y1="${height - 30}" x2="${left + width}" y2="${height - 30}" stroke="#555"/>`,
    `<text x="${left}" y="${height - 12}">${us(t0)} us</text>`,
    `<text x="${left + width}" y="${height - 12}" text-anchor="end">${us(t1)} us</text>`,
  ];
  actors.forEach((a, i) => parts.push(`<text x="10" y="${60 + i * lane + 18}">${esc(a.name)}</text>`));
  for (const r of rec.ops) {
    const i = actors.findIndex((a) => a.name === r.actor);
    const op: Op = actors[i]!.steps[r.index]!;
    const y = 60 + i * lane + (r.index % 2) * 24;
    const a = x(r.call);
    const b = pending(r) ? left + width + 30 : Math.max(a + 2, x(r.ret!));
    const key = `${r.actor}#${r.index}`;
    const fill = key === mark ? "#f4a3a3" : pending(r) ? "#f6d28b" : "#a9c8ef";
    const label = `${op.op} ${opArgs(op)}${r.outcome === null ? "" : ` = ${outcomeText(r.outcome)}`}`;
    const box = `x="${a.toFixed(1)}" y="${y}" width="${(b - a).toFixed(1)}" height="20" fill="${fill}" stroke="#333"`;
    parts.push(`<rect ${box}><title>${esc(label)}</title></rect>`);
    parts.push(`<text x="${(a + 2).toFixed(1)}" y="${y + 14}">${esc(clip(label, 60))}</text>`);
  }
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}
