// The suites Stryker runs against each mutant: the example tests and the property suites at reduced runs,
// without the real-kernel conformance tests and the child-process CLI tests.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/conformance*.test.ts", "test/cli*.test.ts"],
    env: { FAULTLINE_RUN_SCALE: "0.2" },
    testTimeout: 120_000,
  },
});
