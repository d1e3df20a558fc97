// Running a sequential suite with fast-check: generated command lists, shrunk on failure.
import fc from "fast-check";
import type { Op } from "../schema/ops.js";
import { ALL_CHECKS, Checker, PropertyFailure, type Checks, type Failure } from "./checker.js";
import { opArbitrary } from "./generators.js";
import { Stats } from "./stats.js";
import type { SequentialSuite } from "./suites.js";

export interface RunOptions {
  readonly seed: number;
  readonly runs: number;
  readonly checks?: Checks;
  /** Extra seeded bugs switched on in the impl for this run. */
  readonly bugs?: readonly string[];
  readonly timeBudgetMs?: number;
  readonly onRun?: (runsDone: number) => void;
}

export interface FoundFailure {
  readonly failure: Failure;
  /** Setup steps followed by the shrunk commands. */
  readonly ops: readonly Op[];
  readonly setupLength: number;
  readonly seed: number;
  readonly path: string | undefined;
  readonly replayPath: string | undefined;
}

export interface SuiteResult {
  readonly suite: string;
  readonly stats: Stats;
  readonly durationMs: number;
  readonly failure?: FoundFailure;
  /** Runs until the first failure (before shrinking), when one was found. */
  readonly runsToFailure?: number;
  readonly interrupted: boolean;
}

class OpCommand implements fc.AsyncCommand<Checker, object> {
  constructor(readonly op: Op) {}
  check(): boolean {
    return true;
  }
  async run(m: Checker): Promise<void> {
    await m.apply(this.op);
  }
  toString(): string {
    return JSON.stringify(this.op);
  }
}

export async function runSequentialSuite(suite: SequentialSuite, opts: RunOptions): Promise<SuiteResult> {
  const config = { ...suite.config, bugs: opts.bugs ?? suite.config.bugs };
  const stats = new Stats();
  const checks = opts.checks ?? ALL_CHECKS;
  const commands = fc.commands([opArbitrary(suite.layout, config).map((op) => new OpCommand(op))], { maxCommands: suite.maxCommands, size: "max" });
  let runsToFailure: number | undefined;
  const property = fc.asyncProperty(commands, async (cmds) => {
    stats.recordRun();
    opts.onRun?.(stats.runs);
    const checker = new Checker(config, checks, stats);
    try {
      await checker.applyAll(suite.setup);
      await fc.asyncModelRun(() => ({ model: checker, real: {} }), cmds);
    } catch (e) {
      if (!stats.frozen) runsToFailure = stats.runs;
      stats.frozen = true;
      throw e;
    }
  });
  const started = performance.now();
  const details = await fc.check(property, {
    seed: opts.seed,
    numRuns: opts.runs,
    ...(opts.timeBudgetMs === undefined ? {} : { interruptAfterTimeLimit: opts.timeBudgetMs }),
  });
  const durationMs = performance.now() - started;
  const base = { suite: suite.name, stats, durationMs, interrupted: details.interrupted };
  if (!details.failed) return base;
  const err = details.errorInstance;
  if (!(err instanceof PropertyFailure)) throw err instanceof Error ? err : new Error(String(err));
  const replayPath = /\/\*replayPath=['"](.*)['"]\*\//.exec(String(details.counterexample?.[0]))?.[1];
  return {
    ...base,
    runsToFailure: runsToFailure ?? stats.runs,
    failure: { failure: err.failure, ops: err.ops, setupLength: suite.setup.length, seed: details.seed, path: details.counterexamplePath ?? undefined, replayPath },
  };
}
