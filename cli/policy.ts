// Replaying a file and judging the result: does the recorded failure reproduce, and is that what the file's
// kind promises? The regression corpus policy (docs/CLI.md) in code, shared by `replay` and the tests.
import { replay, type ReplayResult } from "../props/replay.js";
import type { Scenario } from "../schema/scenario.js";

/**
 * - `seeded`: a demonstration found with seeded bugs on (config.bugs): reproduces with them, not without them.
 * - `design-flaw`: a documented flaw of a proposed design (`expectedToFail`): always reproduces.
 * - `fixed`: a failure of the real implementation, since fixed: must never reproduce again.
 */
export type Kind = "seeded" | "design-flaw" | "fixed";

export const kindOf = (s: Scenario): Kind => ((s.config.bugs ?? []).length > 0 ? "seeded" : s.expectedToFail !== undefined ? "design-flaw" : "fixed");

/** `reproduces`: fails as recorded (same property, actor and step); `differs`: fails otherwise; `passes`: nothing fails. */
export type Verdict = "reproduces" | "differs" | "passes";

export function verdictOf(s: Scenario, r: ReplayResult): Verdict {
  const now = r.failure;
  const was = s.failure;
  if (now === undefined) return "passes";
  if (was === undefined) return "reproduces";
  return now.property === was.property && now.actor === was.actor && now.step === was.step ? "reproduces" : "differs";
}

/** Replays the scenario as written, or with its seeded bugs switched off (the real implementation). */
export function replayScenario(s: Scenario, withoutBugs = false): Promise<ReplayResult> {
  return replay(withoutBugs ? { ...s, config: { ...s.config, bugs: [] } } : s);
}

/** What the policy demands of a file in counterexamples/; an empty list means it complies. */
export async function corpusProblems(s: Scenario): Promise<string[]> {
  const kind = kindOf(s);
  const asWritten = verdictOf(s, await replayScenario(s));
  const problems: string[] = [];
  if (s.failure === undefined) problems.push("a counterexample records the failure it shows");
  if (kind === "fixed" && asWritten !== "passes") problems.push(`a fixed failure ${asWritten === "reproduces" ? "reproduces again" : "now fails differently"}`);
  if (kind !== "fixed" && asWritten !== "reproduces") problems.push(`a ${kind} counterexample must reproduce, but it ${asWritten === "passes" ? "passes" : "fails differently"}`);
  if (kind === "seeded") {
    const real = verdictOf(s, await replayScenario(s, true));
    if (real !== "passes") problems.push(`without its seeded bugs it must pass, but it ${real === "reproduces" ? "still reproduces" : "fails differently"}`);
  }
  return problems;
}
