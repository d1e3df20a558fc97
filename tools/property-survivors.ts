// The ledger of the property-only mutation score's survivors (docs/MUTATION.md, "Property-only score"): every sampled
// mutant that `faultline check` did not kill, in docs/mutation/property-survivors.json, with a category and a one-line
// reason. The tool groups the survivors of docs/mutation/property/<area>.json by file and mutator, says which have no
// entry and which entries name no survivor, and drafts entries for the missing ones. Only report text is drafted
// with a category of its own (a string inside an Error, a failure's detail, a bound's label); everything else is
// drafted as "gap", unexamined, until someone reads it.
// npm run mutation:survivors             groups and problems; exit 1 when the ledger and the reports disagree
// npm run mutation:survivors -- --draft  adds an entry for every survivor without one and drops the entries of mutants
//                                        no longer surviving (a rerun killed them); the others stay as written
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { AREAS, reportPath, wilson, type Area, type AreaReport, type Judged } from "./property-mutation.js";

/** What a survivor is, so that the score's gaps can be told from what no check should catch. */
export const CATEGORIES = {
  gap: "the check should catch it and does not, at the judge's budget: a generator, bound or property is missing",
  "report-text": "changes only text a human reads: an Error's message, an invariant's failure detail, a bound's label",
  equivalent: "no observable difference in any state the check can build (the reason says why)",
  "seeded-bug-only": "changes code that runs only with a seeded bug enabled (impl/bugs.ts); the check runs with none",
  "oracle-weakened": "makes an invariant (or the model's allowed alternatives) accept more; the unmodified implementation meets the stronger one, so no run can fail",
  "coverage-count": "changes only a coverage count (non-vacuity, a bound's side); the full check's minimums read it, the judge's shard of runs does not",
  "outside-check": "changes code `faultline check` never runs (the reason names the path that does)",
} as const;
export type Category = keyof typeof CATEGORIES;

export interface Entry {
  readonly id: string;
  readonly area: Area;
  readonly category: Category;
  readonly reason: string;
}

export interface Ledger {
  readonly entries: readonly Entry[];
}

export const LEDGER_PATH = "docs/mutation/property-survivors.json";

export function readReports(root = "."): AreaReport[] {
  return AREAS.filter((a) => existsSync(resolve(root, reportPath(a)))).map((a) => JSON.parse(readFileSync(resolve(root, reportPath(a)), "utf8")) as AreaReport);
}

export function readLedger(root = "."): Ledger {
  const path = resolve(root, LEDGER_PATH);
  return existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as Ledger) : { entries: [] };
}

export const survivors = (reports: readonly AreaReport[]): (Judged & { area: Area })[] =>
  reports.flatMap((r) => r.judged.filter((j) => j.status === "survived").map((j) => ({ ...j, area: r.area })));

/** Survivors without an entry, entries that name no survivor (stale), and entries that are malformed. */
export function ledgerProblems(reports: readonly AreaReport[], ledger: Ledger): string[] {
  const alive = new Map(survivors(reports).map((s) => [`${s.area} ${s.id}`, s]));
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const e of ledger.entries) {
    const key = `${e.area} ${e.id}`;
    if (seen.has(key)) problems.push(`${LEDGER_PATH}: ${key}: two entries`);
    seen.add(key);
    if (!alive.has(key)) problems.push(`${LEDGER_PATH}: ${key}: no such survivor in ${reportPath(e.area)} (stale entry)`);
    if (!(e.category in CATEGORIES)) problems.push(`${LEDGER_PATH}: ${key}: category "${e.category}", expected one of ${Object.keys(CATEGORIES).join(", ")}`);
    if (e.reason.trim() === "") problems.push(`${LEDGER_PATH}: ${key}: no reason`);
  }
  for (const key of alive.keys()) if (!seen.has(key)) problems.push(`${LEDGER_PATH}: ${key}: a survivor with no entry`);
  return problems;
}

/** StrykerJS's score of `npm test` per area, from docs/MUTATION.md's "Score" (the folders of each area). */
export const STRYKER: Readonly<Record<Area, string>> = {
  core: "98.1% / 97.4%",
  kvm: "92.1% / 96.0%",
  gmem: "94.0% / 93.8%",
  mm: "94.6% / 92.7%",
  uffd: "90.7% / 93.3%",
  util: "99.4% / -",
};

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

/**
 * The per-area table of docs/MUTATION.md: the property-only kill rate with its 95% interval (every survivor counts
 * as not killed, whatever its category), next to Stryker's score of `npm test`, and the survivors by category.
 */
export function scoreTable(reports: readonly AreaReport[], ledger: Ledger): string[] {
  const cats = Object.keys(CATEGORIES) as Category[];
  const rows = reports.map((r) => {
    const n = r.judged.length;
    const k = r.judged.filter((j) => j.status !== "survived").length;
    const [lo, hi] = wilson(k, n);
    const by = cats.map((c) => ledger.entries.filter((e) => e.area === r.area && e.category === c).length);
    const explained = by.slice(1).reduce((a, b) => a + b, 0);
    return `| ${r.area} | ${n} of ${r.population} | ${k} | **${pct(k / n)}** | ${pct(lo)}-${pct(hi)} | ${pct((k + explained) / n)} | ${by.join(" | ")} | ${STRYKER[r.area]} |`;
  });
  return [
    `| area | sampled | killed | score | 95% CI | killed + explained | ${cats.join(" | ")} | Stryker, npm test (impl / model) |`,
    `|---|---:|---:|---:|---:|---:|${cats.map(() => "---:|").join("")}---:|`,
    ...rows,
  ];
}

/** The draft for a survivor nobody has read: report text when it is recognisably so, else an unexamined gap. */
export function draft(s: Judged & { area: Area }, line: string): Entry {
  const text = s.mutator === "StringLiteral" && /throw new Error\(|broken\(|limitName:|unitName:/.test(line);
  return text
    ? { id: s.id, area: s.area, category: "report-text", reason: `a string in ${/throw new Error\(/.test(line) ? "an Error's message" : /broken\(/.test(line) ? "an invariant's failure detail" : "a bound's label"}` }
    : { id: s.id, area: s.area, category: "gap", reason: "unexamined" };
}

function writeLedger(ledger: Ledger): void {
  const sorted = [...ledger.entries].sort((a, b) => a.area.localeCompare(b.area) || a.id.localeCompare(b.id, "en"));
  writeFileSync(`${LEDGER_PATH}.tmp`, `${JSON.stringify({ entries: sorted }, null, 1)}\n`);
  renameSync(`${LEDGER_PATH}.tmp`, LEDGER_PATH);
}

function main(args: readonly string[]): number {
  const reports = readReports();
  const ledger = readLedger();
  if (args.includes("--draft")) {
    const have = new Set(ledger.entries.map((e) => `${e.area} ${e.id}`));
    const lines = new Map<string, string[]>();
    const added = survivors(reports)
      .filter((s) => !have.has(`${s.area} ${s.id}`))
      .map((s) => {
        if (!lines.has(s.file)) lines.set(s.file, readFileSync(s.file, "utf8").split("\n"));
        return draft(s, lines.get(s.file)![s.line - 1] ?? "");
      });
    const alive = new Set(survivors(reports).map((s) => `${s.area} ${s.id}`));
    const kept = ledger.entries.filter((e) => alive.has(`${e.area} ${e.id}`));
    writeLedger({ entries: [...kept, ...added] });
    console.log(`${added.length} entries drafted, ${ledger.entries.length - kept.length} of mutants no longer surviving dropped`);
    return 0;
  }
  const category = new Map(ledger.entries.map((e) => [`${e.area} ${e.id}`, e.category]));
  for (const r of reports) {
    const alive = survivors([r]);
    console.log(`${r.area}: ${alive.length} survivors of ${r.judged.length}`);
    const groups = new Map<string, Map<string, number>>();
    for (const s of alive) {
      const g = `${s.file} ${s.mutator}`;
      const byCategory = groups.get(g) ?? new Map<string, number>();
      const c = category.get(`${s.area} ${s.id}`) ?? "(none)";
      byCategory.set(c, (byCategory.get(c) ?? 0) + 1);
      groups.set(g, byCategory);
    }
    for (const [g, byCategory] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
      console.log(`  ${g.padEnd(60)} ${[...byCategory].map(([c, n]) => `${c} ${n}`).join(", ")}`);
    }
  }
  for (const line of scoreTable(reports, ledger)) console.log(line);
  const totals = new Map<string, number>();
  for (const e of ledger.entries) totals.set(`${e.area} ${e.category}`, (totals.get(`${e.area} ${e.category}`) ?? 0) + 1);
  console.log([...totals].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k}: ${n}`).join("\n"));
  const problems = ledgerProblems(reports, ledger);
  for (const p of problems) console.log(p);
  return problems.length === 0 ? 0 : 1;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]).endsWith("property-survivors.js")) process.exitCode = main(process.argv.slice(2));
