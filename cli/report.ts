// The report of a check, built from its suites' runs (faultline check) or from its shards' reports (faultline
// merge), and shown as the terminal summary or as the --json document. JUnit XML is cli/junit.ts.
import { coverageOf, describeUnmet, type Coverage, type CoverageLine } from "../props/minimums.js";
import { Stats } from "../props/stats.js";
import type { CheckReportDoc, SuiteReportDoc } from "../schema/check-report.js";
import { printable } from "../schema/report.js";
import { seconds, table, type Align } from "./format.js";
import type { Shard } from "./shard.js";
import { VERSION } from "./version.js";

/** What a check was asked to do, as its report records it. */
export interface CheckFacts {
  readonly seed: number;
  readonly shard?: Shard;
  readonly bugs?: readonly string[];
  /** --runs; each suite's own count when undefined. */
  readonly runs?: number;
  readonly budgetSeconds?: number;
  /** Model steps the linearizability search may take per history segment (--search-budget). */
  readonly searchBudget: number;
  /** The options that narrowed the check (docs/CLI.md): minimums are enforced only when there are none. */
  readonly narrowed: readonly string[];
  readonly durationMs: number;
}

export type SuiteFailure = SuiteReportDoc["failure"] & object;

/** One suite's result, with its counts as Stats. */
export interface SuiteOutcome {
  readonly suite: string;
  readonly planned: number;
  readonly stats: Stats;
  readonly durationMs: number;
  readonly interrupted: boolean;
  readonly failure?: SuiteFailure;
  readonly counterexample?: { readonly path: string; readonly isNew: boolean };
  readonly writeError?: string;
}

export interface CheckReport {
  readonly doc: CheckReportDoc;
  readonly coverage: Coverage;
}

/** What Stats.toJSON gives, as a suite's report holds it. */
type StatsJson = Pick<
  SuiteReportDoc,
  "runs" | "commands" | "undecided" | "longestRun" | "distinctStates" | "invariants" | "rules" | "bounds" | "features" | "costs"
>;

/** Builds the report; a shard's report also carries each suite's distinct states, for faultline merge. */
export function buildReport(facts: CheckFacts, suites: readonly SuiteOutcome[]): CheckReport {
  const coverage = coverageOf(suites.map((s) => ({ suite: s.suite, stats: s.stats })));
  const all = new Stats();
  for (const s of suites) all.merge(s.stats);
  const doc: CheckReportDoc = {
    faultline: VERSION,
    seed: facts.seed,
    shard: facts.shard ?? null,
    bugs: [...(facts.bugs ?? [])],
    runs: facts.runs ?? null,
    timeBudget: facts.budgetSeconds === undefined ? null : { seconds: facts.budgetSeconds, stopped: suites.some((s) => s.interrupted) },
    searchBudget: facts.searchBudget,
    narrowed: [...facts.narrowed],
    durationMs: Math.round(facts.durationMs),
    failures: suites.filter(failed).length,
    undecided: all.undecided,
    suites: suites.map((s) => ({
      suite: s.suite,
      plannedRuns: s.planned,
      ...(s.stats.toJSON() as StatsJson),
      durationMs: Math.round(s.durationMs),
      interrupted: s.interrupted,
      failure: s.failure ?? null,
      counterexample: s.counterexample ?? null,
      ...(s.writeError === undefined ? {} : { writeError: s.writeError }),
      ...(facts.shard === undefined ? {} : { states: encodeStates(s.stats.data().states) }),
    })),
    invariants: (all.toJSON() as { invariants: CheckReportDoc["invariants"] }).invariants,
    counterexamples: suites.flatMap((s) => (s.counterexample === undefined ? [] : [s.counterexample.path])),
    coverage: { enforced: enforced(facts.narrowed), lines: [...coverage.lines], unmet: coverage.unmet.map(describeUnmet) },
  };
  return { doc, coverage };
}

const enforced = (narrowed: readonly string[]): boolean => narrowed.length === 0;

/** A suite failed when a property failed or a history segment went undecided: nothing past it was checked. */
const failed = (s: SuiteOutcome): boolean => s.failure !== undefined || s.stats.undecided > 0;

/** The suite failed, as its report says (failed above, read back). */
export const suiteFailed = (s: SuiteReportDoc): boolean => s.failure !== null || s.undecided > 0;

/** 0: no failure and, on a full check, every minimum met; 1 otherwise. */
export const exitStatus = (r: CheckReport): number =>
  r.doc.failures > 0 || (r.doc.coverage.enforced && r.coverage.unmet.length > 0) ? 1 : 0;

/**
 * State hashes (52 or 53 bits), sorted, as base64 of their gaps in LEB128: about 9 characters a state, where a JSON array
 * of numbers takes 17. The union of the shards' sets is the unsharded check's distinct states.
 */
export function encodeStates(hashes: readonly number[]): string {
  const bytes: number[] = [];
  let last = 0;
  for (const h of [...hashes].sort((a, b) => a - b)) {
    for (let gap = h - last; ; gap = Math.floor(gap / 128)) {
      if (gap < 128) {
        bytes.push(gap);
        break;
      }
      bytes.push((gap % 128) | 128);
    }
    last = h;
  }
  return Buffer.from(bytes).toString("base64");
}

/** The hashes of encodeStates, or undefined when the text is not such an encoding. */
export function decodeStates(text: string): number[] | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return undefined;
  const hashes: number[] = [];
  let last = 0;
  let gap = 0;
  let scale = 1;
  for (const b of Buffer.from(text, "base64")) {
    gap += (b & 127) * scale;
    scale *= 128;
    if (b >= 128) continue;
    if (scale > 2 ** 56 || (gap === 0 && hashes.length > 0)) return undefined;
    last += gap;
    hashes.push(last);
    gap = 0;
    scale = 1;
  }
  return scale === 1 && Number.isSafeInteger(last) ? hashes : undefined;
}

/** The summary a user reads: the table, the coverage, the verdict, and last of all each failure with its replay. */
export function printReport(r: CheckReport): void {
  printTable(r.doc);
  printCoverage(r);
  const { doc } = r;
  const unmet = doc.coverage.enforced && r.coverage.unmet.length > 0;
  const stopped =
    doc.timeBudget?.stopped === true
      ? `; the time budget (${doc.timeBudget.seconds}s) cut ${doc.suites.filter((s) => s.interrupted).length} suite(s) short`
      : "";
  const verdict =
    doc.failures > 0 ? `${doc.failures} suite(s) FAILED` : unmet ? "no failures, but coverage minimums not met" : "no failures";
  console.log(`\n${verdict}${stopped}`);
  printFailures(doc);
}

function printTable(doc: CheckReportDoc): void {
  const rows = doc.suites.map((s) => {
    const inv = Object.values(s.invariants);
    return [
      s.suite,
      `${s.runs}${s.runs < s.plannedRuns ? `/${s.plannedRuns}` : ""}`,
      String(s.commands),
      String(s.distinctStates),
      `${inv.filter((c) => c.nonVacuous > 0).length}/${inv.length}`,
      suiteFailed(s) ? "1" : "0",
      String(s.undecided),
      seconds(s.durationMs),
    ];
  });
  const sum = (f: (s: SuiteReportDoc) => number): string => String(doc.suites.reduce((n, s) => n + f(s), 0));
  const total = ["total", sum((s) => s.runs), sum((s) => s.commands), "", "", String(doc.failures), String(doc.undecided)];
  rows.push([...total, seconds(doc.durationMs)]);
  const header = ["suite", "runs", "commands", "states", "invariants", "failures", "undecided", "time"];
  const lines = table(header, rows, ["left", ...header.slice(1).map((): Align => "right")]);
  console.log(["", ...lines].join("\n"));
}

/**
 * Invariants and linearizability checks, exits, bounds and features, with counts and minimums; the errno rules in one
 * line; what is unmet. A narrowed check lowers every count, so its minimums are one line saying they do not apply.
 */
function printCoverage({ doc, coverage }: CheckReport): void {
  const enforce = doc.coverage.enforced;
  const mark = (l: CoverageLine): string =>
    enforce && l.minimum !== undefined && l.count < l.minimum ? "UNMET" : l.count === 0 ? "never exercised" : "";
  const min = (l: CoverageLine): string[] => (enforce ? [l.minimum === undefined ? "" : String(l.minimum)] : []);
  const minHead = enforce ? ["minimum"] : [];
  const right = enforce ? (["right"] as const) : [];
  const inv = coverage.lines
    .filter((l) => l.kind === "invariant" || l.kind === "linearizability")
    .map((l) => [l.name, String(l.count), String(l.checked), ...min(l), mark(l)]);
  console.log(
    ["", ...table(["invariant", "non-vacuous", "checked", ...minHead, ""], inv, ["left", "right", "right", ...right, "left"])].join("\n"),
  );
  const exits = coverage.lines.filter((l) => l.kind === "exit").map((l) => [l.name, String(l.count), ...min(l), mark(l)]);
  console.log(["", ...table(["exit", "hits", ...minHead, ""], exits, ["left", "right", ...right, "left"])].join("\n"));
  const sides = (l: CoverageLine, from: number): string => (l.sides ?? []).slice(from, from + 3).join(" / ");
  const bounds = coverage.lines
    .filter((l) => l.kind === "bound")
    .map((l) => [l.name, sides(l, 0), sides(l, 3), String(l.count), ...min(l), mark(l)]);
  const boundHead = ["bound", "accepted at -1 / 0 / +1", "refused at -1 / 0 / +1", "covered", ...minHead, ""];
  console.log(["", ...table(boundHead, bounds, ["left", "right", "right", "right", ...right, "left"])].join("\n"));
  const features = coverage.lines.filter((l) => l.kind === "feature").map((l) => [l.name, String(l.count), ...min(l), mark(l)]);
  console.log(["", ...table(["feature", "seen", ...minHead, ""], features, ["left", "right", ...right, "left"])].join("\n"));
  const errno = coverage.lines.filter((l) => l.kind === "rule" && l.errno !== undefined);
  const required = errno.filter((l) => l.minimum !== undefined);
  const never = errno.filter((l) => l.unreachable !== undefined).map((l) => l.name);
  const unreachable = `unreachable by construction: ${never.join(", ") || "none"}`;
  if (!enforce) {
    console.log(`\nerrno rules: ${required.filter((l) => l.count > 0).length} of ${required.length} reached; ${unreachable}`);
    console.log(`coverage minimums: not enforced: narrowed check (${doc.narrowed.join(", ")})`);
    return;
  }
  const met = required.filter((l) => l.count >= l.minimum!).length;
  console.log(`\nerrno rules: ${met} of ${required.length} reached their minimum; ${unreachable}`);
  if (coverage.unmet.length === 0) return;
  console.log("\ncoverage minimums NOT met:");
  for (const l of coverage.unmet) console.log(`  ${describeUnmet(l)}`);
}

function printFailures(doc: CheckReportDoc): void {
  for (const s of doc.suites) {
    if (s.failure === null) {
      // Not from faultline's own runs (an undecided segment fails its run), but a shard's report may say so.
      if (s.undecided > 0) console.log(`  ${s.suite}: ${s.undecided} history segment(s) undecided, no failure recorded`);
      continue;
    }
    console.log(`  ${s.suite}: ${s.failure.property} failed at step ${s.failure.step}: ${printable(s.failure.detail)}`);
    const ce = s.counterexample;
    if (s.writeError !== undefined) console.log(`    ${printable(s.writeError)}`);
    if (ce !== null) {
      console.log(
        `    ${s.writeError !== undefined ? "written instead" : ce.isNew ? "written" : "already recorded"}: ${printable(ce.path)}`,
      );
      console.log(`    replay:  faultline replay ${printable(ce.path)}`);
    } else if (s.writeError === undefined) {
      console.log("    not stored: this suite gives no counterexample file");
    }
  }
}
