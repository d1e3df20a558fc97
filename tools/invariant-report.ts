// The invariant coverage report as a standalone HTML page, from `faultline check --json`: every invariant and
// linearizability check with its non-vacuous and total evaluations, every exit and errno rule with its hits,
// each against its minimum (props/minimums.ts), and where (which suites) each invariant was exercised.
import type { CoverageLine } from "../props/minimums.js";

export interface CheckJson {
  readonly seed: number;
  readonly suites: readonly { readonly suite: string; readonly invariants: Readonly<Record<string, { checked: number; nonVacuous: number }>> }[];
  readonly coverage: { readonly enforced: boolean; readonly lines: readonly CoverageLine[]; readonly unmet: readonly string[] };
}

const esc = (s: string): string => s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");

function status(l: CoverageLine): string {
  if (l.unreachable !== undefined) return `<td class="na">unreachable: ${esc(l.unreachable)}</td>`;
  if (l.minimum === undefined) return `<td class="na">no minimum</td>`;
  return l.count >= l.minimum ? `<td class="ok">met</td>` : `<td class="bad">NOT MET</td>`;
}

function table(title: string, header: readonly string[], rows: readonly string[]): string {
  return `<h2>${esc(title)}</h2>\n<table><tr>${header.map((h) => `<th>${esc(h)}</th>`).join("")}</tr>\n${rows.join("\n")}\n</table>`;
}

const num = (n: number | undefined): string => `<td class="n">${n === undefined ? "" : n.toLocaleString("en")}</td>`;

export function invariantReportHtml(check: CheckJson): string {
  const lines = check.coverage.lines;
  const of = (k: CoverageLine["kind"]): readonly CoverageLine[] => lines.filter((l) => l.kind === k);
  const evaluated = (l: CoverageLine): string =>
    `<tr><td>${esc(l.name)}</td>${num(l.count)}${num(l.checked)}${num(l.checked === 0 || l.checked === undefined ? undefined : Math.round((l.count / l.checked) * 1000) / 10)}${num(l.minimum)}${status(l)}</tr>`;
  const hit = (l: CoverageLine): string => `<tr><td>${esc(l.name)}</td><td>${esc(l.errno ?? "")}</td>${num(l.count)}${num(l.minimum)}${status(l)}</tr>`;
  const sides = (l: CoverageLine, from: number): string => `<td class="n">${(l.sides ?? []).slice(from, from + 3).join(" / ")}</td>`;
  const bound = (l: CoverageLine): string => `<tr><td>${esc(l.name)}</td>${sides(l, 0)}${sides(l, 3)}${num(l.count)}${num(l.minimum)}${status(l)}</tr>`;
  const invariants = of("invariant").map((l) => l.name);
  const perSuite = check.suites
    .filter((s) => invariants.some((i) => (s.invariants[i]?.checked ?? 0) > 0))
    .map((s) => `<tr><td>${esc(s.suite)}</td>${invariants.map((i) => num(s.invariants[i]?.nonVacuous ?? 0)).join("")}</tr>`);
  const verdict =
    check.coverage.unmet.length === 0
      ? `<p class="ok">Every minimum is met.</p>`
      : `<p class="bad">${check.coverage.enforced ? "Minimums NOT met" : "Minimums not met (a narrowed check: reported, not enforced)"}:</p><ul>${check.coverage.unmet.map((u) => `<li>${esc(u)}</li>`).join("")}</ul>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>faultline invariant coverage, seed ${check.seed}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; } table { border-collapse: collapse; margin-bottom: 2em; }
td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: left; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #176f2c; } .bad { color: #b00020; font-weight: bold; } .na { color: #777; } th { background: #f4f4f4; }
</style></head><body>
<h1>Invariant and rule coverage of <code>faultline check --seed ${check.seed}</code></h1>
<p>Non-vacuous: evaluated in a state where the invariant had something to check (an invariant that only holds
vacuously proves nothing). Linearizability counts the quiescent segments whose operations overlapped. Minimums
are declared in <code>props/minimums.ts</code> and enforced by the full default check.</p>
${verdict}
${table("Invariants", ["invariant", "non-vacuous", "evaluated", "% non-vacuous", "minimum", ""], of("invariant").map(evaluated))}
${table("Linearizability checks", ["suite", "overlapping segments", "segments", "% overlapping", "minimum", ""], of("linearizability").map(evaluated))}
${table("KVM_RUN exits", ["exit", "", "hits", "minimum", ""], of("exit").map(hit))}
${table("Bounds (bound-1 / bound / bound+1; covered: the last accepted value accepted and the first refused one refused)", ["bound", "accepted", "refused", "covered", "minimum", ""], of("bound").map(bound))}
${table("Features", ["feature", "", "seen", "minimum", ""], of("feature").map(hit))}
${table("Errno rules", ["rule", "errno", "hits", "minimum", ""], lines.filter((l) => l.kind === "rule" && l.errno !== undefined).map(hit))}
${table("Other rules (no minimum)", ["rule", "", "hits", "minimum", ""], lines.filter((l) => l.kind === "rule" && l.errno === undefined).map(hit))}
${table("Non-vacuous evaluations per suite", ["suite", ...invariants], perSuite)}
</body></html>
`;
}
