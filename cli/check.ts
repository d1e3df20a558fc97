// faultline check: every suite (or some), run by run with derived seeds, optionally one shard of the runs.
import { availableParallelism, loadavg } from "node:os";
import { BUG_IDS } from "../impl/bugs.js";
import { FAULT_EXIT_DESIGNS, type FaultExitDesign } from "../schema/config.js";
import { TimeBudget } from "../props/budget.js";
import { vocabularyErrors } from "../props/minimums.js";
import { DEFAULT_BUDGET } from "../props/concurrent/linearizability.js";
import { SUITES } from "../props/registry.js";
import type { Suite } from "../props/suite.js";
import { nearest } from "../schema/codecs.js";
import { stringifyExact } from "../schema/json.js";
import { printable } from "../schema/report.js";
import { UsageError, integerOption, parseArgs, type OptionSpec } from "./args.js";
import { counterexampleText, storeCounterexample } from "./counterexample.js";
import { outputFile } from "./files.js";
import { seconds } from "./format.js";
import { writeJunit } from "./junit.js";
import { CheckPlan, runInProcess, type RunSettings, type SuiteRuns } from "./plan.js";
import { createProgress } from "./progress.js";
import { buildReport, exitStatus, printReport, type SuiteOutcome } from "./report.js";
import { parseShard, type Shard } from "./shard.js";
import { VERSION } from "./version.js";
import { runOnWorkers } from "./workers.js";

const COMMAND = "check";

export const OPTIONS: OptionSpec = {
  "--suite": "value",
  "--runs": "value",
  "--seed": "value",
  "--shard": "value",
  "--time-budget": "value",
  "--search-budget": "value",
  "--bugs": "value",
  "--fault-exit": "value",
  "--json": "flag",
  "--junit": "value",
  "--workers": "value",
};

interface Options {
  readonly suites: readonly Suite[];
  readonly runs?: number;
  readonly seed: number;
  readonly shard?: Shard;
  readonly budgetSeconds?: number;
  /** Model steps the linearizability search of a concurrent suite may take per history segment. */
  readonly searchBudget: number;
  readonly bugs?: readonly string[];
  /** The fault-exit design every suite runs under (docs/VARIANTS.md). */
  readonly faultExit?: FaultExitDesign;
  readonly json: boolean;
  readonly junit?: string;
  /** Worker threads; 1 runs everything in this thread. */
  readonly workers: number;
  /** Why the default worker count was lowered, for the header line. */
  readonly workersNote?: string;
  /** The options that narrowed the check: coverage minimums are enforced only on a check narrowed by none. */
  readonly narrowed: readonly string[];
}

/**
 * One worker per CPU, unless the machine is already busy (load average at least the CPUs): then the workers would
 * only take turns with the load and pay for crossing the thread boundary, and one thread is faster (bench/run.ts,
 * docs/BENCHMARKS.md section 5).
 */
function workersOf(chosen: number | undefined): { workers: number; workersNote?: string } {
  if (chosen !== undefined) return { workers: chosen };
  const cpus = availableParallelism();
  const load = loadavg()[0]!;
  if (cpus === 1 || load < cpus) return { workers: cpus };
  return { workers: 1, workersNote: `1 worker, the machine being busy (load ${load.toFixed(1)} on ${cpus} CPUs; --workers N to choose)` };
}

function names(command: string, option: string, text: string, known: readonly string[], what: string): string[] {
  const list = text.split(",");
  for (const n of list) {
    if (known.includes(n)) continue;
    const near = nearest(n, known);
    throw new UsageError(
      command,
      `${option}: unknown ${what} "${n}"; ${near === undefined ? "" : `did you mean "${near}"? `}known: ${known.join(", ")}`,
    );
  }
  return [...new Set(list)];
}

function options(args: readonly string[]): Options {
  const p = parseArgs(COMMAND, args, OPTIONS);
  if (p.positional.length > 0) throw new UsageError(COMMAND, `unexpected argument "${p.positional[0]}"`);
  const only = p.values.get("--suite");
  const suiteNames = SUITES.map((s) => s.name);
  const chosen = only === undefined ? suiteNames : names(COMMAND, "--suite", only, suiteNames, "suite");
  const shardText = p.values.get("--shard");
  const seedText = p.values.get("--seed");
  if (shardText !== undefined && seedText === undefined)
    throw new UsageError(COMMAND, "--shard needs --seed, so that every shard splits the same check");
  const budget = integerOption(COMMAND, "--time-budget", p.values.get("--time-budget"), 1);
  const bugs = p.values.get("--bugs");
  const runs = integerOption(COMMAND, "--runs", p.values.get("--runs"), 1);
  const searchBudget = integerOption(COMMAND, "--search-budget", p.values.get("--search-budget"), 1) ?? DEFAULT_BUDGET;
  const suites = SUITES.filter((s) => chosen.includes(s.name));
  const narrowing = ["--suite", "--runs", "--shard", "--time-budget", "--bugs", "--fault-exit"] as const;
  const faultExit = p.values.get("--fault-exit");
  const junit = outputFile(COMMAND, "--junit", p.values.get("--junit"));
  return {
    suites,
    seed: integerOption(COMMAND, "--seed", seedText, 0, 2 ** 32 - 1) ?? Math.floor(Math.random() * 2 ** 31),
    searchBudget,
    json: p.flags.has("--json"),
    ...workersOf(integerOption(COMMAND, "--workers", p.values.get("--workers"), 1, 256)),
    // --suite naming every suite narrows nothing.
    narrowed: narrowing.filter((n) => p.values.has(n) && !(n === "--suite" && suites.length === SUITES.length)),
    ...(runs === undefined ? {} : { runs }),
    ...(shardText === undefined ? {} : { shard: parseShard(COMMAND, shardText) }),
    ...(budget === undefined ? {} : { budgetSeconds: budget }),
    ...(bugs === undefined ? {} : { bugs: names(COMMAND, "--bugs", bugs, BUG_IDS, "seeded bug") }),
    ...(faultExit === undefined ? {} : { faultExit: names(COMMAND, "--fault-exit", faultExit, FAULT_EXIT_DESIGNS, "fault-exit design")[0] as FaultExitDesign }),
    ...(junit === undefined ? {} : { junit }),
  };
}

const verdict = (r: SuiteOutcome): string =>
  r.failure !== undefined ? `FAILED ${r.failure.property} (run ${r.failure.run})` : r.interrupted ? "interrupted (time budget)" : "ok";

/** The suite's outcome, its counterexample stored with where it came from: which check seed and which of its runs. */
function store(o: Options, r: SuiteRuns): SuiteOutcome {
  const base = { suite: r.suite.name, planned: r.planned, stats: r.stats, durationMs: r.durationMs, interrupted: r.interrupted };
  if (r.failed === undefined) return base;
  const failure = { ...r.failed.result.failure!, run: r.failed.run };
  const ce = r.failed.result.counterexample;
  if (ce === undefined) return { ...base, failure };
  // JSON has no undefined: a value missing on one side (nothing mapped, say) is stored as null, never dropped.
  const recorded =
    ce.failure === undefined
      ? {}
      : { failure: { ...ce.failure, expected: ce.failure.expected ?? null, actual: ce.failure.actual ?? null } };
  const scenario = { ...ce, ...recorded, provenance: { ...ce.provenance, checkSeed: o.seed, run: r.failed.run, faultline: VERSION } };
  const stored = storeCounterexample(r.suite.name, scenario);
  if (stored.writeError !== undefined) {
    // Nothing lost: the reason, where it went instead, and the whole scenario, on stderr.
    const instead = stored.path === undefined ? "" : `; written instead to ${stored.path}`;
    process.stderr.write(
      `faultline check: ${printable(stored.writeError)}${instead}; the counterexample:\n${counterexampleText(scenario)}`,
    );
  }
  return {
    ...base,
    failure,
    ...(stored.path === undefined ? {} : { counterexample: { path: stored.path, isNew: stored.isNew } }),
    ...(stored.writeError === undefined ? {} : { writeError: stored.writeError }),
  };
}

export async function check(args: readonly string[]): Promise<number> {
  const o = options(args);
  // With --json stdout carries the document only; progress goes to stderr as plain lines.
  const out = o.json ? process.stderr : process.stdout;
  const progress = createProgress(out, !o.json && process.stdout.isTTY === true);
  const shard = o.shard === undefined ? "" : `, shard ${o.shard.index}/${o.shard.count}`;
  const bugs = o.bugs === undefined ? "" : `, seeded bugs: ${o.bugs.join(", ")}`;
  const workers = o.workersNote === undefined ? "" : `, ${o.workersNote}`;
  out.write(`faultline check: ${o.suites.length} suite(s), seed ${o.seed}${shard}${bugs}${workers}\n`);
  // Before any run: a minimum that names nothing would pass unseen (props/minimums.ts).
  const vocabulary = vocabularyErrors();
  if (vocabulary.length > 0) {
    process.stderr.write(`faultline check: the coverage vocabulary is inconsistent: ${vocabulary.join("; ")}\n`);
    return 1;
  }
  const started = performance.now();
  const outcomes: SuiteOutcome[] = [];
  const plan = new CheckPlan(
    o.suites,
    {
      seed: o.seed,
      ...(o.runs === undefined ? {} : { runs: o.runs }),
      ...(o.shard === undefined ? {} : { shard: o.shard }),
      ...(o.budgetSeconds === undefined ? {} : { budget: new TimeBudget(o.budgetSeconds * 1000) }),
    },
    {
      onRun: (suite, done, total, ms) => progress.update(suite.name, done, total, ms),
      onSuite: (ran) => {
        const r = store(o, ran);
        outcomes.push(r);
        progress.finish(`${r.suite}: ${r.stats.runs} runs, ${r.stats.commands} commands, ${seconds(r.durationMs)}, ${verdict(r)}`);
      },
    },
  );
  const settings: RunSettings = { searchBudget: o.searchBudget, ...(o.bugs === undefined ? {} : { bugs: o.bugs }), ...(o.faultExit === undefined ? {} : { faultExit: o.faultExit }) };
  if (o.workers > 1) await runOnWorkers(plan, o.workers, settings);
  else await runInProcess(plan, settings);
  const report = buildReport(
    {
      seed: o.seed,
      searchBudget: o.searchBudget,
      narrowed: o.narrowed,
      durationMs: performance.now() - started,
      ...(o.shard === undefined ? {} : { shard: o.shard }),
      ...(o.bugs === undefined ? {} : { bugs: o.bugs }),
      ...(o.runs === undefined ? {} : { runs: o.runs }),
      ...(o.budgetSeconds === undefined ? {} : { budgetSeconds: o.budgetSeconds }),
    },
    outcomes,
  );
  if (o.json) console.log(stringifyExact(report.doc));
  else printReport(report);
  if (o.junit !== undefined) writeJunit(o.junit, report);
  return exitStatus(report);
}
