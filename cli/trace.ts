// Step-by-step traces of a replay: each operation, the model's outcome, the implementation's if it differs,
// and the rules that decided the step (with their kernel sources when a user asks "why").
import { ruleById } from "../model/rules-index.js";
import type { Failure, StepRecord } from "../props/checker.js";
import { sameOutcome } from "../props/outcomes.js";
import { resolveConfig } from "../schema/config.js";
import type { Outcome } from "../schema/outcome.js";
import type { Scenario } from "../schema/scenario.js";
import { formatOp, formatOutcome } from "./format.js";

/** `x86, 2 vCPUs, seeded bugs: a, b` */
export function describeConfig(s: Scenario): string {
  const c = resolveConfig(s.config);
  const bugs = c.bugs.length === 0 ? "" : `, seeded bugs: ${c.bugs.join(", ")}`;
  const preset = s.config.preset === undefined ? "" : `, preset ${s.config.preset}`;
  return `${c.arch}, ${c.vcpus} vCPUs${preset}${bugs}`;
}

/** How a rule reads in a review: `memslot.gmem-offset: <what it says> [virt/kvm/kvm_main.c (kvm_set_memory_region)]`. */
export function citeRule(id: string): string {
  const r = ruleById(id);
  return r === undefined ? `${id} (not in model/rules-index.ts)` : `${id}: ${r.text} [${r.cite}]`;
}

export interface TraceOptions {
  /** One line per fired rule with its text and source, instead of the ids alone. */
  readonly cite: boolean;
  readonly expect?: readonly Outcome[];
  readonly failure?: Failure;
}

export interface TraceSummary {
  readonly disagreements: number;
  readonly unexpected: number;
}

export function printTrace(trace: readonly StepRecord[], o: TraceOptions): TraceSummary {
  const width = String(Math.max(0, trace.length - 1)).length;
  let disagreements = 0;
  let unexpected = 0;
  trace.forEach((t, i) => {
    const agree = sameOutcome(t.model, t.impl);
    const expected = o.expect?.[i];
    const surprise = expected !== undefined && !sameOutcome(expected, t.model);
    if (!agree) disagreements++;
    if (surprise) unexpected++;
    const decided = t.fired.length === 0 ? "" : o.cite ? ` by ${t.fired[t.fired.length - 1]}` : `  [${t.fired.join(", ")}]`;
    const notes = [
      agree ? "" : `  impl: ${formatOutcome(t.impl)}  DISAGREE`,
      surprise ? `  expected: ${formatOutcome(expected)}  UNEXPECTED` : "",
      o.failure?.step === i ? `  <- ${o.failure.property} violated` : "",
    ].join("");
    console.log(`  ${String(i).padStart(width)}  ${formatOp(t.op)}`);
    console.log(`  ${" ".repeat(width)}    -> ${formatOutcome(t.model)}${decided}${notes}`);
    if (o.cite) for (const id of t.fired) console.log(`  ${" ".repeat(width)}       ${citeRule(id)}`);
  });
  return { disagreements, unexpected };
}

export const describeFailure = (f: Failure, trace: readonly StepRecord[]): string =>
  `${f.property} at step ${f.step}${trace[f.step] === undefined ? "" : ` (${trace[f.step]!.op.op})`}: ${f.detail}`;
