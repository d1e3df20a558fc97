// The property-only mutation score's ledger (docs/mutation/property-survivors.json) and its reports
// (docs/mutation/property/<area>.json) agree: every survivor has one entry with a known category and a reason, and no
// entry names a mutant that is no longer a survivor.
import { describe, expect, it } from "vitest";
import { summaryLine, wilson, type AreaReport, type Judged } from "../tools/property-mutation.js";
import { readFileSync } from "node:fs";
import { CATEGORIES, ledgerProblems, readLedger, readReports, scoreTable, type Entry } from "../tools/property-survivors.js";

const judged = (id: string, status: Judged["status"]): Judged => ({
  id,
  file: "model/x.ts",
  line: 1,
  column: 0,
  mutator: "ConditionalExpression",
  replacement: "true",
  original: "a",
  start: 0,
  end: 1,
  status,
  killedBy: status === "survived" ? null : "kvm: refinement.outcome",
  seconds: 1,
});

const report = (...js: Judged[]): AreaReport => ({ area: "kvm", seed: 1, suites: ["kvm"], shard: 20, population: 9, disabled: 0, text: 0, compileErrors: 0, judged: js });
const entry = (id: string): Entry => ({ id, area: "kvm", category: "gap", reason: "unreached" });

describe("property-only mutation ledger", () => {
  it("has one entry for every survivor of the committed reports and none besides", () => {
    const reports = readReports();
    expect(reports.map((r) => r.area).sort()).toEqual(["core", "gmem", "kvm", "mm", "uffd", "util"]);
    expect(ledgerProblems(reports, readLedger())).toEqual([]);
  });

  it("docs/MUTATION.md holds the table the reports and the ledger give", () => {
    const doc = readFileSync("docs/MUTATION.md", "utf8");
    for (const line of scoreTable(readReports(), readLedger())) expect(doc).toContain(line);
  });

  it("names a survivor without an entry, a stale entry, a duplicate and an unknown category", () => {
    const r = report(judged("a", "survived"), judged("b", "killed"), judged("c", "survived"));
    expect(ledgerProblems([r], { entries: [entry("a"), entry("c")] })).toEqual([]);
    expect(ledgerProblems([r], { entries: [entry("a")] })).toEqual(["docs/mutation/property-survivors.json: kvm c: a survivor with no entry"]);
    expect(ledgerProblems([r], { entries: [entry("a"), entry("c"), entry("b")] })).toEqual([
      "docs/mutation/property-survivors.json: kvm b: no such survivor in docs/mutation/property/kvm.json (stale entry)",
    ]);
    expect(ledgerProblems([r], { entries: [entry("a"), entry("a"), entry("c")] })).toEqual(["docs/mutation/property-survivors.json: kvm a: two entries"]);
    const odd = { ...entry("a"), category: "fine" as unknown as Entry["category"] };
    expect(ledgerProblems([r], { entries: [odd, entry("c")] })[0]).toMatch(/category "fine", expected one of gap, /);
    expect(Object.keys(CATEGORIES)[0]).toBe("gap");
  });

  it("counts a survivor as not killed, whatever its category, in the score and its interval", () => {
    const r = report(judged("a", "survived"), judged("b", "killed"), judged("c", "timeout"), judged("d", "survived"));
    expect(summaryLine(r)).toMatch(/killed {4}2 {3}50\.0%/);
    const [lo, hi] = wilson(2, 4);
    expect(lo).toBeCloseTo(0.15, 2);
    expect(hi).toBeCloseTo(0.85, 2);
  });
});
