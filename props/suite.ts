// What every suite offers the CLI and the tests, sequential or concurrent.
import type { Config, FaultExitDesign } from "../schema/config.js";
import type { Scenario } from "../schema/scenario.js";
import type { Checks, Failure } from "./checker.js";
import type { Stats } from "./stats.js";

export type Area = "kvm" | "gmem" | "uffd" | "postcopy";

export interface SuiteRunOptions {
  readonly seed: number;
  readonly runs: number;
  readonly checks?: Checks;
  /** Seeded bugs switched on in the impl for this run (impl/bugs.ts). */
  readonly bugs?: readonly string[];
  /** The fault-exit design to run the suite under (docs/VARIANTS.md); the suite's own by default. */
  readonly faultExit?: FaultExitDesign;
  readonly timeBudgetMs?: number;
  /** Model steps the linearizability search of a concurrent suite may take per history segment. */
  readonly searchBudget?: number;
  readonly onRun?: (runsDone: number) => void;
}

export interface SuiteResult {
  readonly suite: string;
  readonly stats: Stats;
  readonly durationMs: number;
  readonly interrupted: boolean;
  readonly failure?: Failure;
  /** The shrunk failure as a replayable scenario file (no seed needed). */
  readonly counterexample?: Scenario;
  /** Runs until the first failure, before shrinking. */
  readonly runsToFailure?: number;
  /** Commands (or actor steps) past the setup in the shrunk counterexample. */
  readonly shrunkLength?: number;
}

export interface Suite {
  readonly name: string;
  readonly description: string;
  readonly kind: "sequential" | "concurrent";
  readonly area: Area;
  /** Runs in the default check. */
  readonly runs: number;
  run(opts: SuiteRunOptions): Promise<SuiteResult>;
}

/** A suite's configuration for one run: its seeded bugs and fault-exit design as the options say. */
export const runConfig = (config: Config, opts: SuiteRunOptions): Config => ({
  ...config,
  bugs: opts.bugs ?? config.bugs,
  faultExit: opts.faultExit ?? config.faultExit,
});
