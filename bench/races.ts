// How fast each schedule generator finds each seeded race: for every race and generator, N seeds of the
// race's concurrent suite with the bug on; runs and seconds to the first failing run, and the size of the
// shrunk counterexample. Usage: npm run build && node dist/bench/races.js [--seeds N] [--json FILE]
import { writeFileSync } from "node:fs";
import type { BugId } from "../impl/bugs.js";
import { runConcurrentSuite } from "../props/concurrent/explore.js";
import type { Generator } from "../props/concurrent/schedules.js";
import { CONCURRENT_SUITES } from "../props/concurrent/suites.js";

const RACES: readonly { readonly bug: BugId; readonly suite: string }[] = [
  { bug: "userfault-enable-zap-early", suite: "race-userfault-enable" },
  { bug: "userfault-double-fetch", suite: "race-userfault-clear" },
  { bug: "memslot-lookup-outside-srcu", suite: "race-memslot-delete-move" },
  { bug: "memslot-invalidate-no-sync", suite: "race-memslot-delete-move" },
  { bug: "attr-store-before-invalidate", suite: "race-attributes" },
  { bug: "fault-no-invalidate-recheck", suite: "race-attributes" },
];
const GENERATORS: readonly Generator[] = ["uniform", "pct"];
/** Runs a seed may take before it counts as not found. */
const MAX_RUNS = 5000;

interface Sample {
  readonly runs: number;
  readonly seconds: number;
  readonly ops: number;
  readonly actors: number;
  readonly decisions: number;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const worst = (xs: readonly number[]): number => Math.max(...xs);

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
}

async function main(): Promise<void> {
  const seeds = Number(option("--seeds") ?? 25);
  const rows: Record<string, string | number>[] = [];
  for (const race of RACES) {
    const suite = CONCURRENT_SUITES.find((s) => s.name === race.suite)!;
    for (const generator of GENERATORS) {
      const samples: Sample[] = [];
      for (let seed = 1; seed <= seeds; seed++) {
        const r = await runConcurrentSuite(suite, { seed, runs: MAX_RUNS, bugs: [race.bug], generator });
        if (r.failure === undefined) continue;
        const actors = r.counterexample!.actors!.filter((a) => a.name !== "setup");
        samples.push({ runs: r.runsToFailure!, seconds: r.msToFailure! / 1000, ops: r.shrunkLength!, actors: actors.length, decisions: r.counterexample!.schedule!.length });
      }
      const col = (f: (s: Sample) => number): number[] => samples.map(f);
      rows.push({
        race: race.bug,
        generator: generator === "pct" ? `pct(d=${suite.depth},k=${suite.steps})` : generator,
        found: `${samples.length}/${seeds}`,
        "runs med": median(col((s) => s.runs)),
        "runs worst": worst(col((s) => s.runs)),
        "s med": +median(col((s) => s.seconds)).toFixed(3),
        "s worst": +worst(col((s) => s.seconds)).toFixed(3),
        "shrunk ops med": median(col((s) => s.ops)),
        "shrunk ops worst": worst(col((s) => s.ops)),
        "actors worst": worst(col((s) => s.actors)),
        "decisions med": median(col((s) => s.decisions)),
      });
      console.error(`${race.bug} ${generator}: ${samples.length}/${seeds} found`);
    }
  }
  const keys = Object.keys(rows[0]!);
  const width = (k: string): number => Math.max(k.length, ...rows.map((r) => String(r[k]).length));
  const line = (cells: string[]): string => cells.map((c, i) => (i < 3 ? c.padEnd(width(keys[i]!)) : c.padStart(width(keys[i]!)))).join("  ");
  console.log(line(keys));
  for (const r of rows) console.log(line(keys.map((k) => String(r[k]))));
  console.log("\nfaster per race (median runs to the first failure):");
  for (const race of RACES) {
    const [u, p] = GENERATORS.map((g) => rows.find((r) => r.race === race.bug && String(r.generator).startsWith(g))!);
    const ru = Number(u!["runs med"]);
    const rp = Number(p!["runs med"]);
    console.log(`  ${race.bug.padEnd(30)} ${ru === rp ? "tie" : ru < rp ? "uniform" : "pct"} (uniform ${ru}, pct ${rp})`);
  }
  const json = option("--json");
  if (json !== undefined) writeFileSync(json, `${JSON.stringify({ seeds, maxRuns: MAX_RUNS, rows }, null, 2)}\n`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
