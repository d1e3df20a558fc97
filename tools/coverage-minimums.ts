// How the minimums of props/minimums.ts are chosen: run the default check at many seeds, take each invariant's,
// linearizability check's, errno rule's and exit's smallest count, and propose half of it. Lines whose smallest
// count is under 4 are too rare to hold a minimum at any seed: the generators must reach them more often.
// npm run coverage:minimums -- [first seed] [seeds]
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { coverageOf, type CoverageLine } from "../props/minimums.js";
import { Stats } from "../props/stats.js";

const CLI = fileURLToPath(new URL("../cli/main.js", import.meta.url));

interface SuiteJson {
  readonly suite: string;
  readonly invariants: Record<string, { checked: number; nonVacuous: number }>;
  readonly rules: Record<string, number>;
  readonly bounds?: Record<string, number[]>;
  readonly features?: Record<string, number>;
}

/** The per-suite counts of `faultline check --seed S --json`, as Stats. */
export function statsOf(suites: readonly SuiteJson[]): { suite: string; stats: Stats }[] {
  return suites.map((s) => {
    const stats = new Stats();
    for (const [k, v] of Object.entries(s.invariants)) stats.invariants.set(k, { ...v });
    for (const [k, v] of Object.entries(s.rules)) stats.rules.set(k, v);
    for (const [k, v] of Object.entries(s.bounds ?? {})) stats.bounds.set(k, [...v]);
    for (const [k, v] of Object.entries(s.features ?? {})) stats.features.set(k, v);
    return { suite: s.suite, stats };
  });
}

function checkAt(seed: number): readonly CoverageLine[] {
  // A scratch directory: a failing check writes its counterexample under the current directory.
  const r = spawnSync(process.execPath, [CLI, "check", "--seed", String(seed), "--json"], { cwd: mkdtempSync(join(tmpdir(), "faultline-minimums-")), encoding: "utf8", maxBuffer: 1 << 28 });
  if (r.status === 2 || r.status === 3 || r.stdout === "") throw new Error(`check --seed ${seed} exited ${r.status}: ${r.stderr}`);
  return coverageOf(statsOf((JSON.parse(r.stdout) as { suites: SuiteJson[] }).suites)).lines;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const first = Number(process.argv[2] ?? 1);
  const count = Number(process.argv[3] ?? 8);
  const smallest = new Map<string, { line: CoverageLine; min: number; max: number }>();
  for (let seed = first; seed < first + count; seed++) {
    for (const l of checkAt(seed)) {
      const key = `${l.kind} ${l.name}`;
      const was = smallest.get(key);
      smallest.set(key, { line: l, min: Math.min(was?.min ?? Infinity, l.count), max: Math.max(was?.max ?? 0, l.count) });
    }
    process.stderr.write(`seed ${seed} done\n`);
  }
  console.log(`counts over seeds ${first}..${first + count - 1}: kind name min max proposed-minimum`);
  for (const [key, { line, min, max }] of smallest) {
    if (line.kind === "rule" && line.errno === undefined) continue;
    const proposed = Math.max(1, Math.floor(min / 2));
    console.log(`${key} ${min} ${max} ${min < 4 ? `TOO RARE${line.unreachable === undefined ? "" : " (unreachable)"}` : proposed}`);
  }
}
