// Race diagrams as kernel commit messages draw them: one column per actor, one row per schedule step in
// order, each step named after the kernel function its actor went on from, then the violated property with
// expected and actual. The same rows render as text, as a self-contained SVG, and as a self-contained HTML page.
import type { Op } from "../../schema/ops.js";
import { gmemRangeText, type GmemRangeState, type Outcome } from "../../schema/outcome.js";
import type { Scenario } from "../../schema/scenario.js";
import { stableStringify } from "../outcomes.js";
import type { ReplayResult } from "../replay.js";
import { SETUP, entryLabel, type RaceStep } from "./harness.js";

const hex = (n: number): string => `0x${n.toString(16)}`;

/** The arguments that matter of an operation, kernel-style. */
export function opArgs(op: Op): string {
  switch (op.op) {
    case "vcpu_access":
      return `vcpu ${op.vcpu} ${op.kind} ${hex(op.gpa)}${op.kind === "write" ? ` = ${op.byte ?? 0}` : ""}${op.private === undefined ? "" : op.private ? " private" : " shared"}`;
    case "kvm_access":
      return `vcpu ${op.vcpu} ${op.kind === "exec" ? "fetch" : op.kind} ${hex(op.gpa)}${op.kind === "write" ? ` = ${op.byte ?? 0}` : ""}${op.emulate === true ? " emulated" : ""}`;
    case "set_memory_region":
      return op.memory_size === 0
        ? `slot ${op.slot} DELETE`
        : `slot ${op.slot} gpa ${hex(op.guest_phys_addr)} [${op.flags.join(",")}]`;
    case "set_memory_attributes":
      return `${hex(op.address)}+${hex(op.size)} [${op.attributes.join(",")}]`;
    case "userfault_set":
    case "userfault_clear":
      return `slot ${op.slot} gfn+${op.gfn_offset}${op.npages > 1 ? `..${op.gfn_offset + op.npages - 1}` : ""}`;
    case "userfault_rescan":
      return `slot ${op.slot}`;
    case "access":
      return `${op.kind} ${op.map}+${hex(op.offset)}${op.kind === "write" ? ` = ${op.byte ?? 0}` : ""}`;
    default: {
      const { op: _name, ...rest } = op;
      return Object.entries(rest)
        .map(([k, v]) => `${k} ${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
        .join(" ");
    }
  }
}

/** An outcome in a few words: "ok", "ok 161", "exit memory_fault 0x1000 [USERFAULT]", "EINVAL". */
export function outcomeText(o: Outcome): string {
  const r = o as Record<string, unknown>;
  if (r.result === "ok" && Array.isArray(r.ranges)) return `ok ${(r.ranges as GmemRangeState[]).map(gmemRangeText).join(", ")}`;
  if (r.result === "ok") return "value" in r && r.value !== undefined ? `ok ${String(r.value)}` : "ok";
  if (r.result === "exit") return `exit ${String(r.exit)} ${hex(Number(r.gpa))}${Array.isArray(r.flags) ? ` [${r.flags.join(",")}]` : ""}`;
  if (typeof r.result === "string") return r.result;
  if (typeof r.errno === "string" && Object.keys(r).length === 1) return r.errno;
  return stableStringify(o);
}

interface Row {
  /** Position among the concurrent steps, from 1 (the setup's steps are not drawn). */
  readonly step: number;
  readonly column: number;
  /** The first line names the step; the rest are its effects and its operation's outcome. */
  readonly lines: readonly string[];
  readonly failed: boolean;
}

export interface RaceDiagram {
  readonly title: string;
  readonly notes: readonly string[];
  readonly actors: readonly string[];
  readonly rows: readonly Row[];
  readonly verdict: readonly string[];
}

function opOf(s: Scenario, actor: string, index: number): Op | undefined {
  return s.actors?.find((a) => a.name === actor)?.steps[index];
}

/** The diagram's content, independent of how it is drawn. */
export function raceDiagram(s: Scenario, r: ReplayResult): RaceDiagram {
  if (s.actors === undefined || r.race === undefined) throw new Error(`${s.name}: not an actor scenario`);
  const actors = s.actors.map((a) => a.name).filter((n) => n !== SETUP);
  // A run stops where a check failed: its last step is where the failure showed.
  const failedAt = r.failure === undefined ? undefined : r.race.steps[r.race.steps.length - 1]?.index;
  const rows = r.race.steps
    .filter((st: RaceStep) => st.actor !== SETUP)
    .map((st, i): Row => {
      const op = opOf(s, st.actor, st.op);
      const head = st.invoked && op !== undefined ? `${entryLabel(op)}(${opArgs(op)})` : st.from;
      const tail = st.returned === undefined ? [] : [`= ${outcomeText(st.returned)}`];
      return { step: i + 1, column: actors.indexOf(st.actor), lines: [head, ...st.effects.map((e) => `  ${e}`), ...tail], failed: st.index === failedAt };
    });
  const setup = s.actors.find((a) => a.name === SETUP);
  const counts = new Map<string, number>();
  for (const op of setup?.steps ?? []) counts.set(op.op, (counts.get(op.op) ?? 0) + 1);
  const notes = [
    ...(setup === undefined ? [] : [`setup, alone first: ${[...counts].map(([k, n]) => (n > 1 ? `${k} x${n}` : k)).join(", ")}`]),
    ...(s.config.bugs !== undefined && s.config.bugs.length > 0 ? [`seeded bugs: ${s.config.bugs.join(", ")}`] : []),
    `schedule: [${(s.schedule ?? []).join(", ")}]`,
  ];
  const f = r.failure;
  const verdict =
    f === undefined
      ? ["no property failed on this replay"]
      : [
          `${f.property} violated${f.actor === undefined ? "" : `: ${f.actor}'s ${opOf(s, f.actor, f.step)?.op ?? "operation"} #${f.step}`}`,
          f.detail,
          `expected: ${stableStringify(f.expected)}`,
          `actual:   ${stableStringify(f.actual)}`,
        ];
  return { title: s.name, notes, actors, rows, verdict };
}

/** The text diagram: fixed-width columns, one per actor, steps numbered in schedule order. */
export function renderRaceDiagram(s: Scenario, r: ReplayResult): string {
  const d = raceDiagram(s, r);
  const widths = d.actors.map((a, c) => Math.max(a.length, ...d.rows.filter((row) => row.column === c).flatMap((row) => row.lines.map((l) => l.length + (row.failed ? 13 : 0)))) + 2);
  const num = Math.max(3, String(Math.max(0, ...d.rows.map((row) => row.step))).length + 1);
  const line = (step: string, column: number, text: string): string => {
    const cells = d.actors.map((_, c) => (c === column ? text : "").padEnd(widths[c]!));
    return `${step.padStart(num)}  ${cells.join("")}`.trimEnd();
  };
  const out = [d.title, ...d.notes, "", `${"".padStart(num)}  ${d.actors.map((a, c) => a.padEnd(widths[c]!)).join("")}`.trimEnd()];
  for (const row of d.rows) {
    row.lines.forEach((text, i) => out.push(line(i === 0 ? String(row.step) : "", row.column, i === 0 && row.failed ? `${text}  <-- detected` : text)));
  }
  return [...out, "", ...d.verdict].join("\n");
}

const escape = (t: string): string => t.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** A self-contained SVG of the same diagram. */
export function renderRaceSvg(s: Scenario, r: ReplayResult): string {
  const d = raceDiagram(s, r);
  const charW = 7.2;
  const lineH = 16;
  const numW = 48;
  const colW = d.actors.map((a, c) => Math.max(a.length, ...d.rows.filter((row) => row.column === c).flatMap((row) => row.lines.map((l) => l.length))) * charW + 24);
  const colX = colW.map((_, c) => numW + colW.slice(0, c).reduce((x, w) => x + w, 0));
  const width = numW + colW.reduce((x, w) => x + w, 0) + 16;
  const parts: string[] = [];
  let y = 20;
  const text = (x: number, t: string, attrs = ""): void => {
    parts.push(`<text x="${x.toFixed(1)}" y="${y}"${attrs}>${escape(t)}</text>`);
  };
  text(8, d.title, ' font-weight="bold"');
  for (const n of d.notes) {
    y += lineH;
    text(8, n, ' fill="#555"');
  }
  y += lineH * 2;
  const top = y - lineH + 4;
  d.actors.forEach((a, c) => text(colX[c]! + 8, a, ' font-weight="bold"'));
  for (const row of d.rows) {
    y += 4;
    row.lines.forEach((t, i) => {
      y += lineH;
      if (i === 0) text(8, String(row.step), ' fill="#888"');
      const fill = row.failed ? ' fill="#b00020"' : t.startsWith("  ") ? ' fill="#2a6f2a"' : t.startsWith("= ") ? ' fill="#1a4d8f"' : "";
      text(colX[row.column]! + 8, t, fill);
    });
  }
  const bottom = y + 8;
  const bands = d.actors.map((_, c) => `<rect x="${colX[c]!.toFixed(1)}" y="${top}" width="${colW[c]!.toFixed(1)}" height="${bottom - top}" fill="${c % 2 === 0 ? "#f4f6fa" : "#fafafa"}" stroke="#d0d4dc"/>`);
  y += lineH;
  for (const [i, v] of d.verdict.entries()) {
    y += lineH;
    text(8, v, i === 0 ? ' font-weight="bold" fill="#b00020"' : "");
  }
  const height = y + 12;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${Math.ceil(width)}" height="${height}" viewBox="0 0 ${Math.ceil(width)} ${height}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="12" xml:space="preserve">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...bands,
    ...parts,
    "</svg>",
    "",
  ].join("\n");
}

/** A self-contained HTML page: the diagram as a table, one column per actor. */
export function renderRaceHtml(s: Scenario, r: ReplayResult): string {
  const d = raceDiagram(s, r);
  const head = `<tr><th>#</th>${d.actors.map((a) => `<th>${escape(a)}</th>`).join("")}</tr>`;
  const body = d.rows
    .map((row) => {
      const cell = row.lines.map((l, i) => (i === 0 ? `<div class="step">${escape(l)}</div>` : l.startsWith("= ") ? `<div class="ret">${escape(l)}</div>` : `<div class="fx">${escape(l.trim())}</div>`)).join("");
      const cells = d.actors.map((_, c) => (c === row.column ? `<td>${cell}</td>` : "<td></td>")).join("");
      return `<tr${row.failed ? ' class="failed"' : ""}><td class="n">${row.step}</td>${cells}</tr>`;
    })
    .join("\n");
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${escape(d.title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; }
table { border-collapse: collapse; font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 13px; }
th, td { border: 1px solid #d0d4dc; padding: 2px 10px; text-align: left; vertical-align: top; }
th { background: #eef1f6; }
td.n { color: #888; text-align: right; }
.fx { color: #2a6f2a; padding-left: 1em; }
.ret { color: #1a4d8f; }
tr.failed td { background: #fde8ec; }
.verdict { margin-top: 1em; font-family: monospace; white-space: pre-wrap; }
.verdict b { color: #b00020; }
</style></head><body>
<h1>${escape(d.title)}</h1>
${d.notes.map((n) => `<p>${escape(n)}</p>`).join("\n")}
<table>
${head}
${body}
</table>
<div class="verdict"><b>${escape(d.verdict[0]!)}</b>
${d.verdict.slice(1).map(escape).join("\n")}</div>
</body></html>
`;
}
