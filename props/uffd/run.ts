// Running a sequential suite whose operations come from its own arbitrary (the uffd and post-copy suites aim at
// mappings and ranges, not at KVM slot layouts): the same checker, shrinking and result shape as props/run.ts.
import fc from "fast-check";
import { configToInput, type Config } from "../../schema/config.js";
import type { Op } from "../../schema/ops.js";
import { ALL_CHECKS, Checker, PropertyFailure } from "../checker.js";
import { Stats } from "../stats.js";
import type { Area, Suite, SuiteResult, SuiteRunOptions } from "../suite.js";

export interface OpSuite extends Suite {
  readonly kind: "sequential";
  readonly config: Config;
  readonly setup: readonly Op[];
  readonly ops: fc.Arbitrary<Op>;
  readonly maxCommands: number;
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

export async function runOpSuite(suite: OpSuite, opts: SuiteRunOptions): Promise<SuiteResult> {
  const config = { ...suite.config, bugs: opts.bugs ?? suite.config.bugs };
  const stats = new Stats();
  const checks = opts.checks ?? ALL_CHECKS;
  const commands = fc.commands([suite.ops.map((op) => new OpCommand(op))], { maxCommands: suite.maxCommands, size: "max" });
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
  const details = await fc.check(property, { seed: opts.seed, numRuns: opts.runs, ...(opts.timeBudgetMs === undefined ? {} : { interruptAfterTimeLimit: opts.timeBudgetMs }) });
  const durationMs = performance.now() - started;
  const base = { suite: suite.name, stats, durationMs, interrupted: details.interrupted };
  if (!details.failed) return base;
  const err = details.errorInstance;
  if (!(err instanceof PropertyFailure)) throw err instanceof Error ? err : new Error(String(err));
  const f = err.failure;
  return {
    ...base,
    failure: f,
    runsToFailure: runsToFailure ?? stats.runs,
    shrunkLength: err.ops.length - suite.setup.length,
    counterexample: {
      version: 1,
      name: `${suite.name}: ${f.property}`,
      description: f.detail,
      config: configToInput(config),
      steps: [...err.ops] as Op[],
      failure: { property: f.property, step: f.step, expected: f.expected, actual: f.actual, detail: f.detail },
      provenance: { suite: suite.name, seed: details.seed, ...(details.counterexamplePath === null ? {} : { path: details.counterexamplePath }), fastCheck: fc.__version },
    },
  };
}

export function opSuite(name: string, description: string, area: Area, config: Config, setup: readonly Op[], ops: fc.Arbitrary<Op>, runs: number, maxCommands = 40): OpSuite {
  const s: OpSuite = { name, description, kind: "sequential", area, config, setup, ops, runs, maxCommands, run: (opts) => runOpSuite(s, opts) };
  return s;
}
