// The fault-exit designs in the default check (docs/VARIANTS.md): the ones that keep every property run as suites
// of their own; the two that break one (eager-split, exit-on-missing) are run by `npm run docs:variants`, whose
// stored counterexamples test/variants.test.ts replays. Every design has its exit-progress race in
// props/progress-races.ts.
import type { FaultExitDesign } from "../schema/config.js";
import { PROGRESS_SUITES } from "./progress.js";
import { runConfig, type Suite } from "./suite.js";
import { SEQUENTIAL_SUITES, type SequentialSuite } from "./suites.js";

/** A sequential suite under another fault-exit design, with fewer runs: the same operations, the design's decisions. */
function underDesign(base: SequentialSuite, design: FaultExitDesign, runs: number): SequentialSuite {
  return {
    ...base,
    name: `${base.name}-${design}`,
    description: `${base.name} under the ${design} fault-exit design (docs/VARIANTS.md)`,
    config: runConfig(base.config, { seed: 0, runs: 0, faultExit: design }),
    runs,
    run: (opts) => base.run({ ...opts, faultExit: opts.faultExit ?? design }),
  };
}

const named = (suites: readonly Suite[], name: string): SequentialSuite => {
  const s = suites.find((x) => x.name === name);
  if (s === undefined || s.kind !== "sequential") throw new Error(`no sequential suite ${name}`);
  return s as SequentialSuite;
};

export const VARIANT_CHECK_SUITES: readonly SequentialSuite[] = [
  // Userfault v1 on arm64: turning USERFAULT off zaps the slot (no huge-page recovery there either).
  underDesign(named(SEQUENTIAL_SUITES, "kvm-hugetlb-arm64"), "userfault-v1", 100),
  // READ/WRITE in every memory-fault exit, with the VMM that obeys exits.
  underDesign(named(PROGRESS_SUITES, "exit-progress"), "memory-fault-rwx", 80),
  // arm64's GUP failures as memory-fault exits (the mapping made read-only at times), with the VMM that obeys exits.
  underDesign(named(PROGRESS_SUITES, "exit-progress-arm64"), "arm64-memory-fault-info", 60),
];
