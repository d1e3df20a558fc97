// Mutation testing of model/ and impl/ (npm run mutation, docs/MUTATION.md). Incremental: reruns only what changed.
// FAULTLINE_MUTATION_AREA=kvm|gmem|mm|uffd|util narrows it to model/<area> and impl/<area> (core: the files at the
// top of both), with its own reports and incremental file, so that a 2-core machine can do one area at a time.
const area = process.env.FAULTLINE_MUTATION_AREA;
const dir = area === undefined ? "reports/mutation" : `reports/mutation/${area}`;
const all = ["model/**/*.ts", "impl/**/*.ts", "!impl/bugs.ts"];

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  vitest: { configFile: "vitest.mutation.config.ts", related: false },
  checkers: ["typescript"],
  tsconfigFile: "tsconfig.mutation.json",
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  mutate: area === undefined ? all : area === "core" ? ["model/*.ts", "impl/*.ts", "!impl/bugs.ts"] : [`model/${area}/**/*.ts`, `impl/${area}/**/*.ts`],
  ignorePatterns: ["dist", "coverage", "reports", "conformance/native/build", "bench/build"],
  reporters: ["html", "json", "clear-text", "progress"],
  htmlReporter: { fileName: `${dir}/mutation.html` },
  jsonReporter: { fileName: `${dir}/mutation.json` },
  // Static mutants run at module load only: the rule tables (ids, citations, descriptions) and constants. With
  // isolate: false they would need a fresh module graph per mutant; they are reported as ignored, not survived.
  ignoreStatic: true,
  incremental: true,
  incrementalFile: `${dir}/stryker-incremental.json`,
  concurrency: 2,
  timeoutMS: 10000,
  thresholds: { high: 90, low: 80, break: null },
};
