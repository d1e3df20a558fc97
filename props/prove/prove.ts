// One proof attempt: every interleaving of a scope, and what it showed: a proof (with the counts a reader needs to
// judge it), a refutation with the shortest failing schedule as a counterexample scenario, or a bounded search
// that is neither.
import fc from "fast-check";
import { configToInput } from "../../schema/config.js";
import type { ProofReport } from "../../schema/prove-report.js";
import type { Scenario } from "../../schema/scenario.js";
import { SETUP } from "../concurrent/harness.js";
import { postcopyInput, setupOps } from "../postcopy/scenario.js";
import type { Stats } from "../stats.js";
import { describeEvent, eventActor, exploreEvents, type EventExploration } from "./events.js";
import { explore, type Reduction } from "./explore.js";
import { REFUTED_DESIGNS, type EventScope, type ProofScope, type RaceScope } from "./scopes.js";

export interface ProveOptions {
  readonly bugs?: readonly string[];
  /** Race scopes only: an event scope is always brute force. */
  readonly reduction?: Reduction;
  readonly maxRuns?: number;
}

export interface Proof {
  readonly report: ProofReport;
  readonly counterexample?: Scenario;
}

/** The invariants and the linearizability check ("linearizable"), each with its evaluations and non-vacuous ones. */
function properties(stats: Stats): ProofReport["properties"] {
  return [...stats.invariants.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, c]) => ({ name, checked: c.checked, nonVacuous: c.nonVacuous, proved: c.nonVacuous > 0 }));
}

/** How many times fewer runs than the naive count, to two places. */
export const reductionFactor = (p: ProofReport): string => (p.schedules === 0 ? "-" : (p.naive / p.schedules).toFixed(2));

/** The decisions that matter: trailing zeros are what an exhausted schedule does anyway. */
function trimmed(schedule: readonly number[]): number[] {
  let n = schedule.length;
  while (n > 0 && schedule[n - 1] === 0) n--;
  return schedule.slice(0, n);
}

/** What an exploration of either kind (explore.ts, events.ts) reports for every scope. */
type Searched = Pick<EventExploration, "runs" | "failing" | "states" | "steps" | "naive" | "exhaustive" | "ms" | "stats">;

/** The shortest failure for the report. */
const failureOf = (f: { property: string; detail: string }, s: { steps: number; switches: number }): ProofReport["failure"] => ({
  property: f.property,
  detail: f.detail,
  steps: s.steps,
  switches: s.switches,
});

/** The report's fields every kind of scope shares. */
function reportOf(
  scope: ProofScope,
  bugs: readonly string[],
  x: Searched,
  failure: ProofReport["failure"],
  extra: Pick<ProofReport, "actors" | "setupOps" | "reduction" | "pruned">,
): ProofReport {
  // A seeded bug the scope does not list may leave it proved; one it lists must be found.
  const expected = bugs.some((b) => scope.refutes.includes(b)) || REFUTED_DESIGNS.includes(scope.name) ? "refuted" : "proved";
  return {
    scope: scope.name,
    description: scope.description,
    config: configToInput({ ...scope.config, bugs: [...bugs] }),
    ...extra,
    verdict: failure !== undefined ? "refuted" : x.exhaustive ? "proved" : "bounded",
    expected,
    schedules: x.runs,
    complete: x.runs - x.failing - extra.pruned,
    failing: x.failing,
    states: x.states,
    steps: x.steps,
    naive: x.naive,
    ms: Math.round(x.ms),
    properties: properties(x.stats),
    ...(failure === undefined ? {} : { failure }),
  };
}

function provenance(scope: ProofScope, bugs: readonly string[], found: string): Pick<Scenario, "provenance" | "expectedToFail"> {
  return {
    provenance: { suite: scope.name, bugs: [...bugs], found, fastCheck: fc.__version },
    ...(REFUTED_DESIGNS.includes(scope.name) && bugs.length === 0 ? { expectedToFail: scope.description } : {}),
  };
}

async function proveRace(scope: RaceScope, bugs: readonly string[], opts: ProveOptions): Promise<Proof> {
  const config = { ...scope.config, bugs: [...bugs] };
  const actors = scope.actors(bugs);
  const reduction = opts.reduction ?? "dpor";
  const x = await explore(config, actors, {
    reduction,
    ...(opts.maxRuns === undefined ? {} : { maxRuns: opts.maxRuns }),
    ...(scope.check === undefined ? {} : { check: scope.check }),
    ...(scope.checks === undefined ? {} : { checks: scope.checks }),
  });
  const s = x.shortest;
  const report = reportOf(scope, bugs, x, s === undefined ? undefined : failureOf(s.run.failure!, s), {
    actors: actors.filter((a) => a.name !== SETUP).map((a) => ({ name: a.name, ops: a.steps.map((o) => o.op) })),
    setupOps: actors.find((a) => a.name === SETUP)?.steps.length ?? 0,
    reduction,
    pruned: x.pruned,
  });
  if (s === undefined) return { report };
  const f = s.run.failure!;
  const counterexample: Scenario = {
    version: 1,
    name: `${scope.name}: ${f.property}`,
    description: f.detail,
    config: configToInput(config),
    actors: actors.map((a) => ({ name: a.name, steps: [...a.steps] })),
    schedule: trimmed(s.run.schedule),
    ...(scope.postcopy === undefined ? {} : { postcopy: postcopyInput(scope.postcopy) }),
    failure: {
      property: f.property,
      step: f.step,
      expected: f.expected,
      actual: f.actual,
      detail: f.detail,
      ...(f.actor === undefined ? {} : { actor: f.actor }),
    },
    ...provenance(scope, bugs, `prove (${reduction}): the shortest of ${x.failing} failing schedules`),
  };
  return { report, counterexample };
}

async function proveEvents(scope: EventScope, bugs: readonly string[], opts: ProveOptions): Promise<Proof> {
  const config = { ...scope.config, bugs: [...bugs] };
  const x = await exploreEvents(config, scope.sc, scope.alphabet, scope.length, opts.maxRuns);
  const s = x.shortest;
  const who = [...new Set(scope.alphabet.map(eventActor))];
  const report = reportOf(scope, bugs, x, s === undefined ? undefined : failureOf(s.failure.failure, s), {
    actors: who.map((name) => ({ name, ops: scope.alphabet.filter((e) => eventActor(e) === name).map(describeEvent) })),
    setupOps: setupOps(scope.sc).length,
    reduction: "none",
    pruned: 0,
  });
  if (s === undefined) return { report };
  const f = s.failure.failure;
  const counterexample: Scenario = {
    version: 1,
    name: `${scope.name}: ${f.property}`,
    description: `${f.detail} (post-copy checks run by props/postcopy/vmm.ts; replay runs the VMM on "postcopy" again)`,
    config: configToInput(config),
    steps: [...s.failure.ops],
    postcopy: postcopyInput(s.sc),
    failure: { property: f.property, step: f.step, expected: f.expected, actual: f.actual, detail: f.detail },
    ...provenance(scope, bugs, `prove (every event sequence): the shortest of ${x.failing} failing sequences`),
  };
  return { report, counterexample };
}

export async function proveScope(scope: ProofScope, opts: ProveOptions = {}): Promise<Proof> {
  const bugs = opts.bugs ?? [];
  return scope.kind === "race" ? proveRace(scope, bugs, opts) : proveEvents(scope, bugs, opts);
}
