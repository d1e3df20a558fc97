// A check's runs, handed out in check order and merged back in run order, whoever executes them (this thread or
// a pool of workers). Every run of every suite is one fast-check run with the seed derived from check seed, suite
// and run index, computed as the run starts: a plan of any size starts at once and holds only the runs in flight.
// A suite ends at its first failing run, dropping later runs already under way, so the report does not depend on
// how many executed the runs.
import type { TimeBudget } from "../props/budget.js";
import { Stats } from "../props/stats.js";
import type { Suite, SuiteResult, SuiteRunOptions } from "../props/suite.js";
import { runSeed, shardRuns, type Shard, type ShardRuns } from "./shard.js";

/** What a suite's runs gave, before its counterexample is stored. */
export interface SuiteRuns {
  readonly suite: Suite;
  /** Runs this shard was to execute. */
  readonly planned: number;
  readonly stats: Stats;
  readonly durationMs: number;
  /** The time budget stopped it before its planned runs. */
  readonly interrupted: boolean;
  readonly failed?: { readonly result: SuiteResult; readonly run: number };
}

/** One run to execute: run k of a suite, the shard's position-th. */
export interface RunTask {
  readonly suite: Suite;
  readonly seed: number;
  readonly index: number;
  readonly position: number;
}

export interface PlanHooks {
  /** Progress of the first suite not yet finished. */
  onRun(suite: Suite, done: number, total: number, elapsedMs: number): void;
  /** Called once per suite, in check order. */
  onSuite(r: SuiteRuns): void;
}

export interface PlanOptions {
  readonly seed: number;
  /** Runs per suite; each suite's own count when undefined. */
  readonly runs?: number;
  readonly shard?: Shard;
  readonly budget?: TimeBudget;
}

/** A suite's progress: results are merged into `stats` as soon as every earlier run has been merged. */
class SuiteProgress {
  readonly stats = new Stats();
  durationMs = 0;
  merged = 0;
  dispatched = 0;
  /** No more runs will be started: the time budget is spent. */
  closed = false;
  /** Position of the earliest failing run known so far. */
  firstFailure = Infinity;
  failed: SuiteRuns["failed"];
  readonly pending = new Map<number, SuiteResult>();

  constructor(
    readonly suite: Suite,
    readonly runs: ShardRuns,
  ) {}

  /** Runs wanted: up to the first failure, or all. */
  get wanted(): number {
    return Math.min(this.runs.length, this.firstFailure + 1);
  }

  get finished(): boolean {
    return this.failed !== undefined || this.merged === this.runs.length || (this.closed && this.merged === this.dispatched);
  }

  result(): SuiteRuns {
    const base = { suite: this.suite, planned: this.runs.length, stats: this.stats, durationMs: this.durationMs };
    return this.failed === undefined
      ? { ...base, interrupted: this.merged < this.runs.length }
      : { ...base, interrupted: false, failed: this.failed };
  }

  /** Merges the contiguous results from `merged` on, up to and including a failure. */
  absorb(): void {
    for (let r = this.pending.get(this.merged); r !== undefined && this.failed === undefined; r = this.pending.get(this.merged)) {
      this.pending.delete(this.merged);
      this.stats.merge(r.stats);
      this.durationMs += r.durationMs;
      if (r.failure !== undefined) this.failed = { result: r, run: this.runs.at(this.merged) };
      this.merged++;
    }
    if (this.failed !== undefined) this.pending.clear();
  }
}

export class CheckPlan {
  private readonly suites: SuiteProgress[];
  private cursor = 0;
  private reported = 0;
  /** Runs in all, over every suite. */
  readonly size: number;

  constructor(
    suites: readonly Suite[],
    private readonly o: PlanOptions,
    private readonly hooks: PlanHooks,
  ) {
    this.suites = suites.map((s) => new SuiteProgress(s, shardRuns(o.runs ?? s.runs, o.shard)));
    this.size = this.suites.reduce((n, p) => n + p.runs.length, 0);
    this.report();
  }

  get done(): boolean {
    return this.reported === this.suites.length;
  }

  /**
   * The next run in check order, or undefined when none is left to start. Once the budget is spent, each suite
   * still gets one run: a check that ran nothing of a suite would report it as passing.
   */
  next(): RunTask | undefined {
    this.o.budget?.start();
    for (; this.cursor < this.suites.length; this.cursor++) {
      const p = this.suites[this.cursor]!;
      if (p.closed || p.dispatched >= p.wanted) continue;
      if (p.dispatched > 0 && this.o.budget?.expired === true) {
        p.closed = true;
        this.report();
        continue;
      }
      const position = p.dispatched++;
      const index = p.runs.at(position);
      return { suite: p.suite, seed: runSeed(this.o.seed, p.suite.name, index), index, position };
    }
    return undefined;
  }

  /** Takes a run's result; finished suites are reported in check order. */
  complete(task: RunTask, r: SuiteResult): void {
    const p = this.suites.find((s) => s.suite === task.suite)!;
    if (p.failed !== undefined || task.position >= p.wanted) return;
    if (r.failure !== undefined) p.firstFailure = Math.min(p.firstFailure, task.position);
    p.pending.set(task.position, r);
    p.absorb();
    this.report();
  }

  private report(): void {
    for (; this.reported < this.suites.length; this.reported++) {
      const p = this.suites[this.reported]!;
      if (!p.finished) {
        this.hooks.onRun(p.suite, p.merged, p.runs.length, p.durationMs);
        return;
      }
      this.hooks.onSuite(p.result());
    }
  }
}

/** What every run of a check is given besides its seed, whoever executes it. */
export type RunSettings = Pick<SuiteRunOptions, "bugs" | "searchBudget" | "faultExit">;

/** Executes the plan in this thread, one run after the other. */
export async function runInProcess(plan: CheckPlan, settings: RunSettings = {}): Promise<void> {
  for (let t = plan.next(); t !== undefined; t = plan.next()) {
    plan.complete(t, await t.suite.run({ ...settings, seed: t.seed, runs: 1 }));
  }
}
