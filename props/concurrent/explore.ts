// Exploring a concurrent suite with fast-check: the actors' operations and the schedule are one generated
// value, so fast-check shrinks them together. The failing run's decisions are then shrunk once more as an
// explicit schedule (with the operations as subsequences), which is what the counterexample file keeps.
import fc from "fast-check";
import { configToInput, type Config } from "../../schema/config.js";
import type { Op } from "../../schema/ops.js";
import type { Scenario } from "../../schema/scenario.js";
import { ALL_CHECKS, type Checks } from "../checker.js";
import { Stats } from "../stats.js";
import { runConfig, type Suite, type SuiteResult, type SuiteRunOptions } from "../suite.js";
import { pctSteps } from "./run-lengths.js";
import { runRace, SETUP, type RaceActor, type RaceFailure, type RaceOptions, type RaceRun, type RunProperty } from "./harness.js";
import { describeSchedule, scheduleArbitrary, type Generator, type ScheduleSpec } from "./schedules.js";

export interface ConcurrentSuite extends Suite {
  readonly kind: "concurrent";
  readonly config: Config;
  /** Builds the layout; runs as the actor "setup", alone, before the others. */
  readonly setup: readonly Op[];
  /** The concurrent actors (vCPU and VMM threads) with their operations. */
  readonly actors: fc.Arbitrary<RaceActor[]>;
  /** PCT's k, at least the longest run in steps past the setup (run-lengths.ts); also the uniform schedule's length. */
  readonly steps: number;
  /** PCT's bug depth d (d - 1 priority change points). */
  readonly depth: number;
  /** A property of each whole run on top of the harness's checks. */
  readonly property?: RunProperty;
  /** The checks when the run names none: a design's race leaves out the invariants the design breaks on purpose. */
  readonly checks?: Checks;
}

/** A KVM race suite with the harness's defaults: PCT's k from run-lengths.ts, bug depth 3. */
export function kvmRaceSuite(r: Pick<ConcurrentSuite, "name" | "description" | "config" | "setup" | "actors" | "runs" | "property" | "checks">): ConcurrentSuite {
  const s: ConcurrentSuite = {
    ...(r.property === undefined ? {} : { property: r.property }),
    ...(r.checks === undefined ? {} : { checks: r.checks }),
    name: r.name,
    description: r.description,
    kind: "concurrent",
    area: "kvm",
    config: r.config,
    setup: r.setup,
    actors: r.actors,
    runs: r.runs,
    steps: pctSteps(r.name),
    depth: 3,
    run: (opts) => runConcurrentSuite(s, opts),
  };
  return s;
}

export interface ExploreOptions extends SuiteRunOptions {
  /** Which schedule generator explores (the default check mixes both). */
  readonly generator?: Generator | "mixed";
}

export interface ConcurrentResult extends SuiteResult {
  /** Time until the first failing run, before shrinking. */
  readonly msToFailure?: number;
  /** Which generator produced the first failing schedule. */
  readonly foundBy?: string;
}

class RaceFound extends Error {
  constructor(readonly failure: RaceFailure) {
    super(`${failure.property}: ${failure.detail}`);
  }
}

interface Failing {
  readonly actors: readonly RaceActor[];
  readonly run: RaceRun;
}

const opsPast = (actors: readonly RaceActor[]): number => actors.filter((a) => a.name !== SETUP).reduce((n, a) => n + a.steps.length, 0);

/**
 * Drops whole actors, then single operations, while the same property still fails when the remaining steps
 * run in the order they ran before. Decisions count from the actor that ran last, so removing an actor's
 * steps would shift every later decision: following the old step order keeps the interleaving instead.
 */
async function dropSteps(config: Config, opts: RaceOptions, found: Failing): Promise<Failing> {
  const property = found.run.failure!.property;
  let best = found;
  const attempt = async (keep: (actor: number, op: number) => boolean): Promise<boolean> => {
    const was = new Map(best.actors.map((a, i) => [a.name, i]));
    const actors = best.actors
      .map((a, i) => (a.name === SETUP ? a : { name: a.name, steps: a.steps.filter((_, j) => keep(i, j)) }))
      .filter((a) => a.name === SETUP || a.steps.length > 0);
    const now = new Map(actors.map((a, i) => [a.name, i]));
    const order = best.run.steps.filter((st) => st.actor !== SETUP && now.has(st.actor) && keep(was.get(st.actor)!, st.op)).map((st) => now.get(st.actor)!);
    const run = await runRace(config, actors, { kind: "follow", order }, opts);
    if (run.failure?.property !== property) return false;
    best = { actors, run };
    return true;
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (const [i, a] of best.actors.entries()) {
      if (a.name !== SETUP && (await attempt((actor) => actor !== i))) {
        changed = true;
        break;
      }
    }
    if (changed) continue;
    outer: for (const [i, a] of best.actors.entries()) {
      if (a.name === SETUP || a.steps.length < 2) continue;
      for (let j = 0; j < a.steps.length; j++) {
        if (await attempt((actor, op) => actor !== i || op !== j)) {
          changed = true;
          break outer;
        }
      }
    }
  }
  return best;
}

/** Shrinks a failing run as explicit data: fewer operations per actor, fewer and smaller decisions. */
async function shrinkExplicit(config: Config, opts: RaceOptions, found: Failing, seed: number): Promise<Failing> {
  const property = found.run.failure!.property;
  const setup = found.actors.filter((a) => a.name === SETUP);
  const others = found.actors.filter((a) => a.name !== SETUP);
  const originals = others.map((a) => [...a.steps]);
  let best = found;
  const arb = fc.tuple(fc.tuple(...originals.map((ops) => fc.subarray(ops))), fc.array(fc.nat({ max: 63 }), { maxLength: found.run.schedule.length }));
  const prop = fc.asyncProperty(arb, async ([kept, schedule]) => {
    const actors = [...setup, ...others.map((a, i) => ({ name: a.name, steps: kept[i]! })).filter((a) => a.steps.length > 0)];
    const run = await runRace(config, actors, { kind: "choices", choices: schedule }, opts);
    if (run.failure?.property !== property) return;
    if (opsPast(actors) + run.schedule.length <= opsPast(best.actors) + best.run.schedule.length) best = { actors, run };
    throw new RaceFound(run.failure);
  });
  await fc.check(prop, { seed, numRuns: 1, examples: [[[originals, [...found.run.schedule]]]] });
  return best;
}

/** The decisions that matter: trailing zeros are what an exhausted schedule does anyway. */
function trimmed(schedule: readonly number[]): number[] {
  let n = schedule.length;
  while (n > 0 && schedule[n - 1] === 0) n--;
  return schedule.slice(0, n);
}

export async function runConcurrentSuite(suite: ConcurrentSuite, opts: ExploreOptions): Promise<ConcurrentResult> {
  const config = runConfig(suite.config, opts);
  const checks = opts.checks ?? suite.checks ?? ALL_CHECKS;
  const generator = opts.generator ?? "mixed";
  const stats = new Stats();
  let first: { runs: number; ms: number; spec: ScheduleSpec } | undefined;
  let failing: Failing | undefined;
  // Shrinking runs with the checks and the search budget the suite ran with, so the same property fails.
  const raceOpts: RaceOptions = { checks, ...(suite.property === undefined ? {} : { property: suite.property }), ...(opts.searchBudget === undefined ? {} : { budget: opts.searchBudget }) };
  const started = performance.now();
  const property = fc.asyncProperty(suite.actors, scheduleArbitrary(generator, suite.depth, suite.steps), async (generated, spec) => {
    stats.recordRun();
    opts.onRun?.(stats.runs);
    const actors = [{ name: SETUP, steps: suite.setup }, ...generated];
    const run = await runRace(config, actors, spec, { ...raceOpts, stats });
    if (run.failure === undefined) return;
    first ??= { runs: stats.runs, ms: performance.now() - started, spec };
    stats.frozen = true;
    failing = { actors, run };
    throw new RaceFound(run.failure);
  });
  const details = await fc.check(property, {
    seed: opts.seed,
    numRuns: opts.runs,
    ...(opts.timeBudgetMs === undefined ? {} : { interruptAfterTimeLimit: opts.timeBudgetMs }),
  });
  const base = { suite: suite.name, stats, interrupted: details.interrupted };
  if (!details.failed) return { ...base, durationMs: performance.now() - started };
  if (!(details.errorInstance instanceof RaceFound) || failing === undefined || first === undefined) {
    throw details.errorInstance instanceof Error ? details.errorInstance : new Error(String(details.errorInstance));
  }
  const shrunk = await shrinkExplicit(config, raceOpts, await dropSteps(config, raceOpts, failing), opts.seed);
  const f = shrunk.run.failure!;
  const counterexample: Scenario = {
    version: 1,
    name: `${suite.name}: ${f.property}`,
    description: f.detail,
    config: configToInput(config),
    actors: shrunk.actors.map((a) => ({ name: a.name, steps: [...a.steps] })),
    schedule: trimmed(shrunk.run.schedule),
    failure: { property: f.property, step: f.step, expected: f.expected, actual: f.actual, detail: f.detail, ...(f.actor === undefined ? {} : { actor: f.actor }) },
    provenance: { suite: suite.name, seed: details.seed, bugs: [...config.bugs], found: describeSchedule(first.spec), fastCheck: fc.__version },
  };
  return {
    ...base,
    durationMs: performance.now() - started,
    failure: f,
    counterexample,
    runsToFailure: first.runs,
    msToFailure: first.ms,
    foundBy: describeSchedule(first.spec),
    shrunkLength: opsPast(shrunk.actors),
  };
}
