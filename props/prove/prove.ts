// One proof attempt: every interleaving of a scope, and what it showed: a proof (with the counts a reader needs to
// judge it), a refutation with the shortest failing schedule as a counterexample scenario, or a bounded search
// that is neither.
import fc from "fast-check";
import { configToInput } from "../../schema/config.js";
import type { ProofReport } from "../../schema/prove-report.js";
import type { Scenario } from "../../schema/scenario.js";
import { SETUP } from "../concurrent/harness.js";
import { explore, type Exploration, type Reduction } from "./explore.js";
import { REFUTED_DESIGNS, type ProofScope } from "./scopes.js";

export interface ProveOptions {
  readonly bugs?: readonly string[];
  readonly reduction?: Reduction;
  readonly maxRuns?: number;
}

export interface Proof {
  readonly report: ProofReport;
  readonly counterexample?: Scenario;
}

/** The invariants and the linearizability check ("linearizable"), each with its evaluations and non-vacuous ones. */
function properties(stats: Map<string, { checked: number; nonVacuous: number }>): ProofReport["properties"] {
  return [...stats.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, c]) => ({ name, checked: c.checked, nonVacuous: c.nonVacuous, proved: c.nonVacuous > 0 }));
}

const failureOf = (s: NonNullable<Exploration["shortest"]>): NonNullable<ProofReport["failure"]> => ({
  property: s.run.failure!.property,
  detail: s.run.failure!.detail,
  steps: s.steps,
  switches: s.switches,
});

/** How many times fewer runs than the naive count, to two places. */
export const reductionFactor = (p: ProofReport): string => (p.schedules === 0 ? "-" : (p.naive / p.schedules).toFixed(2));

/** The decisions that matter: trailing zeros are what an exhausted schedule does anyway. */
function trimmed(schedule: readonly number[]): number[] {
  let n = schedule.length;
  while (n > 0 && schedule[n - 1] === 0) n--;
  return schedule.slice(0, n);
}

export async function proveScope(scope: ProofScope, opts: ProveOptions = {}): Promise<Proof> {
  const bugs = opts.bugs ?? [];
  const config = { ...scope.config, bugs: [...bugs] };
  const actors = scope.actors(bugs);
  const reduction = opts.reduction ?? "dpor";
  const x = await explore(config, actors, {
    reduction,
    ...(opts.maxRuns === undefined ? {} : { maxRuns: opts.maxRuns }),
    ...(scope.check === undefined ? {} : { check: scope.check }),
  });
  const verdict = x.shortest !== undefined ? "refuted" : x.exhaustive ? "proved" : "bounded";
  // A seeded bug the scope does not list may leave it proved; one it lists must be found.
  const expected = bugs.some((b) => scope.refutes.includes(b)) || REFUTED_DESIGNS.includes(scope.name) ? "refuted" : "proved";
  const s = x.shortest;
  const report: ProofReport = {
    scope: scope.name,
    description: scope.description,
    config: configToInput(config),
    actors: actors.filter((a) => a.name !== SETUP).map((a) => ({ name: a.name, ops: a.steps.map((o) => o.op) })),
    setupOps: actors.find((a) => a.name === SETUP)?.steps.length ?? 0,
    reduction,
    verdict,
    expected,
    schedules: x.runs,
    complete: x.complete,
    pruned: x.pruned,
    failing: x.failing,
    states: x.states,
    steps: x.steps,
    naive: x.naive,
    ms: Math.round(x.ms),
    properties: properties(x.stats.invariants),
    ...(s === undefined ? {} : { failure: failureOf(s) }),
  };
  if (s === undefined) return { report };
  const f = s.run.failure!;
  const counterexample: Scenario = {
    version: 1,
    name: `${scope.name}: ${f.property}`,
    description: f.detail,
    config: configToInput(config),
    actors: actors.map((a) => ({ name: a.name, steps: [...a.steps] })),
    schedule: trimmed(s.run.schedule),
    failure: {
      property: f.property,
      step: f.step,
      expected: f.expected,
      actual: f.actual,
      detail: f.detail,
      ...(f.actor === undefined ? {} : { actor: f.actor }),
    },
    provenance: {
      suite: scope.name,
      bugs: [...bugs],
      found: `prove (${reduction}): the shortest of ${x.failing} failing schedules`,
      fastCheck: fc.__version,
    },
    ...(REFUTED_DESIGNS.includes(scope.name) && bugs.length === 0 ? { expectedToFail: scope.description } : {}),
  };
  return { report, counterexample };
}
