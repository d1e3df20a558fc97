// Step-by-step traces of a replay: each operation, the model's outcome, the implementation's if it differs,
// and the rules that decided the step (with their kernel sources when a user asks "why").
import { ruleById } from "../model/rules-index.js";
import { renderRaceDiagram } from "../props/concurrent/diagram.js";
import { sameOutcome } from "../props/outcomes.js";
import type { ReplayResult } from "../props/replay.js";
import { resolveConfig } from "../schema/config.js";
import type { Op } from "../schema/ops.js";
import type { Outcome } from "../schema/outcome.js";
import type { Scenario } from "../schema/scenario.js";
import { formatOp, formatOutcome } from "./format.js";

/** `x86, 2 vCPUs, preset default, seeded bugs: a, b` */
export function describeConfig(s: Scenario): string {
  const c = resolveConfig(s.config);
  const preset = s.config.preset === undefined ? "" : `, preset ${s.config.preset}`;
  const bugs = c.bugs.length === 0 ? "" : `, seeded bugs: ${c.bugs.join(", ")}`;
  return `${c.arch}, ${c.vcpus} vCPUs${preset}${bugs}`;
}

/** How a rule reads in a review: `memslot.gmem-offset: <what it says> [virt/kvm/kvm_main.c (kvm_set_memory_region)]`. */
export function citeRule(id: string): string {
  const r = ruleById(id);
  return r === undefined ? `${id} (not in model/rules-index.ts)` : `${id}: ${r.text} [${r.cite}]`;
}

/** One operation of a trace: a step of a sequential scenario, or an operation of an actor. */
interface Entry {
  /** `3` for step 3, `a1#0` for actor a1's first operation. */
  readonly label: string;
  readonly op: Op;
  /** Missing when no model step explains the operation (a concurrent run that failed before placing it). */
  readonly model?: Outcome;
  /** Missing when the operation never returned. */
  readonly impl?: Outcome;
  readonly fired: readonly string[];
  readonly expected?: Outcome;
  readonly failed: boolean;
}

/** Sequential: the steps in order. Concurrent: the operations in the order they returned (unfinished ones last). */
function entries(s: Scenario, r: ReplayResult): Entry[] {
  const f = r.failure;
  if (r.race === undefined) {
    return r.trace.map((t, i) => ({ label: String(i), op: t.op, model: t.model, impl: t.impl, fired: t.fired, failed: f?.step === i, ...(s.expect?.[i] == null ? {} : { expected: s.expect[i] }) }));
  }
  const order = (o: { retStep: number; impl?: Outcome; callStep: number }): number => (o.impl === undefined ? Number.MAX_SAFE_INTEGER : o.retStep);
  return [...r.race.ops]
    .sort((a, b) => order(a) - order(b) || a.callStep - b.callStep)
    .map((o) => ({
      label: `${o.actor}#${o.index}`,
      op: o.op,
      ...(o.model === undefined ? {} : { model: o.model }),
      ...(o.impl === undefined ? {} : { impl: o.impl }),
      fired: o.fired ?? [],
      failed: f?.actor === o.actor && f.step === o.index,
    }));
}

export interface TraceSummary {
  readonly operations: number;
  readonly disagreements: number;
  readonly unexpected: number;
}

/** Prints the trace; with `cite`, every fired rule on its own line with its statement and kernel source. */
export function printTrace(s: Scenario, r: ReplayResult, cite: boolean): TraceSummary {
  const list = entries(s, r);
  const width = Math.max(0, ...list.map((e) => e.label.length));
  const indent = " ".repeat(width + 4);
  let disagreements = 0;
  let unexpected = 0;
  for (const e of list) {
    const disagree = e.model !== undefined && e.impl !== undefined && !sameOutcome(e.model, e.impl);
    const surprise = e.expected !== undefined && e.model !== undefined && !sameOutcome(e.expected, e.model);
    if (disagree) disagreements++;
    if (surprise) unexpected++;
    const outcome = e.model !== undefined ? formatOutcome(e.model) : e.impl !== undefined ? `(no model step explains it)  impl: ${formatOutcome(e.impl)}` : "(did not return)";
    const decided = e.fired.length === 0 ? "" : cite ? ` by ${e.fired[e.fired.length - 1]}` : `  [${e.fired.join(", ")}]`;
    const notes = [
      disagree ? `  impl: ${formatOutcome(e.impl!)}  DISAGREE` : "",
      surprise ? `  expected: ${formatOutcome(e.expected!)}  UNEXPECTED` : "",
      e.failed ? `  <- ${r.failure!.property} violated` : "",
    ].join("");
    console.log(`  ${e.label.padStart(width)}  ${formatOp(e.op)}`);
    console.log(`${indent}-> ${outcome}${decided}${notes}`);
    if (cite) for (const id of e.fired) console.log(`${indent}   ${citeRule(id)}`);
  }
  return { operations: list.length, disagreements, unexpected };
}

/** `stage2-in-slot at step 6 (set_memory_region)`, or `... at a1's step 0 (vcpu_access)` for an actor's operation. */
export function describeFailure(s: Scenario, f: { readonly property: string; readonly step: number; readonly actor?: string | undefined }): string {
  const op = f.actor === undefined ? s.steps?.[f.step] : s.actors?.find((a) => a.name === f.actor)?.steps[f.step];
  const where = f.actor === undefined ? `step ${f.step}` : `${f.actor}'s step ${f.step}`;
  return `${f.property} at ${where}${op === undefined ? "" : ` (${op.op})`}`;
}

/** The race diagram of a concurrent replay, indented under its file. */
export function printRaceDiagram(s: Scenario, r: ReplayResult): void {
  console.log("  race diagram:");
  for (const line of renderRaceDiagram(s, r).split("\n")) console.log(line === "" ? "" : `    ${line}`);
}
