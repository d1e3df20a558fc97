// faultline check: every suite (or some), run by run with derived seeds, optionally one shard of the runs.
import { availableParallelism } from "node:os";
import { BUG_IDS } from "../impl/bugs.js";
import { SUITES } from "../props/registry.js";
import { coverageOf, describeUnmet, type Coverage, type CoverageLine } from "../props/minimums.js";
import { Stats } from "../props/stats.js";
import type { Suite } from "../props/suite.js";
import { nearest } from "../schema/codecs.js";
import { FileError } from "../schema/scenario.js";
import { UsageError, integerOption, parseArgs } from "./args.js";
import { writeCounterexample } from "./counterexample.js";
import { seconds, table, type Align } from "./format.js";
import { createProgress } from "./progress.js";
import { parseShard, runSeed, shardRuns, type Shard } from "./shard.js";
import { VERSION } from "./version.js";
import { planOf, runOnWorkers, type SuiteRuns } from "./workers.js";

const COMMAND = "check";

interface Options {
  readonly suites: readonly Suite[];
  readonly runs?: number;
  readonly seed: number;
  readonly shard?: Shard;
  readonly budgetMs?: number;
  /** Model steps the linearizability search may take per history segment of a concurrent suite. */
  readonly searchBudget?: number;
  readonly bugs?: readonly string[];
  readonly json: boolean;
  /** Worker threads; 1 runs everything in this thread. */
  readonly workers: number;
}

/** A suite's runs and where its counterexample was stored. */
interface SuiteReport extends SuiteRuns {
  readonly counterexample?: { readonly path: string; readonly isNew: boolean };
  /** Why the counterexample could not be stored. */
  readonly writeError?: string;
}

function names(command: string, option: string, text: string, known: readonly string[], what: string): string[] {
  const list = text.split(",");
  for (const n of list) {
    if (known.includes(n)) continue;
    const near = nearest(n, known);
    throw new UsageError(command, `${option}: unknown ${what} "${n}"; ${near === undefined ? "" : `did you mean "${near}"? `}known: ${known.join(", ")}`);
  }
  return [...new Set(list)];
}

function options(args: readonly string[]): Options {
  const p = parseArgs(COMMAND, args, {
    "--suite": "value",
    "--runs": "value",
    "--seed": "value",
    "--shard": "value",
    "--time-budget": "value",
    "--search-budget": "value",
    "--bugs": "value",
    "--json": "flag",
    "--workers": "value",
  });
  if (p.positional.length > 0) throw new UsageError(COMMAND, `unexpected argument "${p.positional[0]}"`);
  const only = p.values.get("--suite");
  const suiteNames = SUITES.map((s) => s.name);
  const chosen = only === undefined ? suiteNames : names(COMMAND, "--suite", only, suiteNames, "suite");
  const shardText = p.values.get("--shard");
  const seedText = p.values.get("--seed");
  if (shardText !== undefined && seedText === undefined) throw new UsageError(COMMAND, "--shard needs --seed, so that every shard splits the same check");
  const budget = integerOption(COMMAND, "--time-budget", p.values.get("--time-budget"), 1);
  const bugs = p.values.get("--bugs");
  const runs = integerOption(COMMAND, "--runs", p.values.get("--runs"), 1);
  const searchBudget = integerOption(COMMAND, "--search-budget", p.values.get("--search-budget"), 1);
  return {
    suites: SUITES.filter((s) => chosen.includes(s.name)),
    seed: integerOption(COMMAND, "--seed", seedText, 0, 2 ** 32 - 1) ?? Math.floor(Math.random() * 2 ** 31),
    json: p.flags.has("--json"),
    workers: integerOption(COMMAND, "--workers", p.values.get("--workers"), 1, 256) ?? availableParallelism(),
    ...(runs === undefined ? {} : { runs }),
    ...(shardText === undefined ? {} : { shard: parseShard(COMMAND, shardText) }),
    ...(budget === undefined ? {} : { budgetMs: budget * 1000 }),
    ...(searchBudget === undefined ? {} : { searchBudget }),
    ...(bugs === undefined ? {} : { bugs: names(COMMAND, "--bugs", bugs, BUG_IDS, "seeded bug") }),
  };
}

const verdict = (r: SuiteReport): string =>
  r.failed !== undefined
    ? `FAILED ${r.failed.result.failure!.property} (run ${r.failed.run})`
    : r.interrupted
      ? "interrupted (time budget)"
      : "ok";

async function runSuite(suite: Suite, o: Options, deadline: number | undefined, onRun: (done: number, total: number, elapsedMs: number) => void): Promise<Omit<SuiteReport, "counterexample" | "writeError">> {
  const runs = shardRuns(o.runs ?? suite.runs, o.shard);
  const stats = new Stats();
  let durationMs = 0;
  for (const [i, k] of runs.entries()) {
    if (deadline !== undefined && performance.now() >= deadline) return { suite, planned: runs.length, stats, durationMs, interrupted: true };
    const seed = runSeed(o.seed, suite.name, k);
    const searchBudget = o.searchBudget === undefined ? {} : { searchBudget: o.searchBudget };
    const r = await suite.run({ seed, runs: 1, ...(o.bugs === undefined ? {} : { bugs: o.bugs }), ...searchBudget });
    stats.merge(r.stats);
    durationMs += r.durationMs;
    onRun(i + 1, runs.length, durationMs);
    if (r.failure !== undefined) return { suite, planned: runs.length, stats, durationMs, interrupted: false, failed: { result: r, run: k } };
  }
  return { suite, planned: runs.length, stats, durationMs, interrupted: false };
}

/** Stores the counterexample with where it came from: which check seed and which of its runs. */
function store(o: Options, r: Omit<SuiteReport, "counterexample" | "writeError">): SuiteReport {
  const ce = r.failed?.result.counterexample;
  if (r.failed === undefined || ce === undefined) return r;
  // JSON has no undefined: a value missing on one side (nothing mapped, say) is stored as null, never dropped.
  const failure = ce.failure === undefined ? {} : { failure: { ...ce.failure, expected: ce.failure.expected ?? null, actual: ce.failure.actual ?? null } };
  const scenario = { ...ce, ...failure, provenance: { ...ce.provenance, checkSeed: o.seed, run: r.failed.run, faultline: VERSION } };
  try {
    return { ...r, counterexample: writeCounterexample(r.suite.name, scenario) };
  } catch (e) {
    if (!(e instanceof FileError)) throw e;
    return { ...r, writeError: e.message };
  }
}

function invariantTotals(reports: readonly SuiteReport[]): Map<string, { checked: number; nonVacuous: number }> {
  const all = new Stats();
  for (const r of reports) all.merge(r.stats);
  return new Map([...all.invariants].sort(([a], [b]) => a.localeCompare(b)));
}

function printTable(reports: readonly SuiteReport[], totalMs: number): void {
  const rows = reports.map((r) => {
    const inv = [...r.stats.invariants.values()];
    return [
      r.suite.name,
      `${r.stats.runs}${r.stats.runs < r.planned ? `/${r.planned}` : ""}`,
      String(r.stats.commands),
      String(r.stats.distinctStates),
      `${inv.filter((c) => c.nonVacuous > 0).length}/${inv.length}`,
      r.failed === undefined ? "0" : "1",
      String(r.stats.undecided),
      seconds(r.durationMs),
    ];
  });
  const sum = (f: (r: SuiteReport) => number): string => String(reports.reduce((n, r) => n + f(r), 0));
  const failures = sum((r) => (r.failed === undefined ? 0 : 1));
  rows.push(["total", sum((r) => r.stats.runs), sum((r) => r.stats.commands), "", "", failures, sum((r) => r.stats.undecided), seconds(totalMs)]);
  const header = ["suite", "runs", "commands", "states", "invariants", "failures", "undecided", "time"];
  const lines = table(header, rows, ["left", ...header.slice(1).map((): Align => "right")]);
  console.log(["", ...lines].join("\n"));
}

/** Minimums are enforced only on the full default check: narrowing (suites, runs, shard, budget, bugs) lowers the counts. */
const fullDefault = (o: Options): boolean =>
  o.suites.length === SUITES.length && o.runs === undefined && o.shard === undefined && o.budgetMs === undefined && o.bugs === undefined;

/** Invariants and linearizability checks, then exits, with counts and minimums; the errno rules in one line; what is unmet. */
function printCoverage(cov: Coverage, enforced: boolean): void {
  const mark = (l: CoverageLine): string => (l.minimum !== undefined && l.count < l.minimum ? "UNMET" : l.count === 0 ? "never exercised" : "");
  const min = (l: CoverageLine): string => (l.minimum === undefined ? "" : String(l.minimum));
  const inv = cov.lines.filter((l) => l.kind === "invariant" || l.kind === "linearizability").map((l) => [l.name, String(l.count), String(l.checked), min(l), mark(l)]);
  console.log(["", ...table(["invariant", "non-vacuous", "checked", "minimum", ""], inv, ["left", "right", "right", "right", "left"])].join("\n"));
  const exits = cov.lines.filter((l) => l.kind === "exit").map((l) => [l.name, String(l.count), min(l), mark(l)]);
  console.log(["", ...table(["exit", "hits", "minimum", ""], exits, ["left", "right", "right", "left"])].join("\n"));
  const errno = cov.lines.filter((l) => l.kind === "rule" && l.errno !== undefined);
  const required = errno.filter((l) => l.minimum !== undefined);
  const unreachable = errno.filter((l) => l.unreachable !== undefined).map((l) => l.name);
  console.log(`\nerrno rules: ${required.filter((l) => l.count >= l.minimum!).length} of ${required.length} reached their minimum; unreachable by construction: ${unreachable.join(", ") || "none"}`);
  if (cov.unmet.length === 0) return;
  console.log(enforced ? "\ncoverage minimums NOT met:" : "\ncoverage minimums not met (a narrowed check: reported, not enforced):");
  for (const l of cov.unmet) console.log(`  ${describeUnmet(l)}`);
}

function printCounterexamples(reports: readonly SuiteReport[]): void {
  const failed = reports.filter((r) => r.failed !== undefined);
  if (failed.length === 0) return;
  console.log("\ncounterexamples:");
  for (const r of failed) {
    const f = r.failed!.result.failure!;
    console.log(`  ${r.suite.name}: ${f.property} failed at step ${f.step}: ${f.detail}`);
    if (r.counterexample !== undefined) {
      console.log(`    ${r.counterexample.isNew ? "written" : "already recorded"}: ${r.counterexample.path}`);
      console.log(`    replay:  faultline replay ${r.counterexample.path}`);
    } else {
      console.log(`    not stored: ${r.writeError ?? "this suite gives no counterexample file"}`);
    }
  }
}

function jsonReport(o: Options, reports: readonly SuiteReport[], totalMs: number, cov: Coverage): object {
  return {
    faultline: VERSION,
    seed: o.seed,
    shard: o.shard ?? null,
    bugs: o.bugs ?? [],
    durationMs: Math.round(totalMs),
    failures: reports.filter((r) => r.failed !== undefined).length,
    undecided: reports.reduce((n, r) => n + r.stats.undecided, 0),
    suites: reports.map((r) => ({
      suite: r.suite.name,
      plannedRuns: r.planned,
      ...(r.stats.toJSON() as object),
      durationMs: Math.round(r.durationMs),
      interrupted: r.interrupted,
      failure: r.failed === undefined ? null : { ...r.failed.result.failure!, run: r.failed.run },
      counterexample: r.counterexample ?? null,
      ...(r.writeError === undefined ? {} : { writeError: r.writeError }),
    })),
    invariants: Object.fromEntries(invariantTotals(reports)),
    counterexamples: reports.flatMap((r) => (r.counterexample === undefined ? [] : [r.counterexample.path])),
    coverage: { enforced: fullDefault(o), lines: cov.lines, unmet: cov.unmet.map(describeUnmet) },
  };
}

export async function check(args: readonly string[]): Promise<number> {
  const o = options(args);
  // With --json stdout carries the document only; progress goes to stderr as plain lines.
  const out = o.json ? process.stderr : process.stdout;
  const progress = createProgress(out, !o.json && process.stdout.isTTY === true);
  const shard = o.shard === undefined ? "" : `, shard ${o.shard.index}/${o.shard.count}`;
  const bugs = o.bugs === undefined ? "" : `, seeded bugs: ${o.bugs.join(", ")}`;
  out.write(`faultline check: ${o.suites.length} suite(s), seed ${o.seed}${shard}${bugs}\n`);
  const started = performance.now();
  const deadline = o.budgetMs === undefined ? undefined : started + o.budgetMs;
  const reports: SuiteReport[] = [];
  const finished = (ran: SuiteRuns): void => {
    const r = store(o, ran);
    reports.push(r);
    progress.finish(`${r.suite.name}: ${r.stats.runs} runs, ${r.stats.commands} commands, ${seconds(r.durationMs)}, ${verdict(r)}`);
  };
  if (o.workers > 1) {
    const onRun = (suite: Suite, done: number, total: number, ms: number): void => progress.update(suite.name, done, total, ms);
    await runOnWorkers(planOf(o.suites, o.seed, o.runs, o.shard), o.workers, o.bugs, deadline, { onRun, onSuite: finished }, o.searchBudget);
  } else {
    for (const suite of o.suites) finished(await runSuite(suite, o, deadline, (done, total, ms) => progress.update(suite.name, done, total, ms)));
  }
  const totalMs = performance.now() - started;
  const cov = coverageOf(reports.map((r) => ({ suite: r.suite.name, stats: r.stats })));
  const uncovered = fullDefault(o) && cov.unmet.length > 0;
  if (o.json) {
    console.log(JSON.stringify(jsonReport(o, reports, totalMs, cov), null, 2));
  } else {
    printTable(reports, totalMs);
    printCoverage(cov, fullDefault(o));
    printCounterexamples(reports);
    const failures = reports.filter((r) => r.failed !== undefined).length;
    console.log(failures === 0 ? (uncovered ? "\nno failures, but coverage minimums not met" : "\nno failures") : `\n${failures} suite(s) FAILED`);
  }
  for (const r of reports) if (r.writeError !== undefined) console.error(r.writeError);
  return reports.some((r) => r.failed !== undefined) || uncovered ? 1 : 0;
}
