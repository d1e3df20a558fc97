// faultline prove: every interleaving of small scopes of the race suites, ending in a proof report or the shortest
// counterexample (props/prove/, docs/RACES.md "Proofs for small scopes").
import { proveScope, reductionFactor, type Proof } from "../props/prove/prove.js";
import { proofReportHtml } from "../props/prove/html.js";
import { PROOF_SCOPES, type ProofScope } from "../props/prove/scopes.js";
import { BUGS } from "../impl/bugs.js";
import { stringifyExact } from "../schema/json.js";
import type { ProofReport } from "../schema/prove-report.js";
import { printable } from "../schema/report.js";
import { integerOption, parseArgs, UsageError } from "./args.js";
import { counterexampleText, storeCounterexample } from "./counterexample.js";
import { outputFile, replaceAtomically } from "./files.js";

const COMMAND = "prove";

export const PROVE_OPTIONS = {
  "--suite": "value",
  "--all": "flag",
  "--bugs": "value",
  "--no-reduction": "flag",
  "--max-runs": "value",
  "--json": "flag",
  "--html": "value",
} as const;

function scopes(suite: string | undefined, all: boolean): readonly ProofScope[] {
  if ((suite === undefined) === !all) throw new UsageError(COMMAND, "give either --suite NAME[,NAME] or --all");
  if (all) return PROOF_SCOPES;
  return suite!.split(",").flatMap((name) => {
    // A suite names all its scopes; a scope's own name (postcopy-race:vmm-thread) names just that one.
    const s = PROOF_SCOPES.filter((x) => x.suite === name || x.name === name);
    const known = [...new Set(PROOF_SCOPES.map((x) => x.suite))].join(", ");
    if (s.length === 0) throw new UsageError(COMMAND, `--suite: no scope for ${JSON.stringify(name)}; suites with scopes: ${known}`);
    return s;
  });
}

function bugList(text: string | undefined): string[] {
  if (text === undefined) return [];
  const ids = text.split(",");
  const unknown = ids.find((id) => !Object.hasOwn(BUGS, id));
  if (unknown !== undefined) throw new UsageError(COMMAND, `--bugs: no seeded bug ${JSON.stringify(unknown)} (faultline list shows them)`);
  return ids;
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;

function printProof(p: ProofReport): void {
  const verdict = p.verdict === "bounded" ? "BOUNDED (not a proof: --max-runs reached)" : p.verdict.toUpperCase();
  const runs = `${p.schedules} schedules (${p.reduction === "dpor" ? `${p.pruned} cut short by sleep sets` : "no reduction"})`;
  const how = `${runs}, ${p.states} states, naive ${p.naive} (x${reductionFactor(p)}), ${seconds(p.ms)}`;
  console.log(`${p.scope}: ${verdict}${p.verdict === p.expected ? "" : ` (expected ${p.expected})`}: ${how}`);
  console.log(`  ${p.actors.map((a) => `${a.name}: ${a.ops.join(", ")}`).join("; ")}`);
  const vacuous = p.properties.filter((q) => !q.proved).map((q) => q.name);
  const proved = p.properties.filter((q) => q.proved).map((q) => `${q.name} ${q.nonVacuous}/${q.checked}`);
  if (p.verdict === "proved") console.log(`  proved (non-vacuous/evaluated): ${proved.join(", ") || "nothing"}`);
  if (p.verdict === "proved" && vacuous.length > 0) console.log(`  not proved (never non-vacuous here): ${vacuous.join(", ")}`);
  const f = p.failure;
  if (f !== undefined) console.log(`  ${f.property} after ${f.steps} steps, ${f.switches} switches: ${printable(f.detail)}`);
  const file = p.counterexample === undefined ? undefined : printable(p.counterexample.path);
  if (file !== undefined) console.log(`  counterexample: ${file} (faultline replay ${file})`);
}

/** Stores a refutation's counterexample like the check's; a file that cannot be written is printed instead. */
function store(proof: Proof): ProofReport {
  if (proof.counterexample === undefined) return proof.report;
  const stored = storeCounterexample(proof.report.scope, proof.counterexample);
  if (stored.writeError !== undefined) {
    console.error(`faultline prove: ${printable(stored.writeError)}; the counterexample:\n${counterexampleText(proof.counterexample)}`);
  }
  if (stored.path === undefined) return proof.report;
  const why = stored.writeError === undefined ? {} : { writeError: stored.writeError };
  return { ...proof.report, counterexample: { path: stored.path, isNew: stored.isNew, ...why } };
}

export async function proveCommand(args: readonly string[]): Promise<number> {
  const { values, flags, positional } = parseArgs(COMMAND, args, PROVE_OPTIONS);
  if (positional.length > 0) throw new UsageError(COMMAND, `unexpected argument ${JSON.stringify(positional[0])}`);
  const chosen = scopes(values.get("--suite"), flags.has("--all"));
  const bugs = bugList(values.get("--bugs"));
  const maxRuns = integerOption(COMMAND, "--max-runs", values.get("--max-runs"), 1);
  const html = outputFile(COMMAND, "--html", values.get("--html"));
  const json = flags.has("--json");
  const proofs: ProofReport[] = [];
  for (const scope of chosen) {
    const reduction = flags.has("--no-reduction") ? "none" : "dpor";
    const proof = await proveScope(scope, { bugs, reduction, ...(maxRuns === undefined ? {} : { maxRuns }) });
    const report = store(proof);
    proofs.push(report);
    if (!json) printProof(report);
  }
  const ok = proofs.every((p) => p.verdict === p.expected);
  if (html !== undefined) {
    replaceAtomically(html, proofReportHtml(proofs));
    if (!json) console.log(`proof report: ${printable(html)}`);
  }
  if (json) console.log(stringifyExact({ proofs, ok }));
  else console.log(ok ? "every scope as expected" : `${proofs.filter((p) => p.verdict !== p.expected).length} scope(s) NOT as expected`);
  return ok ? 0 : 1;
}
