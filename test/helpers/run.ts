// Runs ops through the model and the impl together (the checker fails on any disagreement or broken invariant).
import { initial, step, type State } from "../../model/index.js";
import { Checker } from "../../props/checker.js";
import type { Config } from "../../schema/config.js";
import type { Op } from "../../schema/ops.js";
import type { Outcome } from "../../schema/outcome.js";

/** Each step's model outcome and rules, and the model's final state. */
export async function runBoth(config: Config, ops: readonly Op[]): Promise<{ outcomes: Outcome[]; fired: (readonly string[])[]; state: State }> {
  const checker = new Checker(config);
  await checker.applyAll(ops);
  const state = ops.reduce((s, op) => step(s, op).state, initial(config));
  return { outcomes: checker.trace.map((t) => t.model), fired: checker.trace.map((t) => t.fired), state };
}

/** The stage-2 level mapping gfn in VM 0, address space 0. */
export const levelAt = (s: State, gfn: number): number | undefined => s.kvm.vms[0]!.stage2[0]!.find((sp) => gfn >= sp.start && gfn < sp.end)?.value.level;
