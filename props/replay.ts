// Replaying a scenario file: no seed, just its configuration and its steps.
import { resolveConfig } from "../schema/config.js";
import type { Scenario } from "../schema/scenario.js";
import { Checker, PropertyFailure, type Failure, type StepRecord } from "./checker.js";

export interface ReplayResult {
  readonly trace: readonly StepRecord[];
  /** The property that failed on this replay, if any. */
  readonly failure?: Failure;
}

export async function replay(s: Scenario): Promise<ReplayResult> {
  if (s.steps === undefined) throw new Error(`${s.name}: concurrent scenarios are replayed by the race harness`);
  const checker = new Checker(resolveConfig(s.config));
  try {
    await checker.applyAll(s.steps);
    return { trace: checker.trace };
  } catch (e) {
    if (!(e instanceof PropertyFailure)) throw e;
    return { trace: checker.trace, failure: e.failure };
  }
}
