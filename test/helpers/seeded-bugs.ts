// The cases of the seeded-bug tests: a bug, the suite that runs it and the one check that must catch it alone.
import type { BugId } from "../../impl/bugs.js";
import type { Checks } from "../../props/checker.js";

export interface Case {
  readonly bug: BugId;
  readonly suite: string;
  readonly checks: Checks;
  readonly property: RegExp;
}

export const ONLY = (name: string): Checks => ({ refinement: false, invariants: [name] });
export const REFINEMENT: Checks = { refinement: true, invariants: false };
