// npm run bench: every benchmark as a table with how its cost grows, bench/results.json (written atomically) and
// the chart of the implementation at scale, docs/bench-scale.svg. Never part of npm test.
// Options: --only NAME[,NAME] (overhead, harness, startup, rangemap, bitmap, races, lengths, shrink, scale, check,
// prove, postcopy; postcopy writes docs/bench-postcopy.md and .svg even under --only), --reps N (interleaved repetitions behind every target's min / median / max, default 5), --baseline REV (also
// run kvm-anon-x86 as built at that revision, bench/baseline.ts), --check-reps N (full checks per worker count,
// default 5), --seeds N (per race and generator, default 20), --length-runs N (runs per race suite and generator,
// default 1000), --length-suites NAME[,NAME] (the race suites to measure, default all), --conversions N (per file
// size, default 1000000). The last table, "targets", is every target of issue 21 as measured in this run.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, cpus, release, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { replaceAtomically } from "../cli/files.js";
import { suiteNamed } from "../props/registry.js";
import { scaleChart } from "./chart.js";
import { FILE_SIZES, gmemConvertBench, randomConversionsBench } from "./gmem-convert.js";
import { postcopyScaleBench } from "./postcopy-scale.js";
import { baselineSuite } from "./baseline.js";
import { harnessBench, suiteAgainstBare } from "./harness.js";
import { growthRows, proveRows } from "./prove.js";
import { rangemapBench } from "./rangemap.js";
import { show, spread, type Spread } from "./ratio.js";
import { startupBench } from "./startup.js";
import { raceRows, raceSamples, runLengths, schedulesPerSecond } from "./races.js";
import { GiB, SLOT_COUNTS, SLOT_SIZES, bitmapBench, memslotLookupBench, userfaultEnableBench, type Row } from "./scale.js";
import { recordedLengths, sequentialSamples, shortest, shrinkRows } from "./shrink.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

export interface Table {
  readonly name: string;
  readonly title: string;
  readonly rows: readonly Row[];
  /** How the cost grows with the size, measured. */
  readonly growth?: string;
}

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
}

/** The exponent k of cost ∝ size^k between the smallest and the largest size, in words. */
export function growth(sizes: readonly number[], costs: readonly number[], what: string): string {
  const k = Math.log(costs[costs.length - 1]! / costs[0]!) / Math.log(sizes[sizes.length - 1]! / sizes[0]!);
  const shape = Math.abs(k) < 0.15 ? "flat" : Math.abs(k - 1) < 0.15 ? "linear" : k < 1 ? "sublinear" : "superlinear";
  const span = `x${(sizes[sizes.length - 1]! / sizes[0]!).toPrecision(3)} in size, x${(costs[costs.length - 1]! / costs[0]!).toPrecision(3)} in cost`;
  return `${what}: ${shape} (cost ∝ size^${k.toFixed(2)}; ${span})`;
}

const num = (r: Row, k: string): number => Number(r[k]);
/** The median of a "min / median / max" figure. */
const median = (r: Row, k: string): number => Number(String(r[k]).split(" / ")[1]);

/** Issue 21's targets as this run measured them: filled in by each part that ran. */
const targets: Row[] = [];
function target(item: string, what: string, measured: Spread, goal: string, met: boolean, digits = 2): void {
  targets.push({ bench: "target", item, size: what, measured: show(measured, digits), target: goal, met: met ? "yes" : "NO" });
}

/** Item 1: the suite against bare fast-check and, with --baseline, against the same suite at another revision. */
async function overheadTables(reps: number, baselineRev: string | undefined): Promise<Table[]> {
  const base = baselineRev === undefined ? undefined : await baselineSuite(baselineRev);
  const one = await suiteAgainstBare(reps, base?.suite);
  target("1", "kvm-anon-x86 µs/command over bare fc.asyncModelRun", one.overBare, "<= 30", one.overBare.median <= 30, 1);
  if (one.baselineOverNew !== undefined) {
    target("1", `throughput over the baseline ${base!.commit.slice(0, 7)}`, one.baselineOverNew, ">= 3", one.baselineOverNew.median >= 3);
  }
  const title = `1. µs per command, ${reps} interleaved repetitions (min / median / max): bare fc.asyncModelRun, the suite here${base === undefined ? "" : ` and at ${base.commit.slice(0, 7)}`}`;
  return [{ name: "suite-against-bare", title, rows: one.rows }];
}

async function harnessTables(): Promise<Table[]> {
  const h = await harnessBench();
  const lengths = h.overhead.map((r) => Number(/<= (\d+)/.exec(String(r.size))![1]));
  return [
    {
      name: "harness-overhead",
      title: "1. Harness overhead: µs per command, kvm-anon-x86 (model + impl + every check) beside a bare fc.commands over a counter",
      rows: h.overhead,
      growth: growth(lengths, h.overhead.map((r) => num(r, "suiteUs")), "suite µs per command against the command-list length (states grow with the list)"),
    },
    { name: "harness-breakdown", title: "1. Where a command's time goes (kvm-anon-x86, lists of <= 60 commands)", rows: h.breakdown },
    { name: "suite-throughput", title: "1. Every sequential suite at its own settings, 150 runs", rows: h.suites },
  ];
}

async function raceTables(seeds: number): Promise<{ tables: Table[]; samples: Awaited<ReturnType<typeof raceSamples>> }> {
  const samples = await raceSamples(seeds, (l) => console.error(`  ${l}`));
  // Item 5: found and shrunk, per race (over every seed and generator): the slowest race's median and the worst.
  const total = (s: (typeof samples)[number]): number => (s.msToFailure + s.shrinkMs) / 1000;
  const byRace = new Map<string, number[]>();
  for (const s of samples) byRace.set(s.bug, [...(byRace.get(s.bug) ?? []), total(s)]);
  const medians = [...byRace.values()].map((xs) => spread(xs).median);
  const worstS = Math.max(...samples.map(total));
  const slowest = spread([Math.max(...medians)]);
  target("5", "seconds to find and shrink a seeded race: the slowest race's median", slowest, "< 1", slowest.median < 1);
  target("5", "seconds to find and shrink a seeded race: the worst seed", spread([worstS]), "< 10", worstS < 10);
  const sps = await schedulesPerSecond(300);
  return {
    samples,
    tables: [
      { name: "races", title: `2. Seeded races: runs and seconds to the first failure over ${seeds} seeds (at most 5000 runs each); target median < 2 s, worst < 20 s`, rows: raceRows(samples) },
      { name: "schedules", title: "2. Schedules per second of every concurrent suite, no bug on (300 runs, seed 1)", rows: sps },
    ],
  };
}

async function shrinkTables(raceSamplesDone: Awaited<ReturnType<typeof raceSamples>>, seeds: number): Promise<Table[]> {
  const seq = await sequentialSamples(seeds, (l) => console.error(`  ${l}`));
  const all = [...seq, ...raceSamplesDone];
  const known = await shortest(all, recordedLengths(join(ROOT, "counterexamples"), suiteNamed));
  return [{ name: "shrinking", title: `3. Shrinking: seconds from the first failure to the counterexample, and its length (operations past the setup); target <= shortest known + 2`, rows: shrinkRows(all, known) }];
}

/** Item 3: the bitmap scan against C, its target from the worst size. */
function bitmapTable(reps: number): Table {
  const b = bitmapBench(reps);
  const worst = b.overBestC.reduce((w, s) => (s.median > w.median ? s : w));
  target("3", `bitmap scan over the best flat C scan, worst size (${SLOT_SIZES[b.overBestC.indexOf(worst)]! / GiB} GiB)`, worst, "<= 2", worst.median <= 2);
  const sizes = SLOT_SIZES.map((x) => x / GiB);
  return {
    name: "bitmap",
    title: `4. Userfault bitmap: scan for set bits (one per 16 MiB) and clear, TypeScript against gcc -O2 (${reps} repetitions, min / median / max); target scan within 2x of the best C`,
    rows: b.rows,
    growth: [growth(sizes, b.rows.map((r) => median(r, "tsScanMs")), "TS scan"), growth(sizes, b.rows.map((r) => median(r, "cFlatScanMs")), "best C scan")].join("; "),
  };
}

async function scaleTables(conversions: number, reps: number): Promise<Table[]> {
  const bitmapT = bitmapTable(reps);
  const enable = await userfaultEnableBench();
  const lookup = memslotLookupBench();
  const convert1g = await gmemConvertBench();
  const random = await randomConversionsBench(conversions);
  const bySize = enable.filter((r) => num(r, "mappings") === 4096);
  const byMapped = enable.filter((r) => String(r.size).startsWith("1024 GiB")).sort((a, b) => num(a, "mappings") - num(b, "mappings"));
  const fixed = random.filter((r) => String(r.bench).includes("4 KiB"));
  const scaled = random.filter((r) => String(r.bench).includes("scaled"));
  const sizes = SLOT_SIZES.map((b) => b / GiB);
  return [
    bitmapT,
    {
      name: "userfault-enable",
      title: "4. Enabling USERFAULT on a slot with a sparse stage-2 table (impl with and without the zap-all quirk; model without)",
      rows: enable,
      growth: [growth(sizes, bySize.map((r) => num(r, "zapSlotMs")), "impl against slot size"), growth(byMapped.map((r) => num(r, "mappings")), byMapped.map((r) => num(r, "zapSlotMs")), "impl against mappings (1 TiB)")].join("; "),
    },
    {
      name: "memslot-lookup",
      title: "4. gfn -> memslot at random gfns",
      rows: lookup,
      growth: [growth(SLOT_COUNTS, lookup.map((r) => num(r, "implNsPerLookup")), "impl"), growth(SLOT_COUNTS, lookup.map((r) => num(r, "modelNsPerLookup")), "model")].join("; "),
    },
    { name: "gmem-convert-1g", title: "4. Converting 1 GiB in the middle of a 1 TiB guest_memfd with pages present around it (best of 3 / 5)", rows: convert1g },
    {
      name: "gmem-random-conversions",
      title: `4. ${conversions} random-range conversions per guest_memfd size (impl), and the first 20000 of them in the model`,
      rows: random,
      growth: [
        growth(FILE_SIZES, scaled.map((r) => num(r, "usPerConversion")), "ranges scaled to the file, against file size"),
        growth(FILE_SIZES, fixed.map((r) => num(r, "usPerConversion")), "4 KiB-2 MiB ranges, against file size"),
        growth(fixed.map((r) => num(r, "rangesAtEnd")), fixed.map((r) => num(r, "usLastTenth")), "4 KiB-2 MiB ranges, last tenth against ranges held"),
      ].join("; "),
    },
  ];
}

/**
 * Wall time of the default check with one worker and with every CPU, same seed, from a scratch directory, `reps`
 * times interleaved; the reports must be identical apart from durations.
 */
function checkTables(reps: number): Table[] {
  const cli = join(ROOT, "dist", "cli", "main.js");
  const n = availableParallelism();
  const reports: string[] = [];
  const wall = new Map<number, number[]>([[1, []], [n, []]]);
  const rows: Row[] = [];
  for (let r = 0; r < reps; r++) {
    for (const workers of [1, n]) {
      const dir = mkdtempSync(join(tmpdir(), "faultline-bench-"));
      const load = readFileSync("/proc/loadavg", "utf8").split(" ")[0];
      const t0 = performance.now();
      const p = spawnSync(process.execPath, [cli, "check", "--seed", "1", "--json", "--workers", String(workers)], { cwd: dir, encoding: "utf8", maxBuffer: 1 << 26 });
      const s = (performance.now() - t0) / 1000;
      rmSync(dir, { recursive: true, force: true });
      // Exit 1 (a failure, or coverage minimums unmet) still times the same work; 2 and 3 do not.
      if (p.status !== 0 && p.status !== 1) throw new Error(`faultline check --workers ${workers} exited ${p.status}: ${p.stderr}`);
      const doc = JSON.parse(p.stdout) as { failures: number; suites: { commands: number }[] };
      reports.push(JSON.stringify(doc, (k, v: unknown) => (k === "durationMs" ? 0 : v)));
      wall.get(workers)!.push(s);
      const header = p.stderr.split("\n")[0];
      rows.push({ bench: "faultline check --seed 1", size: `--workers ${workers}, repetition ${r + 1}`, loadAtStart: String(load), wallS: +s.toFixed(1), suites: doc.suites.length, commands: doc.suites.reduce((t, x) => t + x.commands, 0), failures: doc.failures, exit: p.status ?? "", header: header ?? "" });
    }
  }
  const speedup = spread(wall.get(1)!.map((s, i) => s / wall.get(n)![i]!));
  target("4", `the default check, ${n} workers over 1 (machine load in the table)`, speedup, ">= 1.7 on idle cores", speedup.median >= 1.7);
  const same = reports.every((x) => x === reports[0]);
  return [{ name: "check-workers", title: `Worker threads: the default check, one worker and ${n}, ${reps} repetitions: ${show(speedup)}x faster; reports identical minus durations: ${same ? "yes" : "NO"}`, rows }];
}

function print(t: Table): void {
  const keys = [...new Set(t.rows.flatMap((r) => Object.keys(r)))].filter((k) => k !== "bench");
  const width = (k: string): number => Math.max(k.length, ...t.rows.map((r) => String(r[k] ?? "").length));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 || Number.isNaN(Number(c)) ? c.padEnd(width(keys[i]!)) : c.padStart(width(keys[i]!)))).join("  ");
  console.log(`\n${t.title}`);
  console.log(line(keys));
  for (const r of t.rows) console.log(line(keys.map((k) => String(r[k] ?? ""))));
  if (t.growth !== undefined) console.log(`growth: ${t.growth}`);
}

function machine(): Record<string, string | number> {
  const cpu = cpus()[0]?.model ?? "unknown";
  let kernel = release();
  try {
    kernel = execFileSync("uname", ["-r"], { encoding: "utf8" }).trim();
  } catch {
    // uname missing: os.release() is the same string
  }
  return { node: process.version, cpus: availableParallelism(), cpu, kernel, loadAverageAtStart: readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ") };
}

async function main(): Promise<void> {
  const only = option("--only")?.split(",");
  const want = (name: string): boolean => only === undefined || only.includes(name);
  const seeds = Number(option("--seeds") ?? 20);
  const reps = Number(option("--reps") ?? 5);
  const conversions = Number(option("--conversions") ?? 1_000_000);
  const started = new Date();
  const info = machine();
  console.log(`faultline benchmarks, ${started.toISOString()}: ${info.cpus} x ${info.cpu}, Linux ${info.kernel}, Node ${info.node}, load ${info.loadAverageAtStart}`);
  const tables: Table[] = [];
  const run = async (name: string, f: () => Promise<Table[]> | Table[]): Promise<void> => {
    if (!want(name)) return;
    const t0 = performance.now();
    console.error(`${name}...`);
    for (const t of await f()) {
      tables.push(t);
      print(t);
    }
    console.error(`${name}: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  };
  await run("overhead", () => overheadTables(reps, option("--baseline")));
  await run("harness", harnessTables);
  await run("startup", async () => {
    const s = await startupBench(Math.max(reps, 10));
    target("6", "faultline --help over node -e 0", s.help, "<= 1.3", s.help.median <= 1.3);
    target("6", "first line of faultline check --suite kvm-anon-x86 over node -e 0", s.checkHeader, "<= 3", s.checkHeader.median <= 3);
    return [{ name: "startup", title: `6. Start-up, ${Math.max(reps, 10)} interleaved repetitions (min / median / max ms)`, rows: s.rows }];
  });
  await run("rangemap", async () => {
    const r = await rangemapBench(reps);
    target("2", "µs per conversion at 1 000 000 ranges over 10 000", r.conversionGrowth, "<= 1.5", r.conversionGrowth.median <= 1.5);
    const title = `2. Ranges held: chunked against flat RangeMap, µs per set (a toggle merges three spans, then splits them), and whole conversions, ${reps} interleaved repetitions (min / median / max)`;
    return [{ name: "rangemap", title, rows: r.rows }];
  });
  let races: Awaited<ReturnType<typeof raceSamples>> = [];
  await run("races", async () => {
    const r = await raceTables(seeds);
    races = r.samples;
    return r.tables;
  });
  await run("lengths", async () => {
    const runs = Number(option("--length-runs") ?? 1000);
    const title =
      `2. Run lengths: each race suite's longest run (steps past the setup) over ${runs} runs per generator (seed 1), ` +
      "against PCT's k, and PCT's bound 1/(n k^(d-1))";
    const only = option("--length-suites")?.split(",");
    return [{ name: "run-lengths", title, rows: await runLengths(runs, only) }];
  });
  await run("shrink", async () => shrinkTables(races.length > 0 ? races : (await raceTables(Math.min(seeds, 5))).samples, Math.min(seeds, 10)));
  if (!want("scale")) await run("bitmap", () => [bitmapTable(reps)]);
  await run("scale", () => scaleTables(conversions, reps));
  await run("check", () => checkTables(Number(option("--check-reps") ?? 5)));
  await run("prove", async () => [
    { name: "prove-scopes", title: "6. faultline prove: each scope with DPOR and sleep sets, against brute force (capped at 4000 runs) and the naive count", rows: await proveRows() },
    { name: "prove-growth", title: "6. How the explored count grows: race-userfault-clear with more operations and actors", rows: await growthRows() },
  ]);
  await run("postcopy", async () => {
    const r = await postcopyScaleBench();
    replaceAtomically(join(ROOT, "docs", "bench-postcopy.svg"), r.svg);
    replaceAtomically(join(ROOT, "docs", "bench-postcopy.md"), r.markdown);
    console.error("wrote docs/bench-postcopy.md and docs/bench-postcopy.svg");
    return [
      { name: "postcopy-scale", title: "Post-copy at scale: counted per fault by the model, fault-service time and lock contention by MVA with cited latencies", rows: r.rows },
      { name: "postcopy-calibration", title: "Post-copy at scale: the calibration against the paging rates it came from (no network)", rows: r.validation },
    ];
  });
  if (targets.length > 0) {
    const t: Table = { name: "targets", title: "Targets of issue 21, each a ratio measured within one repetition (min / median / max); met by the median", rows: targets };
    tables.push(t);
    print(t);
  }
  const doc = {
    date: started.toISOString(),
    command: `node dist/bench/run.js ${process.argv.slice(2).join(" ")}`.trim(),
    machine: info,
    durationS: Math.round((Date.now() - started.getTime()) / 1000),
    tables: Object.fromEntries(tables.map((t) => [t.name, { title: t.title, ...(t.growth === undefined ? {} : { growth: t.growth }), rows: t.rows }])),
  };
  if (only !== undefined) {
    console.log("\n--only: bench/results.json and the chart are left as they are");
    return;
  }
  replaceAtomically(join(ROOT, "bench", "results.json"), `${JSON.stringify(doc, null, 2)}\n`);
  replaceAtomically(join(ROOT, "docs", "bench-scale.svg"), scaleChart(Object.fromEntries(tables.map((t) => [t.name, t.rows]))));
  console.log(`\nwrote bench/results.json and docs/bench-scale.svg (${doc.durationS} s)`);
}

await main();
