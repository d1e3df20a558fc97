// cli/plan.ts with stand-in suites and a stand-in clock: plans are lazy, results merge in run order whatever order
// they arrive in, a suite ends at its first failing run, and the time budget runs from the first run and still
// gives every suite one run. The same through the built CLI: a plan of 10^8 runs starts at once.
import { describe, expect, it } from "vitest";
import { TimeBudget } from "../props/budget.js";
import { Stats } from "../props/stats.js";
import type { Suite, SuiteResult } from "../props/suite.js";
import { CheckPlan, runInProcess, type RunTask, type SuiteRuns } from "../cli/plan.js";
import { shardRuns } from "../cli/shard.js";
import { faultline, lines, scratch } from "./cli-child.js";

/** A suite whose run `k` (known by its seed) does one command, and fails when `fails(seed)`. */
function standIn(name: string, runs: number, fails: (seed: number) => boolean = () => false, onRun?: () => void): Suite {
  return {
    name,
    description: name,
    kind: "sequential",
    area: "kvm",
    runs,
    run: async ({ seed }) => {
      onRun?.();
      const stats = new Stats();
      stats.recordRun();
      stats.recordStep([`seed-${seed}`]);
      const failure = fails(seed) ? { property: "p", step: 0, expected: 1, actual: 2, detail: "d" } : undefined;
      return { suite: name, stats, durationMs: 1, interrupted: false, ...(failure === undefined ? {} : { failure }) } satisfies SuiteResult;
    },
  };
}

function collect(): { hooks: ConstructorParameters<typeof CheckPlan>[2]; done: SuiteRuns[] } {
  const done: SuiteRuns[] = [];
  return { hooks: { onRun: () => undefined, onSuite: (r) => done.push(r) }, done };
}

describe("run plans", () => {
  it("are computed on demand: 10^15 runs cost nothing, and a shard's runs are k = I-1 mod N", () => {
    const runs = shardRuns(1e15, { index: 2, count: 4 });
    expect(runs.length).toBe(2.5e14);
    expect([0, 1, 2].map((i) => runs.at(i))).toEqual([1, 5, 9]);
    expect(shardRuns(6, { index: 4, count: 4 }).length).toBe(1);
    expect(shardRuns(2, { index: 4, count: 4 }).length).toBe(0);
    const { hooks, done } = collect();
    const plan = new CheckPlan([standIn("a", 1e15)], { seed: 1 }, hooks);
    expect(plan.next()).toMatchObject({ index: 0, position: 0 });
    expect(done).toEqual([]);
  });

  it("results arriving out of order merge in run order; the first failing run ends the suite, later runs are dropped", async () => {
    const { hooks, done } = collect();
    const suite = standIn("a", 6);
    const plan = new CheckPlan([suite], { seed: 1 }, hooks);
    const tasks: RunTask[] = [0, 1, 2, 3].map(() => plan.next()!);
    const result = async (t: RunTask, fail: boolean): Promise<SuiteResult> => {
      const r = await suite.run({ seed: t.seed, runs: 1 });
      return fail ? { ...r, failure: { property: "p", step: 0, expected: 1, actual: 2, detail: "d" } } : r;
    };
    plan.complete(tasks[3]!, await result(tasks[3]!, false));
    plan.complete(tasks[2]!, await result(tasks[2]!, true));
    expect(plan.next()).toBeUndefined();
    plan.complete(tasks[0]!, await result(tasks[0]!, false));
    expect(done).toEqual([]);
    plan.complete(tasks[1]!, await result(tasks[1]!, false));
    expect(done).toHaveLength(1);
    expect(done[0]!.failed?.run).toBe(2);
    expect(done[0]!.stats.runs).toBe(3);
    expect([...done[0]!.stats.rules.keys()]).toEqual(tasks.slice(0, 3).map((t) => `seed-${t.seed}`));
    expect(plan.done).toBe(true);
  });

  it("the time budget starts with the first run, not at start-up", async () => {
    let now = 0;
    const budget = new TimeBudget(1000, () => now);
    const suite = standIn(
      "a",
      100,
      () => false,
      () => (now += 300),
    );
    const { hooks, done } = collect();
    const plan = new CheckPlan([suite], { seed: 1, budget }, hooks);
    now = 60_000; // loading took a minute
    await runInProcess(plan, undefined);
    expect(done[0]!.stats.runs).toBe(4);
    expect(done[0]!.interrupted).toBe(true);
  });

  it("a spent budget still gives every suite one run", async () => {
    let now = 0;
    const budget = new TimeBudget(1000, () => now);
    const { hooks, done } = collect();
    const suites = ["a", "b", "c"].map((n) =>
      standIn(
        n,
        50,
        () => false,
        () => (now += 5000),
      ),
    );
    await runInProcess(new CheckPlan(suites, { seed: 1, budget }, hooks), undefined);
    expect(done.map((r) => [r.suite.name, r.stats.runs, r.interrupted])).toEqual([
      ["a", 1, true],
      ["b", 1, true],
      ["c", 1, true],
    ]);
  });
});

describe("check --time-budget through the CLI", () => {
  it("10^8 runs under a 1 s budget start at once, in bounded memory, and the summary says the budget stopped it", () => {
    const r = faultline(
      ["check", "--suite", "refusals-no-gmem", "--runs", "100000000", "--time-budget", "1", "--seed", "3", "--workers", "1"],
      scratch(),
      {
        NODE_OPTIONS: "--max-old-space-size=192",
      },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^refusals-no-gmem: \d+ runs, \d+ commands, [\d.]+s, interrupted \(time budget\)$/m);
    expect(lines(r.stdout).at(-1)).toBe("no failures; the time budget (1s) cut 1 suite(s) short");
  });

  it("on workers that start slowly every suite still runs at least once", () => {
    const suites = ["kvm-anon-x86", "refusals-mm", "race-attributes"];
    const r = faultline(
      ["check", "--suite", suites.join(","), "--runs", "1000", "--time-budget", "1", "--seed", "3", "--workers", "2", "--json"],
      scratch(),
    );
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as {
      suites: { runs: number; interrupted: boolean }[];
      timeBudget: { seconds: number; stopped: boolean };
    };
    for (const s of doc.suites) expect(s.runs).toBeGreaterThan(0);
    expect(doc.timeBudget).toEqual({ seconds: 1, stopped: true });
  });
});
