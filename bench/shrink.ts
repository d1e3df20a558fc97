// Shrinking: for every seeded bug, the time from the first failure to the shrunk counterexample and its length
// (operations past the setup), next to the shortest reproduction known: the shortest of the recorded
// counterexamples/, of every seed here, and of a bounded exhaustive search below it (sequential bugs).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BUGS, type BugId } from "../impl/bugs.js";
import { Checker, PropertyFailure } from "../props/checker.js";
import { suiteNamed } from "../props/registry.js";
import type { Suite } from "../props/suite.js";
import type { Config } from "../schema/config.js";
import type { Op } from "../schema/ops.js";
import { median, runSeed, worst, type Sample } from "./races.js";
import type { Row } from "./scale.js";

/** A sequential sample keeps its shrunk operations: the alphabet of the exhaustive search. */
export interface SequentialSample extends Sample {
  readonly ops: readonly Op[];
}

type SequentialSuite = Suite & { readonly config: Config; readonly setup: readonly Op[] };
const hasSetup = (s: Suite): s is SequentialSuite => "setup" in s && "config" in s;

export const SEQUENTIAL_BUGS = (Object.entries(BUGS) as [BugId, (typeof BUGS)[BugId]][]).filter(([, b]) => b.kind === "sequential").map(([id, b]) => ({ bug: id, suite: b.suite }));

export async function sequentialSamples(seeds: number, progress: (line: string) => void): Promise<SequentialSample[]> {
  const out: SequentialSample[] = [];
  for (const { bug, suite: name } of SEQUENTIAL_BUGS) {
    const suite = suiteNamed(name)!;
    for (let seed = 1; seed <= seeds; seed++) {
      const { result: r, msToFailure } = await runSeed(suite, "own", seed, [bug]);
      const steps = (r.counterexample?.steps ?? []) as Op[];
      const n = r.shrunkLength ?? 0;
      out.push({
        bug,
        suite: name,
        generator: "op lists",
        seed,
        found: r.failure !== undefined,
        runs: r.runsToFailure ?? r.stats.runs,
        msToFailure,
        shrinkMs: r.failure === undefined ? 0 : r.durationMs - msToFailure,
        shrunkLength: n,
        property: r.failure?.property ?? "",
        ops: steps.slice(steps.length - n),
      });
    }
    progress(`${bug} (${name}): shrunk with ${seeds} seeds`);
  }
  return out;
}

/** Operations past the setup of each seeded-bug demonstration in counterexamples/, by bug. */
export function recordedLengths(dir: string, suiteOf: (name: string) => Suite | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (const f of readdirSync(dir).filter((x) => x.endsWith(".json"))) {
    const s = JSON.parse(readFileSync(join(dir, f), "utf8")) as { config: { bugs?: string[] }; steps?: unknown[]; actors?: { name: string; steps: unknown[] }[]; provenance?: { suite?: string } };
    const bugs = s.config.bugs ?? [];
    if (bugs.length !== 1) continue;
    const suite = suiteOf(s.provenance?.suite ?? "");
    const n = s.steps !== undefined ? (suite !== undefined && hasSetup(suite) ? s.steps.length - suite.setup.length : undefined) : s.actors!.filter((a) => a.name !== "setup").reduce((k, a) => k + a.steps.length, 0);
    if (n !== undefined) out.set(bugs[0]!, Math.min(out.get(bugs[0]!) ?? Infinity, n));
  }
  return out;
}

/** Whether some list of exactly `length` ops of the alphabet fails on the suite with the bug on; counts lists tried. */
async function anyFailing(suite: SequentialSuite, bug: string, alphabet: readonly Op[], length: number, budget: { left: number }): Promise<boolean | undefined> {
  const config = { ...suite.config, bugs: [bug] };
  const pick: number[] = Array.from({ length }, () => 0);
  for (;;) {
    if (budget.left-- <= 0) return undefined;
    const checker = new Checker(config);
    try {
      await checker.applyAll(suite.setup);
      await checker.applyAll(pick.map((i) => alphabet[i]!));
    } catch (e) {
      if (e instanceof PropertyFailure) return true;
      throw e;
    }
    let k = 0;
    while (k < length && ++pick[k]! === alphabet.length) pick[k++] = 0;
    if (k === length) return false;
  }
}

/** Lists tried by the exhaustive search per bug; past it the search stops and says so. */
export const SEARCH_BUDGET = 20_000;

export interface Shortest {
  readonly length: number;
  readonly source: string;
}

/**
 * The shortest reproduction known per bug. For sequential bugs, every list of fewer operations than that, built
 * from the operations of all shrunk counterexamples of the bug, is tried (within SEARCH_BUDGET lists): a shorter
 * failing one replaces it. A race needs at least two operations, one per thread.
 */
export async function shortest(samples: readonly Sample[], recorded: ReadonlyMap<string, number>): Promise<Map<string, Shortest>> {
  const out = new Map<string, Shortest>();
  for (const bug of [...new Set(samples.map((s) => s.bug))]) {
    const mine = samples.filter((s) => s.bug === bug && s.found);
    const fromSeeds = Math.min(...mine.map((s) => s.shrunkLength));
    const fromFile = recorded.get(bug) ?? Infinity;
    let best: Shortest = fromFile <= fromSeeds ? { length: fromFile, source: "counterexamples/" } : { length: fromSeeds, source: "shortest of the seeds" };
    if (!Number.isFinite(best.length)) continue;
    const suite = suiteNamed(mine[0]!.suite)!;
    if (BUGS[bug as BugId].kind === "race") {
      best = { ...best, source: `${best.source}${best.length === 2 ? "; minimal (a race takes two threads)" : ""}` };
    } else if (best.length === 1) {
      best = { ...best, source: `${best.source}; minimal` };
    } else if (hasSetup(suite)) {
      const alphabet = [...new Map((mine as SequentialSample[]).flatMap((s) => s.ops).map((op) => [JSON.stringify(op), op])).values()];
      // A counterexample without operation steps (a suite whose scenarios are actors or events) leaves nothing to search.
      if (alphabet.length === 0) {
        out.set(bug, { ...best, source: `${best.source}; no operations of its own to search` });
        continue;
      }
      const budget = { left: SEARCH_BUDGET };
      let found: number | undefined;
      let complete = true;
      for (let n = 1; n < best.length && found === undefined; n++) {
        const r = await anyFailing(suite, bug, alphabet, n, budget);
        if (r === undefined) complete = false;
        if (r === true) found = n;
        if (r === undefined) break;
      }
      const tried = SEARCH_BUDGET - Math.max(0, budget.left);
      best =
        found !== undefined
          ? { length: found, source: `exhaustive search over ${alphabet.length} ops (${tried} lists)` }
          : { ...best, source: `${best.source}; ${complete ? "none shorter" : "no shorter one found"} among ${tried} lists of its ${alphabet.length} ops${complete ? "" : " (search budget reached)"}` };
    }
    out.set(bug, best);
  }
  return out;
}

export function shrinkRows(samples: readonly Sample[], known: ReadonlyMap<string, Shortest>): Row[] {
  const keys = [...new Set(samples.map((s) => `${s.bug}\u0000${s.generator}`))];
  return keys.map((k) => {
    const [bug, generator] = k.split("\u0000") as [string, string];
    const hit = samples.filter((s) => s.bug === bug && s.generator === generator && s.found);
    const lengths = hit.map((s) => s.shrunkLength);
    const short = known.get(bug);
    const limit = short === undefined ? NaN : short.length + 2;
    return {
      bench: "shrinking",
      size: bug,
      kind: BUGS[bug as BugId].kind,
      generator,
      shrunk: hit.length,
      shrinkSMed: +median(hit.map((s) => s.shrinkMs / 1000)).toFixed(3),
      shrinkSWorst: +worst(hit.map((s) => s.shrinkMs / 1000)).toFixed(3),
      lengthMed: median(lengths),
      lengthWorst: worst(lengths),
      shortestKnown: short?.length ?? "",
      target: worst(lengths) <= limit ? "met" : "MISSED",
      shortestFrom: short?.source ?? "",
    };
  });
}
