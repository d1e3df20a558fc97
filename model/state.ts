// The whole model state and the result of one step.
import type { Config } from "../schema/config.js";
import type { Outcome } from "../schema/outcome.js";
import type { GmemState } from "./gmem/types.js";
import type { KvmState } from "./kvm/types.js";
import type { MmState } from "./mm/types.js";
import type { Rule } from "./rules.js";
import { EMPTY_UFFD, type Message, type UffdState } from "./uffd/types.js";

export interface State {
  readonly config: Config;
  readonly kvm: KvmState;
  readonly gmem: GmemState;
  readonly mm: MmState;
  readonly uffd: UffdState;
}

export interface StepResult {
  readonly state: State;
  readonly outcome: Outcome;
  /** Ids of the rules that decided this step, in the order they applied. */
  readonly fired: readonly string[];
  /** The userfault an access (or a vCPU's GUP) went to sleep on, when its outcome is "blocked". */
  readonly blocked?: Message;
  /**
   * Ids of refusal rules whose checks ran and passed, where a later check may still refuse: a bounded check's
   * accepted side is reached even when the step fails further on (props/bounds.ts).
   */
  readonly passed?: readonly string[];
}

/** The step, with checks that ran and passed before it was decided. */
export const withPassed = (r: StepResult, passed: readonly Rule[]): StepResult =>
  passed.length === 0 ? r : { ...r, passed: [...(r.passed ?? []), ...passed.map((p) => p.id)] };

export function initial(config: Config): State {
  return {
    config,
    kvm: { vms: [], names: new Map() },
    gmem: { inodes: [], names: new Map() },
    mm: { files: [], names: new Map(), maps: new Map() },
    uffd: EMPTY_UFFD,
  };
}

export const result = (state: State, outcome: Outcome, ...fired: readonly Rule[]): StepResult => ({
  state,
  outcome,
  fired: fired.map((r) => r.id),
});

/** A refusal: state unchanged, errno from the rule. */
export function refuse(state: State, r: Rule, ...context: readonly Rule[]): StepResult {
  if (r.errno === undefined) throw new Error(`rule ${r.id} has no errno`);
  return result(state, { errno: r.errno }, ...context, r);
}
