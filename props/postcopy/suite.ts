// The sequential post-copy suite: generated scenarios run by the reference VMM through model and implementation,
// with the kernel invariants, refinement and the post-copy checks; a failure shrinks to a short scenario.
import fc from "fast-check";
import { PRESETS, configToInput, type Config } from "../../schema/config.js";
import type { Op } from "../../schema/ops.js";
import { ALL_CHECKS } from "../checker.js";
import { checkSuite } from "../run.js";
import { Stats } from "../stats.js";
import { runConfig, type Suite, type SuiteResult, type SuiteRunOptions } from "../suite.js";
import { setupFor } from "./backing.js";
import { postcopyInput, scenarioArbitrary, type PostcopyScenario } from "./scenario.js";
import { Vmm, type LogEntry } from "./vmm.js";

export interface PostcopyResult extends SuiteResult {
  /** The shrunk failing scenario and what each actor did in it (for the race diagram). */
  readonly scenario?: PostcopyScenario;
  readonly log?: readonly LogEntry[];
}

export interface PostcopySuite extends Suite {
  readonly config: Config;
  readonly arbitrary: fc.Arbitrary<PostcopyScenario>;
  run(opts: SuiteRunOptions): Promise<PostcopyResult>;
}

export async function runPostcopySuite(suite: PostcopySuite, opts: SuiteRunOptions): Promise<PostcopyResult> {
  const config = runConfig(suite.config, opts);
  const stats = new Stats();
  const checks = opts.checks ?? ALL_CHECKS;
  let last: { sc: PostcopyScenario; log: readonly LogEntry[]; ops: readonly Op[] } | undefined;
  const { base, failed } = await checkSuite(suite.name, suite.arbitrary, opts, stats, async (sc) => {
    const vmm = new Vmm(config, sc, checks, stats);
    try {
      await vmm.run();
    } catch (e) {
      last = { sc, log: vmm.log, ops: [...vmm.checker.ops] };
      throw e;
    }
  });
  if (failed === undefined) return base;
  const { err, details } = failed;
  const sc = details.counterexample![0];
  const setupLength = setupFor(sc, config.bugs).length;
  const f = err.failure;
  return {
    ...base,
    failure: f,
    runsToFailure: failed.runsToFailure,
    shrunkLength: err.ops.length - setupLength,
    scenario: sc,
    ...(last === undefined ? {} : { log: last.log }),
    counterexample: {
      version: 1,
      name: `${suite.name}: ${f.property}`,
      description: `${f.detail} (post-copy checks run by props/postcopy/vmm.ts; the steps replay the kernel side)`,
      config: configToInput(config),
      steps: [...err.ops],
      postcopy: postcopyInput(sc),
      failure: { property: f.property, step: f.step, expected: f.expected, actual: f.actual, detail: f.detail },
      provenance: { suite: suite.name, seed: details.seed, bugs: [...config.bugs], ...(details.counterexamplePath === null ? {} : { path: details.counterexamplePath }), fastCheck: fc.__version },
    },
  };
}

export function postcopySuite(name: string, description: string, arbitrary: fc.Arbitrary<PostcopyScenario>, runs: number): PostcopySuite {
  const s: PostcopySuite = { name, description, kind: "sequential", area: "postcopy", config: PRESETS.default, arbitrary, runs, run: (opts) => runPostcopySuite(s, opts) };
  return s;
}

export const POSTCOPY_SUITES: readonly PostcopySuite[] = [
  postcopySuite(
    "postcopy",
    "post-copy restore/migration end to end: guest_memfd + KVM Userfault for vCPUs, uffd MINOR/MISSING + CONTINUE for VMM threads, background fetcher racing demand faults (op-level interleavings)",
    scenarioArbitrary({ maxPages: 4, maxEvents: 24, threads: 2, guestWrites: true }),
    600,
  ),
];
