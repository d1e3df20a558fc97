// Replaying a scenario file: no seed, just its configuration and its steps (or its actors and schedule, or the
// post-copy or poison VMM's scenario).
import { resolveConfig } from "../schema/config.js";
import type { Scenario } from "../schema/scenario.js";
import { Checker, PropertyFailure, type StepRecord } from "./checker.js";
import { runRace, type RaceFailure, type RaceStep } from "./concurrent/harness.js";
import type { RaceOp } from "./concurrent/history.js";
import { checkPostcopyRun } from "./postcopy/race.js";
import { PoisonVmm } from "./poison/vmm.js";
import { EXIT_PROGRESS } from "./progress.js";
import { EXIT_PROGRESS_RUN } from "./progress-races.js";
import { Vmm } from "./postcopy/vmm.js";

export interface ReplayResult {
  /** Each operation's outcomes; for actor scenarios in the order they returned, where the model placed them. */
  readonly trace: readonly StepRecord[];
  /** The property that failed on this replay, if any (with the actor, for actor scenarios). */
  readonly failure?: RaceFailure;
  /** Actor scenarios: every schedule step (actor, yield point, operation, KVM effects) and every operation. */
  readonly race?: { readonly steps: readonly RaceStep[]; readonly ops: readonly RaceOp[]; readonly schedule: readonly number[] };
  /** What the replayed run cost (impl/costs.ts; a post-copy run adds the VMM's fetches). */
  readonly costs?: Readonly<Record<string, number>>;
}

async function replayActors(s: Scenario & { actors: NonNullable<Scenario["actors"]> }): Promise<ReplayResult> {
  // A failure of exit-progress, a property of the whole run, is judged again (props/progress-races.ts).
  const property = s.failure?.property === EXIT_PROGRESS ? { property: EXIT_PROGRESS_RUN } : {};
  const raced = await runRace(resolveConfig(s.config), s.actors, { kind: "choices", choices: s.schedule ?? [] }, { effects: true, ...property });
  // The post-copy race's own checks: what everyone read is the source snapshot, every thread finished, no page went in twice.
  const reads = raced.failure === undefined && s.postcopy !== undefined ? checkPostcopyRun(s.postcopy, raced) : undefined;
  const run = reads === undefined ? raced : { ...raced, failure: reads };
  const trace = [...run.ops]
    .filter((r) => r.impl !== undefined && r.model !== undefined)
    .sort((a, b) => a.ret - b.ret)
    .map((r): StepRecord => ({ op: r.op, model: r.model!, impl: r.impl!, fired: r.fired ?? [] }));
  const race = { steps: run.steps, ops: run.ops, schedule: run.schedule };
  return { trace, race, costs: run.costs, ...(run.failure === undefined ? {} : { failure: run.failure }) };
}

export async function replay(s: Scenario): Promise<ReplayResult> {
  if (s.actors !== undefined) return replayActors({ ...s, actors: s.actors });
  if (s.steps === undefined) throw new Error(`${s.name}: a scenario needs steps or actors`);
  // A post-copy or poison scenario's steps are what its VMM did: replay runs the VMM again, with its checks.
  const config = resolveConfig(s.config);
  const vmm = s.postcopy === undefined ? undefined : new Vmm(config, s.postcopy);
  const poison = s.poison === undefined ? undefined : new PoisonVmm(config, s.poison);
  const checker = vmm?.checker ?? poison?.checker ?? new Checker(config);
  const costs = (): Readonly<Record<string, number>> => ({ ...checker.costs(), ...vmm?.costs() });
  try {
    await (vmm?.run() ?? poison?.run() ?? checker.applyAll(s.steps));
    return { trace: checker.trace, costs: costs() };
  } catch (e) {
    if (!(e instanceof PropertyFailure)) throw e;
    return { trace: checker.trace, failure: e.failure, costs: costs() };
  }
}
