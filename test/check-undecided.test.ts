// faultline check with a linearizability budget too small to decide anything: every race run is undecided,
// which fails the check and is counted in the table and in --json, on one worker or several.
import { describe, expect, it } from "vitest";
import { DEFAULT_BUDGET } from "../props/concurrent/linearizability.js";
import { faultline, lines, scratch } from "./cli-child.js";

const ARGS = ["check", "--suite", "race-userfault-clear", "--runs", "2", "--seed", "1", "--search-budget", "2"];

describe("faultline check --search-budget", () => {
  it("an undecided segment fails the run and shows in the table", () => {
    const r = faultline([...ARGS, "--workers", "1"], scratch());
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/race-userfault-clear: .* FAILED undecided \(run 0\)/);
    const header = lines(r.stdout).find((l) => l.startsWith("suite "))!;
    expect(header.split(/\s+/)).toContain("undecided");
    const row = lines(r.stdout).find((l) => l.startsWith("race-userfault-clear "))!.split(/\s+/);
    expect(row[header.split(/\s+/).indexOf("undecided")]).toBe("1");
  });

  it("--json counts undecided segments per suite and in total, with workers as without", () => {
    for (const workers of ["1", "2"]) {
      const r = faultline([...ARGS, "--workers", workers, "--json"], scratch());
      expect(r.status, r.stderr).toBe(1);
      const doc = JSON.parse(r.stdout) as {
        searchBudget: number;
        undecided: number;
        suites: { undecided: number; failure: { property: string } | null }[];
      };
      expect(doc.searchBudget).toBe(2);
      expect(doc.undecided).toBe(1);
      expect(doc.suites[0]!.undecided).toBe(1);
      expect(doc.suites[0]!.failure?.property).toBe("undecided");
    }
  });

  it("the default budget decides the same runs", () => {
    const r = faultline(["check", "--suite", "race-userfault-clear", "--runs", "2", "--seed", "1", "--json"], scratch());
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { searchBudget: number; undecided: number };
    expect(doc.searchBudget).toBe(DEFAULT_BUDGET);
    expect(doc.undecided).toBe(0);
  });
});
