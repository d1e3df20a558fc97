// faultline mutants: every seeded bug of the catalog (impl/bugs.ts) switched on, one at a time, against the suite
// of the default check that must find it, run by run as `faultline check --suite X --bugs B --seed S` would run
// them, until the first failure or the bug's time budget. A bug no run finds is missed: exit 1.
import { BUGS, BUG_IDS, type BugId } from "../impl/bugs.js";
import { suiteNamed } from "../props/registry.js";
import type { SuiteResult } from "../props/suite.js";
import { nearest } from "../schema/codecs.js";
import { UsageError, integerOption, parseArgs } from "./args.js";
import { table } from "./format.js";
import { runSeed } from "./shard.js";
import { VERSION } from "./version.js";

const COMMAND = "mutants";
const DEFAULT_BUDGET_S = 60;

export interface Hunt {
  readonly bug: BugId;
  readonly suite: string;
  readonly found: boolean;
  /** Runs executed, the failing one included (or all of them when missed). */
  readonly runs: number;
  /** Seconds until the failing run failed (before shrinking), or spent in vain. */
  readonly seconds: number;
  readonly property?: string;
  /** Operations past the setup in the shrunk counterexample. */
  readonly shrunkLength?: number;
  readonly detail?: string;
  /** The check that finds the same failure again. */
  readonly reproduce: string;
}

/** Runs the bug's suite run by run (check's seeds) until one fails or the budget is spent. */
export async function hunt(bug: BugId, seed: number, budgetMs: number): Promise<Hunt> {
  const name = BUGS[bug].suite;
  const suite = suiteNamed(name);
  if (suite === undefined) throw new Error(`impl/bugs.ts: ${bug} names suite "${name}", which props/registry.ts does not have`);
  const reproduce = `faultline check --suite ${name} --bugs ${bug} --seed ${seed}`;
  const started = performance.now();
  for (let k = 0; ; k++) {
    const runStart = performance.now();
    if (runStart - started >= budgetMs) return { bug, suite: name, found: false, runs: k, seconds: (runStart - started) / 1000, reproduce };
    // The second call of onRun is fast-check's first shrinking attempt: the run has failed by then.
    let failedAt: number | undefined;
    let calls = 0;
    const r: SuiteResult & { msToFailure?: number } = await suite.run({
      seed: runSeed(seed, name, k),
      runs: 1,
      bugs: [bug],
      onRun: () => {
        if (++calls === 2) failedAt ??= performance.now();
      },
    });
    if (r.failure === undefined) continue;
    const end = r.msToFailure !== undefined ? runStart + r.msToFailure : (failedAt ?? performance.now());
    return {
      bug,
      suite: name,
      found: true,
      runs: k + 1,
      seconds: (end - started) / 1000,
      property: r.failure.property,
      ...(r.shrunkLength === undefined ? {} : { shrunkLength: r.shrunkLength }),
      detail: r.failure.detail,
      reproduce,
    };
  }
}

interface Options {
  readonly bugs: readonly BugId[];
  readonly budgetMs: number;
  readonly seed: number;
  readonly json: boolean;
}

function options(args: readonly string[]): Options {
  const p = parseArgs(COMMAND, args, { "--bug": "value", "--time-budget": "value", "--seed": "value", "--json": "flag" });
  if (p.positional.length > 0) throw new UsageError(COMMAND, `unexpected argument "${p.positional[0]}"`);
  const only = p.values.get("--bug");
  const bugs = only === undefined ? BUG_IDS : [...new Set(only.split(","))];
  for (const b of bugs) {
    if ((BUG_IDS as readonly string[]).includes(b)) continue;
    const near = nearest(b, BUG_IDS);
    throw new UsageError(COMMAND, `--bug: unknown seeded bug "${b}"; ${near === undefined ? "" : `did you mean "${near}"? `}known: ${BUG_IDS.join(", ")}`);
  }
  return {
    bugs: bugs as BugId[],
    budgetMs: (integerOption(COMMAND, "--time-budget", p.values.get("--time-budget"), 1) ?? DEFAULT_BUDGET_S) * 1000,
    seed: integerOption(COMMAND, "--seed", p.values.get("--seed"), 0, 2 ** 32 - 1) ?? Math.floor(Math.random() * 2 ** 31),
    json: p.flags.has("--json"),
  };
}

const row = (h: Hunt): string[] => [
  h.bug,
  BUGS[h.bug].kind,
  h.suite,
  h.found ? "found" : "MISSED",
  String(h.runs),
  h.seconds.toFixed(2),
  h.shrunkLength === undefined ? "" : String(h.shrunkLength),
  h.property ?? "",
];

export async function mutantsCommand(args: readonly string[]): Promise<number> {
  const o = options(args);
  const out = o.json ? process.stderr : process.stdout;
  out.write(`faultline mutants: ${o.bugs.length} seeded bug(s), seed ${o.seed}, time budget ${o.budgetMs / 1000}s per bug\n`);
  const hunts: Hunt[] = [];
  for (const bug of o.bugs) {
    const h = await hunt(bug, o.seed, o.budgetMs);
    hunts.push(h);
    out.write(`${bug}: ${h.found ? `found by ${h.property} in ${h.suite}, run ${h.runs}` : `MISSED by ${h.suite} in ${h.runs} runs`}, ${h.seconds.toFixed(2)}s\n`);
  }
  const missed = hunts.filter((h) => !h.found);
  if (o.json) {
    const bugs = hunts.map((h) => ({ ...h, area: BUGS[h.bug].area, kind: BUGS[h.bug].kind }));
    console.log(JSON.stringify({ faultline: VERSION, seed: o.seed, timeBudgetSeconds: o.budgetMs / 1000, found: hunts.length - missed.length, missed: missed.length, bugs }, null, 2));
  } else {
    const header = ["bug", "kind", "suite", "result", "runs", "seconds", "shrunk", "property"];
    console.log(["", ...table(header, hunts.map(row), ["left", "left", "left", "left", "right", "right", "right", "left"])].join("\n"));
    console.log(missed.length === 0 ? `\nall ${hunts.length} seeded bugs found` : `\n${missed.length} of ${hunts.length} seeded bugs MISSED: ${missed.map((h) => h.bug).join(", ")}`);
  }
  return missed.length === 0 ? 0 : 1;
}
