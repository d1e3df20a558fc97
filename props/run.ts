// Running suites with fast-check: the check loop every sequential suite shares (stats, first failing run,
// shrinking), and the generated command lists of the operation-list suites.
import fc from "fast-check";
import { configToInput, type Config } from "../schema/config.js";
import type { Op } from "../schema/ops.js";
import { boundOps, contextOf, type BoundContext } from "./bounds.js";
import { ALL_CHECKS, Checker, PropertyFailure, type Checks } from "./checker.js";
import { opArbitrary } from "./generators.js";
import { Stats } from "./stats.js";
import { runConfig, type SuiteResult, type SuiteRunOptions } from "./suite.js";
import type { SequentialSuite } from "./suites.js";

/** What a suite's check gave: the result without the failure, and the shrunk failure if a run failed. */
export interface Checked<T> {
  readonly base: SuiteResult;
  readonly failed?: { readonly err: PropertyFailure; readonly runsToFailure: number; readonly details: fc.RunDetails<[T]> };
}

/**
 * Checks `body` on the values of `arbitrary`. The stats freeze at the first failing run, so the runs fast-check
 * spends shrinking are not counted.
 */
export async function checkSuite<T>(name: string, arbitrary: fc.Arbitrary<T>, opts: SuiteRunOptions, stats: Stats, body: (value: T) => Promise<void>): Promise<Checked<T>> {
  let runsToFailure: number | undefined;
  const property = fc.asyncProperty(arbitrary, async (value) => {
    stats.recordRun();
    opts.onRun?.(stats.runs);
    try {
      await body(value);
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
  const base = { suite: name, stats, durationMs, interrupted: details.interrupted };
  if (!details.failed) return { base };
  const err = details.errorInstance;
  if (!(err instanceof PropertyFailure)) throw err instanceof Error ? err : new Error(String(err));
  return { base, failed: { err, runsToFailure: runsToFailure ?? stats.runs, details } };
}

/** The suite's operations, and now and then one at bound-1, bound or bound+1 of a numeric bound (props/bounds.ts). */
function withBoundOps(ops: fc.Arbitrary<Op>, c: BoundContext): fc.Arbitrary<Op> {
  const bounds = boundOps(c);
  return bounds === undefined ? ops : fc.oneof({ weight: 30, arbitrary: ops }, { weight: 1, arbitrary: bounds });
}

class OpCommand implements fc.AsyncCommand<Checker, object> {
  constructor(
    readonly op: Op,
    private readonly afterStep?: (m: Checker) => Promise<void>,
  ) {}
  check(): boolean {
    return true;
  }
  async run(m: Checker): Promise<void> {
    await m.apply(this.op);
    await this.afterStep?.(m);
  }
  toString(): string {
    return JSON.stringify(this.op);
  }
}

/** A suite of generated operation lists run after a fixed setup. */
export interface OpListSuite {
  readonly name: string;
  readonly config: Config;
  readonly setup: readonly Op[];
  readonly maxCommands: number;
  /** What the suite's VMM does after each generated step (props/progress.ts: obey an exit and retry). */
  readonly afterStep?: (m: Checker, checks: Checks) => Promise<void>;
}

/** Runs a suite whose operations come from `ops`, given the config with the run's seeded bugs. */
export async function runOpListSuite(suite: OpListSuite, ops: (config: Config) => fc.Arbitrary<Op>, opts: SuiteRunOptions): Promise<SuiteResult> {
  const config = runConfig(suite.config, opts);
  const stats = new Stats();
  const checks = opts.checks ?? ALL_CHECKS;
  const commands = fc.commands([withBoundOps(ops(config), contextOf(config, suite.setup)).map((op) => new OpCommand(op, suite.afterStep && ((m) => suite.afterStep!(m, checks))))], { maxCommands: suite.maxCommands, size: "max" });
  const { base, failed } = await checkSuite(suite.name, commands, opts, stats, async (cmds) => {
    const checker = new Checker(config, checks, stats);
    await checker.applyAll(suite.setup);
    await fc.asyncModelRun(() => ({ model: checker, real: {} }), cmds);
  });
  if (failed === undefined) return base;
  const { err, details } = failed;
  const replayPath = /\/\*replayPath=['"](.*)['"]\*\//.exec(String(details.counterexample?.[0]))?.[1];
  const f = err.failure;
  return {
    ...base,
    failure: f,
    runsToFailure: failed.runsToFailure,
    shrunkLength: err.ops.length - suite.setup.length,
    counterexample: {
      version: 1,
      name: `${suite.name}: ${f.property}`,
      description: f.detail,
      config: configToInput(config),
      steps: [...err.ops],
      failure: { property: f.property, step: f.step, expected: f.expected, actual: f.actual, detail: f.detail },
      provenance: {
        suite: suite.name,
        seed: details.seed,
        ...(details.counterexamplePath === null ? {} : { path: details.counterexamplePath }),
        ...(replayPath === undefined ? {} : { replayPath }),
        fastCheck: fc.__version,
      },
    },
  };
}

export function runSequentialSuite(suite: SequentialSuite, opts: SuiteRunOptions): Promise<SuiteResult> {
  return runOpListSuite(suite, (config) => (suite.arbitrary ?? opArbitrary)(suite.layout, config), opts);
}
