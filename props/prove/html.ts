// The proof report as a standalone HTML page (faultline prove --html), beside the coverage reports: per scope what
// was proved and how, each property's evaluations, and the counterexample of a refuted scope.
import type { ProofReport } from "../../schema/prove-report.js";
import { reductionFactor } from "./prove.js";

const esc = (s: string): string => s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
const num = (n: number): string => `<td class="n">${n.toLocaleString("en")}</td>`;

function verdictCell(p: ProofReport): string {
  const as = p.verdict === p.expected ? "ok" : "bad";
  const text = p.verdict === "bounded" ? "bounded: not a proof" : p.verdict;
  return `<td class="${as}">${esc(text)}${p.verdict === p.expected ? "" : ` (expected ${p.expected})`}</td>`;
}

function scopeSection(p: ProofReport): string {
  const actors = p.actors.map((a) => `<li><b>${esc(a.name)}</b>: ${a.ops.map(esc).join(", ")}</li>`).join("");
  const props = p.properties
    .map((q) => {
      const status = q.proved ? `<td class="ok">proved</td>` : `<td class="na">never non-vacuous: not proved</td>`;
      return `<tr><td>${esc(q.name)}</td>${num(q.nonVacuous)}${num(q.checked)}${status}</tr>`;
    })
    .join("\n");
  const failure =
    p.failure === undefined
      ? ""
      : `<p class="bad">${esc(p.failure.property)} after ${p.failure.steps} steps (${p.failure.switches} context switches): ` +
        `${esc(p.failure.detail)}</p>` +
        (p.counterexample === undefined ? "" : `<p>counterexample: <code>${esc(p.counterexample.path)}</code> (replay it with faultline replay)</p>`);
  return `<h2 id="${esc(p.scope)}">${esc(p.scope)}</h2>
<p>${esc(p.description)}. Setup: ${p.setupOps} operations, alone; then:</p><ul>${actors}</ul>
${failure}
<table><tr><th>property</th><th>non-vacuous</th><th>evaluated</th><th></th></tr>
${props}
</table>`;
}

export function proofReportHtml(proofs: readonly ProofReport[]): string {
  const rows = proofs
    .map(
      (p) =>
        `<tr><td><a href="#${esc(p.scope)}">${esc(p.scope)}</a></td>${verdictCell(p)}<td>${p.reduction}</td>` +
        `${num(p.schedules)}${num(p.pruned)}${num(p.states)}${num(p.naive)}` +
        `<td class="n">${reductionFactor(p)}</td><td class="n">${(p.ms / 1000).toFixed(1)}</td></tr>`,
    )
    .join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>faultline proofs</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; } table { border-collapse: collapse; margin-bottom: 2em; }
td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: left; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #176f2c; } .bad { color: #b00020; font-weight: bold; } .na { color: #777; } th { background: #f4f4f4; }
</style></head><body>
<h1>Small-scope proofs: <code>faultline prove</code></h1>
<p>Each scope is a race suite's layout with explicit actors. Every interleaving of their yield points was run on the
implementation (up to dynamic partial-order reduction with sleep sets: one run per class of equivalent interleavings),
with the race suites' checks at every step: invariants at every yield point, linearizability and the quiescent
invariants at every quiescent point, deadlock and livelock. Naive is the number of interleavings of the longest run's
steps, ignoring blocking. A property never non-vacuous in a scope is not proved there.</p>
<table><tr><th>scope</th><th>verdict</th><th>reduction</th><th>schedules</th><th>pruned by sleep sets</th><th>states</th>
<th>naive</th><th>factor</th><th>s</th></tr>
${rows}
</table>
${proofs.map(scopeSection).join("\n")}
</body></html>
`;
}
