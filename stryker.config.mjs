// Mutation testing of model/ and impl/ (npm run mutation). Incremental: reruns only what changed.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  vitest: { configFile: "vitest.mutation.config.ts", related: false },
  checkers: ["typescript"],
  tsconfigFile: "tsconfig.mutation.json",
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  mutate: ["model/**/*.ts", "impl/**/*.ts", "!impl/bugs.ts"],
  ignorePatterns: ["dist", "coverage", "reports", "conformance/native/build", "bench/build"],
  reporters: ["html", "json", "clear-text", "progress"],
  htmlReporter: { fileName: "reports/mutation/mutation.html" },
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
  incremental: true,
  incrementalFile: "reports/mutation/stryker-incremental.json",
  concurrency: 2,
  timeoutMS: 30000,
  thresholds: { high: 90, low: 80, break: null },
};
