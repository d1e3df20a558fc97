// The document `faultline check --json` prints, read back by `faultline merge` (docs/CLI.md): one codec, so a
// shard's report that was cut short or edited is one line naming the file and the field, like a scenario.
import { isLeft } from "fp-ts/lib/Either.js";
import * as t from "io-ts";
import { Count, intIn, strict, Text } from "./codecs.js";
import { describeErrors, FileError } from "./report.js";
import { parseFile } from "./scenario.js";

const Counts = t.record(t.string, strict("invariant count", { checked: Count, nonVacuous: Count }, {}));

const Failure = strict(
  "failure",
  { property: Text, step: Count, expected: t.unknown, actual: t.unknown, detail: Text, run: Count },
  { actor: t.string },
);

export const SuiteReportCodec = strict(
  "suite report",
  {
    suite: t.string,
    plannedRuns: Count,
    runs: Count,
    commands: Count,
    /** History segments the linearizability search could not decide within its budget. */
    undecided: Count,
    /** A race suite's longest run in schedule steps past its setup (0 for the others). */
    longestRun: Count,
    distinctStates: Count,
    invariants: Counts,
    rules: t.record(t.string, Count),
    /** Per bounded rule: accepted at bound-1, bound, bound+1, then refused at the same three (props/bounds.ts). */
    bounds: t.record(t.string, t.array(Count)),
    /** How often each declared state feature held (props/features.ts). */
    features: t.record(t.string, Count),
    durationMs: Count,
    interrupted: t.boolean,
    failure: t.union([Failure, t.null]),
    counterexample: t.union([strict("counterexample", { path: Text, isNew: t.boolean }, {}), t.null]),
  },
  {
    /** Why the counterexample is not where it was to be written. */
    writeError: Text,
    /** A shard's distinct abstract states, for faultline merge to count their union (cli/report.ts encodeStates). */
    states: t.string,
    /** The cost model's counters summed over the suite's runs (impl/costs.ts, the post-copy VMM's own). */
    costs: t.record(t.string, Count),
  },
);

export const CheckReportCodec = strict(
  "check report",
  {
    faultline: t.string,
    seed: intIn("seed", 0, 2 ** 32 - 1),
    shard: t.union([strict("shard", { index: intIn("shard index", 1, 2 ** 31), count: intIn("shard count", 1, 2 ** 31) }, {}), t.null]),
    bugs: t.array(t.string),
    /** --runs, or null for each suite's own count. */
    runs: t.union([Count, t.null]),
    timeBudget: t.union([strict("time budget", { seconds: Count, stopped: t.boolean }, {}), t.null]),
    /** --search-budget: model steps per history segment, the default when not given. */
    searchBudget: intIn("search budget", 1, Number.MAX_SAFE_INTEGER),
    /** The options that narrowed the check; coverage minimums hold only for a check narrowed by none (or --shard, merged). */
    narrowed: t.array(t.string),
    durationMs: Count,
    failures: Count,
    undecided: Count,
    suites: t.array(SuiteReportCodec),
    invariants: Counts,
    counterexamples: t.array(t.string),
    coverage: strict("coverage", { enforced: t.boolean, lines: t.array(t.unknown), unmet: t.array(t.string) }, {}),
  },
  {},
);

export type SuiteReportDoc = t.TypeOf<typeof SuiteReportCodec>;
export type CheckReportDoc = t.TypeOf<typeof CheckReportCodec>;

/** Decodes a report's text; every problem is a FileError naming the file and the field. */
export function decodeCheckReport(file: string, text: string): CheckReportDoc {
  const r = CheckReportCodec.decode(parseFile(file, text));
  if (isLeft(r)) {
    const d = describeErrors(r.left);
    throw new FileError(file, d.path, `${d.message}${d.others > 0 ? ` (+${d.others} more)` : ""}`);
  }
  return r.right;
}
