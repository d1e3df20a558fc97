// Sequential refinement, one op at a time: the model's step and the impl's exec must give the same outcome
// and the same abstract state, and every invariant must hold on the impl's abstract state.
import { firstDifference, INVARIANTS, initial, step, type State } from "../model/index.js";
import { canonical } from "../model/canonical.js";
import type { CostCounts } from "../impl/costs.js";
import { createSystem, type System } from "../impl/system.js";
import type { Config } from "../schema/config.js";
import type { Op } from "../schema/ops.js";
import type { Outcome } from "../schema/outcome.js";
import { boundSamples } from "./bounds.js";
import { crossCheckEvery } from "./budget.js";
import { FeatureMemo, featuresOf } from "./features.js";
import { sameOutcome } from "./outcomes.js";
import { sameState, stateHash } from "./state-compare.js";
import type { Stats } from "./stats.js";

/** Which checks run: refinement (outcomes and abstract states), and which invariants (all when true). */
export interface Checks {
  readonly refinement: boolean;
  readonly invariants: boolean | readonly string[];
}

export const ALL_CHECKS: Checks = { refinement: true, invariants: true };

/** Whether `checks` evaluates the invariant `name`. */
export const checksInvariant = (checks: Checks, name: string): boolean =>
  checks.invariants === true || (Array.isArray(checks.invariants) && checks.invariants.includes(name));

export interface Failure {
  readonly property: string;
  /** Index in `ops` of the step that failed. */
  readonly step: number;
  readonly expected: unknown;
  readonly actual: unknown;
  readonly detail: string;
}

/** Thrown by a failing step; carries the steps that led to it. */
export class PropertyFailure extends Error {
  constructor(
    readonly failure: Failure,
    readonly ops: readonly Op[],
  ) {
    super(`${failure.property} failed at step ${failure.step} (${ops[failure.step]?.op}): ${failure.detail}`);
  }
}

export interface StepRecord {
  readonly op: Op;
  readonly model: Outcome;
  readonly impl: Outcome;
  readonly fired: readonly string[];
}

export class Checker {
  private model: State;
  private implState: State;
  private readonly system: System;
  readonly ops: Op[] = [];
  readonly trace: StepRecord[] = [];
  /** What the declared features remember across this run's steps (props/features.ts). */
  private readonly memo = new FeatureMemo();
  private readonly crossCheckEvery = crossCheckEvery();
  /** The costs already handed to stats: each step adds what it cost (impl/costs.ts). */
  private costsSeen: CostCounts | undefined;
  /** The implementation's abstract state before the last step. */
  private implBefore: State;

  constructor(
    config: Config,
    private readonly checks: Checks = ALL_CHECKS,
    private readonly stats?: Stats,
    makeSystem: (c: Config) => System = createSystem,
  ) {
    this.model = initial(config);
    this.system = makeSystem(config);
    this.implState = this.system.abstract();
    this.implBefore = this.implState;
  }

  /** The implementation's abstract state before and after the last step. */
  get implementationStates(): { readonly before: State; readonly after: State } {
    return { before: this.implBefore, after: this.implState };
  }

  /** The model's state after the last step: what the VMM knows of its own memslots. */
  get modelState(): State {
    return this.model;
  }

  private fail(property: string, expected: unknown, actual: unknown, detail: string): never {
    throw new PropertyFailure({ property, step: this.ops.length - 1, expected, actual, detail }, [...this.ops]);
  }

  /** Runs one side of the step; a throw is a failure of the "exception" property, not a crash of the run. */
  private async guarded<T>(side: "model" | "impl", op: Op, f: () => T | Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      if (e instanceof PropertyFailure) throw e;
      const message = e instanceof Error ? e.message : String(e);
      return this.fail("exception", "no exception", message, `the ${side} threw while executing ${op.op}: ${message}`);
    }
  }

  async apply(op: Op): Promise<void> {
    this.ops.push(op);
    const pre = this.implState;
    this.implBefore = pre;
    const r = await this.guarded("model", op, () => step(this.model, op));
    const outcome = await this.guarded("impl", op, () => this.system.exec(op));
    const post = await this.guarded("impl", op, () => this.system.abstract());
    // The incremental abstraction against one rebuilt from nothing: a missed version bump would otherwise show the
    // last step's part, and could hide a bug of the implementation. Before every other check, so it is named first.
    if (this.system.abstractAfresh !== undefined && this.ops.length % this.crossCheckEvery === 0) {
      const afresh = this.system.abstractAfresh();
      if (!sameState(afresh, post)) {
        const d = firstDifference(canonical(afresh), canonical(post))!;
        this.fail("abstraction.incremental", d.left, d.right, `the incremental abstraction differs from a rebuild at ${d.path}`);
      }
    }
    this.trace.push({ op, model: r.outcome, impl: outcome, fired: r.fired });
    this.stats?.recordStep(r.fired);
    if (this.stats !== undefined) {
      const now = this.costs();
      if (now !== undefined) this.stats.recordCosts(now, this.costsSeen);
      this.costsSeen = now;
      this.stats.recordBounds(boundSamples(this.model, op, r));
      this.stats.recordFeatures(featuresOf({ pre: this.model, op, r }, this.memo));
    }
    for (const inv of INVARIANTS) {
      if (!checksInvariant(this.checks, inv.name)) continue;
      const v = inv.kind === "state" ? inv.check(post) : inv.check(pre, op, outcome, post);
      this.stats?.recordInvariant(inv.name, v.nonVacuous);
      if (!v.holds) this.fail(inv.name, "holds", "violated", v.detail ?? inv.description);
    }
    if (this.checks.refinement) {
      if (!sameOutcome(r.outcome, outcome)) this.fail("refinement.outcome", r.outcome, outcome, `model and impl disagree on the outcome of ${op.op}`);
      if (!sameState(r.state, post)) {
        const d = firstDifference(canonical(r.state), canonical(post))!;
        this.fail("refinement.state", d.left, d.right, `abstract states differ at ${d.path}`);
      }
    }
    this.stats?.recordStateHash(stateHash(r.state));
    this.model = r.state;
    this.implState = post;
  }

  /** What the run so far cost the implementation, when it counts (impl/costs.ts). */
  costs(): CostCounts | undefined {
    return this.system.costs?.();
  }

  async applyAll(ops: readonly Op[]): Promise<void> {
    for (const op of ops) await this.apply(op);
  }
}
