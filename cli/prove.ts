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
  return suite!.split(",").map((name) => {
    const s = PROOF_SCOPES.find((x) => x.name === name);
    if (s === undefined) throw new UsageError(COMMAND, `--suite: no scope for ${JSON.stringify(name)}; scopes: ${PROOF_SCOPES.map((x) => x.name).join(", ")}`);
    return s;
  });
}

function bugList(text: string | undefined): string[] {
  if (text === undefined) return [];
  const ids = text.split(",");
  for (const id of ids) if (!Object.hasOwn(BUGS, id)) throw new UsageError(COMMAND, `--bugs: no seeded bug ${JSON.stringify(id)} (faultline list shows them)`);
  return ids;
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;

function printProof(p: ProofReport): void {
  const verdict = p.verdict === "bounded" ? "BOUNDED (not a proof: --max-runs reached)" : p.verdict.toUpperCase();
  const how = `${p.schedules} schedules (${p.pruned} cut short by sleep sets), ${p.states} states, naive ${p.naive} (x${reductionFactor(p)}), ${seconds(p.ms)}`;
  console.log(`${p.scope}: ${verdict}${p.verdict === p.expected ? "" : ` (expected ${p.expected})`}: ${how}`);
  console.log(`  ${p.actors.map((a) => `${a.name}: ${a.ops.join(", ")}`).join("; ")}`);
  const vacuous = p.properties.filter((q) => !q.proved).map((q) => q.name);
  const proved = p.properties.filter((q) => q.proved).map((q) => `${q.name} ${q.nonVacuous}/${q.checked}`);
  if (p.verdict === "proved") console.log(`  proved (non-vacuous/evaluated): ${proved.join(", ") || "nothing"}`);
  if (p.verdict === "proved" && vacuous.length > 0) console.log(`  not proved (never non-vacuous here): ${vacuous.join(", ")}`);
  if (p.failure !== undefined) console.log(`  ${p.failure.property} after ${p.failure.steps} steps, ${p.failure.switches} switches: ${printable(p.failure.detail)}`);
  if (p.counterexample !== undefined) console.log(`  counterexample: ${printable(p.counterexample.path)} (faultline replay ${printable(p.counterexample.path)})`);
}

/** Stores a refutation's counterexample like the check's; a file that cannot be written is printed instead. */
function store(proof: Proof): ProofReport {
  if (proof.counterexample === undefined) return proof.report;
  const stored = storeCounterexample(proof.report.scope, proof.counterexample);
  if (stored.writeError !== undefined) console.error(`faultline prove: ${printable(stored.writeError)}; the counterexample:\n${counterexampleText(proof.counterexample)}`);
  if (stored.path === undefined) return proof.report;
  return { ...proof.report, counterexample: { path: stored.path, isNew: stored.isNew, ...(stored.writeError === undefined ? {} : { writeError: stored.writeError }) } };
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
    const proof = await proveScope(scope, { bugs, reduction: flags.has("--no-reduction") ? "none" : "dpor", ...(maxRuns === undefined ? {} : { maxRuns }) });
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
