// How fast each seeded race is found: for every race of the catalog (impl/bugs.ts, kind "race"), its suite with
// the bug on, under each schedule generator the suite offers, over many seeds: runs and seconds to the first
// failing run, then the time shrinking takes and the size it ends at (bench/shrink.ts reports those). And how
// many schedules per second each concurrent suite explores with no bug on.
import fc from "fast-check";
import { BUGS, type BugId } from "../impl/bugs.js";
import { runConcurrentSuite, type ConcurrentSuite } from "../props/concurrent/explore.js";
import { pctBound, type Generator } from "../props/concurrent/schedules.js";
import { SUITES, suiteNamed } from "../props/registry.js";
import type { Suite, SuiteResult } from "../props/suite.js";
import type { Row } from "./scale.js";

/** Runs a seed may take before it counts as not found. */
export const MAX_RUNS = 5000;

export interface Sample {
  readonly bug: string;
  readonly suite: string;
  readonly generator: string;
  readonly seed: number;
  readonly found: boolean;
  /** Runs until the first failing one, that one included. */
  readonly runs: number;
  readonly msToFailure: number;
  /** From the first failure to the shrunk counterexample. */
  readonly shrinkMs: number;
  readonly shrunkLength: number;
  readonly property: string;
}

const isExplorable = (s: Suite): s is ConcurrentSuite => s.kind === "concurrent" && "actors" in s && "depth" in s;

/** The generators a suite can be run with: uniform and PCT for the race harness, else the suite's own. */
export function generatorsOf(s: Suite): readonly (Generator | "own")[] {
  return isExplorable(s) ? ["uniform", "pct"] : ["own"];
}

export const generatorName = (s: Suite, g: Generator | "own"): string =>
  g === "own" ? `${s.kind === "concurrent" ? "mixed" : "op interleavings"} (suite's own)` : g === "pct" && isExplorable(s) ? `pct(d=${s.depth},k=${s.steps})` : g;

/**
 * One seed of a suite with bugs on. Suites other than the race harness do not report when their first failure
 * was seen: it is the first onRun call after the failing run started (fast-check's first shrinking attempt).
 */
export async function runSeed(suite: Suite, generator: Generator | "own", seed: number, bugs: readonly string[], runs = MAX_RUNS): Promise<{ result: SuiteResult; msToFailure: number }> {
  if (generator !== "own" && isExplorable(suite)) {
    const r = await runConcurrentSuite(suite, { seed, runs, bugs, generator });
    return { result: r, msToFailure: r.msToFailure ?? r.durationMs };
  }
  const calls: number[] = [];
  const t0 = performance.now();
  const r = await suite.run({ seed, runs, bugs, onRun: () => void calls.push(performance.now() - t0) });
  return { result: r, msToFailure: r.runsToFailure === undefined ? r.durationMs : (calls[r.runsToFailure] ?? r.durationMs) };
}

export const RACE_BUGS = (Object.entries(BUGS) as [BugId, (typeof BUGS)[BugId]][]).filter(([, b]) => b.kind === "race").map(([id, b]) => ({ bug: id, suite: b.suite }));

export async function raceSamples(seeds: number, progress: (line: string) => void): Promise<Sample[]> {
  const out: Sample[] = [];
  for (const { bug, suite: name } of RACE_BUGS) {
    const suite = suiteNamed(name)!;
    for (const g of generatorsOf(suite)) {
      let found = 0;
      for (let seed = 1; seed <= seeds; seed++) {
        const { result: r, msToFailure } = await runSeed(suite, g, seed, [bug]);
        const ok = r.failure !== undefined;
        if (ok) found++;
        out.push({
          bug,
          suite: name,
          generator: generatorName(suite, g),
          seed,
          found: ok,
          runs: r.runsToFailure ?? r.stats.runs,
          msToFailure: ok ? msToFailure : r.durationMs,
          shrinkMs: ok ? r.durationMs - msToFailure : 0,
          shrunkLength: r.shrunkLength ?? 0,
          property: r.failure?.property ?? "",
        });
      }
      progress(`${bug} (${name}, ${generatorName(suite, g)}): found with ${found}/${seeds} seeds`);
    }
  }
  return out;
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
export const worst = (xs: readonly number[]): number => (xs.length === 0 ? NaN : Math.max(...xs));

/** Samples grouped by bug and generator, in catalog order. */
export function groups(samples: readonly Sample[]): Sample[][] {
  const by = new Map<string, Sample[]>();
  for (const s of samples) {
    const k = `${s.bug}\u0000${s.generator}`;
    by.set(k, [...(by.get(k) ?? []), s]);
  }
  return [...by.values()];
}

export function raceRows(samples: readonly Sample[]): Row[] {
  return groups(samples).map((g) => {
    const hit = g.filter((s) => s.found);
    const col = (f: (s: Sample) => number): number[] => hit.map(f);
    const secs = col((s) => s.msToFailure / 1000);
    return {
      bench: "seeded race",
      size: g[0]!.bug,
      suite: g[0]!.suite,
      generator: g[0]!.generator,
      found: `${hit.length}/${g.length}`,
      runsMed: median(col((s) => s.runs)),
      runsWorst: worst(col((s) => s.runs)),
      sMed: +median(secs).toFixed(3),
      sWorst: +worst(secs).toFixed(3),
      schedulesPerSec: Math.round(hit.reduce((n, s) => n + s.runs, 0) / hit.reduce((t, s) => t + s.msToFailure / 1000, 0)),
      target: hit.length === g.length && median(secs) < 2 && worst(secs) < 20 ? "met" : "MISSED",
    };
  });
}

/** A suite with PCT's parameters: the race harness's suites and the post-copy race. */
type PctSuite = Suite & { readonly steps: number; readonly depth: number };
const hasPct = (s: Suite): s is PctSuite => s.kind === "concurrent" && "steps" in s && "depth" in s;

/** The most actors past the setup a suite's generator gives (PCT's n); the post-copy race always has three. */
const actorsOf = (s: PctSuite): number =>
  isExplorable(s) ? Math.max(...fc.sample(s.actors, { seed: 1, numRuns: 1000 }).map((a) => a.length)) : 3;

/**
 * Each race suite's longest run (schedule steps past the setup) under each generator it offers, against its k
 * (props/concurrent/run-lengths.ts), and PCT's bound 1/(n k^(d-1)) with n its most actors.
 */
export async function runLengths(runs: number, only?: readonly string[]): Promise<Row[]> {
  const rows: Row[] = [];
  for (const suite of SUITES.filter(hasPct).filter((s) => only === undefined || only.includes(s.name))) {
    const longest: Record<string, number> = {};
    const failed: string[] = [];
    for (const g of generatorsOf(suite)) {
      const r = g === "own" || !isExplorable(suite) ? await suite.run({ seed: 1, runs }) : await runConcurrentSuite(suite, { seed: 1, runs, generator: g });
      longest[g] = r.stats.longestRun;
      // A failing run ends the suite's runs: the longest is then over fewer of them.
      if (r.failure !== undefined) failed.push(`${g === "own" ? "mixed" : g} at run ${r.runsToFailure}: ${r.failure.property}`);
    }
    const n = actorsOf(suite);
    const worst = Math.max(...Object.values(longest));
    rows.push({
      bench: "run lengths",
      size: suite.name,
      runs,
      ...Object.fromEntries(Object.entries(longest).map(([g, l]) => [`longest ${g === "own" ? "mixed" : g}`, l])),
      k: suite.steps,
      withinK: worst <= suite.steps ? "yes" : "NO",
      n,
      d: suite.depth,
      pctBound: `1/${Math.round(1 / pctBound(n, suite.steps, suite.depth))}`,
      failed: failed.join("; "),
    });
  }
  return rows;
}

/** Schedules (runs) per second of every concurrent suite with no bug on, per generator. */
export async function schedulesPerSecond(runs: number): Promise<Row[]> {
  const rows: Row[] = [];
  for (const suite of SUITES.filter((s) => s.kind === "concurrent")) {
    for (const g of generatorsOf(suite)) {
      const { result: r } = await runSeed(suite, g, 1, [], runs);
      rows.push({ bench: "schedules per second", size: suite.name, generator: generatorName(suite, g), runs: r.stats.runs, ops: r.stats.commands, schedulesPerSec: Math.round((r.stats.runs * 1000) / r.durationMs), opsPerSec: Math.round((r.stats.commands * 1000) / r.durationMs) });
    }
  }
  return rows;
}
