// The tests Stryker runs against each mutant (npm run mutation, docs/MUTATION.md): the errno, example and kill
// tests, the regression corpus, and every suite briefly (test/strength-suites.test.ts at FAULTLINE_RUN_SCALE).
// Cheap files run first so that most mutants die in milliseconds (Stryker bails at the first failure). Left
// out: the child-process CLI tests, the real-kernel conformance tests, and the long seeded-bug and race
// tests, whose invariants the kill tests check directly.
import type { TestSpecification } from "vitest/node";
import { BaseSequencer } from "vitest/node";
import { defineConfig } from "vitest/config";

const ORDER = [
  "errno-",
  "invariants-",
  "kill-",
  "gmem-examples",
  "gmem-huge-mappings",
  "gmem-convert-edges",
  "gmem-file-edges",
  "uffd-register-edges",
  "uffd-ioctl-edges",
  "kvm-edges",
  "huge-mappings",
  "model-edges",
  "mm-",
  "uffd-2021-differences",
  "alternatives",
  "linearizability",
  "race-exhaustive",
  "bitmap",
  "rangemap",
  "core-edges",
  "pagedata",
  "regression",
  "strength-suites",
];

const rank = (spec: TestSpecification): number => {
  const i = ORDER.findIndex((p) => spec.moduleId.includes(`/test/${p}`));
  return i < 0 ? ORDER.length : i;
};

class CheapFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return [...files].sort((a, b) => rank(a) - rank(b) || a.moduleId.localeCompare(b.moduleId));
  }
}

export default defineConfig({
  test: {
    include: ORDER.map((p) => `test/${p}*.test.ts`),
    // Every step of every run checks the incremental abstraction against a rebuild (props/checker.ts).
    env: { FAULTLINE_RUN_SCALE: "0.25", FAULTLINE_CROSS_CHECK: "1" },
    testTimeout: 120_000,
    sequence: { sequencer: CheapFirst },
    // Mutants are switched at run time: the modules need not be loaded again for every test file and mutant.
    isolate: false,
  },
});
