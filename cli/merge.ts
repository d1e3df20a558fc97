// faultline merge REPORT.json...: the --json reports of the shards of one check as the report of the whole
// check, with the coverage minimums enforced on the union: what a CI matrix of `check --shard I/N` jobs needs.
import { Stats } from "../props/stats.js";
import { decodeCheckReport, type CheckReportDoc } from "../schema/check-report.js";
import { stringifyExact } from "../schema/json.js";
import { FileError } from "../schema/report.js";
import { UsageError, parseArgs, type OptionSpec } from "./args.js";
import { outputFile, readText } from "./files.js";
import { writeJunit } from "./junit.js";
import { buildReport, decodeStates, exitStatus, printReport, type CheckReport, type SuiteOutcome } from "./report.js";
import { VERSION } from "./version.js";

const COMMAND = "merge";

export const OPTIONS: OptionSpec = { "--json": "flag", "--junit": "value" };

/** A shard's report: a full check's is tens of kilobytes plus its states, about 9 bytes each. */
const MAX_REPORT_BYTES = 256 * 2 ** 20;

interface Shard {
  readonly file: string;
  readonly doc: CheckReportDoc;
}

/** The fields every shard of one check shares, and how each reads in a message. */
const SAME: readonly [keyof CheckReportDoc, (d: CheckReportDoc) => unknown][] = [
  ["seed", (d) => d.seed],
  ["bugs", (d) => d.bugs],
  ["runs", (d) => d.runs],
  ["timeBudget", (d) => d.timeBudget?.seconds ?? null],
  ["searchBudget", (d) => d.searchBudget],
  ["narrowed", (d) => d.narrowed],
  ["suites", (d) => d.suites.map((s) => s.suite)],
];

/** Refuses reports that are not the shards of one check, with one line naming the file and the field. */
function checkShards(shards: readonly Shard[]): number {
  const first = shards[0]!;
  const seen = new Map<number, string>();
  for (const { file, doc } of shards) {
    if (doc.faultline !== VERSION)
      throw new FileError(file, "faultline", `expected ${VERSION} (this build), found ${JSON.stringify(doc.faultline)}`);
    if (doc.shard === null)
      throw new FileError(
        file,
        "shard",
        "expected the report of one shard (faultline check --shard I/N --json), found an unsharded check's",
      );
    if (doc.shard.count !== first.doc.shard!.count)
      throw new FileError(file, "shard.count", `expected ${first.doc.shard!.count} (as in ${first.file}), found ${doc.shard.count}`);
    for (const [field, value] of SAME) {
      const want = JSON.stringify(value(first.doc));
      const found = JSON.stringify(value(doc));
      if (found !== want)
        throw new FileError(file, field, `expected ${want} (as in ${first.file}), found ${found}: not a shard of the same check`);
    }
    const twin = seen.get(doc.shard.index);
    if (twin !== undefined) throw new FileError(file, "shard", `shard ${doc.shard.index}/${doc.shard.count} is also ${twin}`);
    seen.set(doc.shard.index, file);
  }
  const count = first.doc.shard!.count;
  const missing = Array.from({ length: count }, (_, i) => i + 1).filter((i) => !shards.some((s) => s.doc.shard!.index === i));
  if (missing.length > 0)
    throw new UsageError(
      COMMAND,
      `shard(s) ${missing.map((i) => `${i}/${count}`).join(", ")} missing: give the reports of all ${count} shards`,
    );
  return count;
}

function statsOf(file: string, doc: CheckReportDoc, i: number): Stats {
  const s = doc.suites[i]!;
  const states = s.states === undefined ? undefined : decodeStates(s.states);
  if (states === undefined || states.length !== s.distinctStates) {
    throw new FileError(file, `suites[${i}].states`, `expected the encoded distinct states (${s.distinctStates}) a shard's report carries`);
  }
  return Stats.fromData({
    runs: s.runs,
    commands: s.commands,
    undecided: s.undecided,
    longestRun: s.longestRun,
    states,
    invariants: Object.entries(s.invariants),
    rules: Object.entries(s.rules),
    bounds: Object.entries(s.bounds),
    features: Object.entries(s.features),
    costs: Object.entries(s.costs ?? {}),
  });
}

/** The unsharded check's report: counts added, distinct states united, the earliest failing run of each suite. */
export function mergeReports(shards: readonly Shard[]): CheckReport {
  checkShards(shards);
  const ordered = [...shards].sort((a, b) => a.doc.shard!.index - b.doc.shard!.index);
  const first = ordered[0]!.doc;
  const outcomes: SuiteOutcome[] = first.suites.map((s, i) => {
    const stats = new Stats();
    for (const { file, doc } of ordered) stats.merge(statsOf(file, doc, i));
    const parts = ordered.map(({ doc }) => doc.suites[i]!);
    // Run k fails on whichever shard runs it: the earliest failing run is the one the unsharded check stops at.
    const failed = parts.filter((p) => p.failure !== null).sort((a, b) => a.failure!.run - b.failure!.run)[0];
    return {
      suite: s.suite,
      planned: parts.reduce((n, p) => n + p.plannedRuns, 0),
      stats,
      durationMs: parts.reduce((n, p) => n + p.durationMs, 0),
      interrupted: parts.some((p) => p.interrupted),
      ...(failed === undefined ? {} : { failure: failed.failure! }),
      ...(failed?.counterexample == null ? {} : { counterexample: failed.counterexample }),
      ...(failed?.writeError === undefined ? {} : { writeError: failed.writeError }),
    };
  });
  return buildReport(
    {
      seed: first.seed,
      searchBudget: first.searchBudget,
      bugs: first.bugs,
      narrowed: first.narrowed.filter((n) => n !== "--shard"),
      // The shards ran side by side: the check took as long as the slowest.
      durationMs: Math.max(...ordered.map((s) => s.doc.durationMs)),
      ...(first.runs === null ? {} : { runs: first.runs }),
      ...(first.timeBudget === null ? {} : { budgetSeconds: first.timeBudget.seconds }),
    },
    outcomes,
  );
}

export function mergeCommand(args: readonly string[]): number {
  const p = parseArgs(COMMAND, args, OPTIONS);
  if (p.positional.length === 0) throw new UsageError(COMMAND, "give the --json reports of every shard of a check");
  const junit = outputFile(COMMAND, "--junit", p.values.get("--junit"));
  const report = mergeReports(p.positional.map((file) => ({ file, doc: decodeCheckReport(file, readText(file, MAX_REPORT_BYTES)) })));
  if (p.flags.has("--json")) console.log(stringifyExact(report.doc));
  else {
    console.log(`faultline merge: ${p.positional.length} shard(s) of the check with seed ${report.doc.seed}`);
    printReport(report);
  }
  if (junit !== undefined) writeJunit(junit, report);
  return exitStatus(report);
}
