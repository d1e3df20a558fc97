// faultline mutants on a few catalogued bugs (the whole catalog is the CLI's job, not this file's): each found by
// its suite with the run, time, shrunk length and property, reproducible by the check it names.
import { describe, expect, it } from "vitest";
import { BUGS } from "../impl/bugs.js";
import { hunt } from "../cli/mutants.js";
import { expectOneLineError, faultline, lines, scratch } from "./cli-child.js";

const FEW = ["delete-no-zap", "fault-no-invalidate-recheck", "gmem-merge-mapped", "uffd-wake-short", "postcopy-clear-before-write"] as const;

interface Report {
  seed: number;
  found: number;
  missed: number;
  bugs: { bug: string; suite: string; kind: string; found: boolean; runs: number; seconds: number; shrunkLength: number; property: string; reproduce: string }[];
}

describe("faultline mutants", () => {
  it("finds each bug with its catalogued suite and reports runs, seconds, shrunk length and property", () => {
    const r = faultline(["mutants", "--bug", FEW.join(","), "--seed", "3", "--time-budget", "20", "--json"], scratch());
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as Report;
    expect(report).toMatchObject({ seed: 3, found: FEW.length, missed: 0 });
    expect(report.bugs.map((b) => b.bug)).toEqual(FEW);
    for (const b of report.bugs) {
      expect(b).toMatchObject({ suite: BUGS[b.bug as keyof typeof BUGS].suite, found: true });
      expect(b.runs).toBeGreaterThanOrEqual(1);
      expect(b.seconds).toBeLessThan(20);
      expect(b.shrunkLength).toBeGreaterThanOrEqual(1);
      expect(b.property).toMatch(/\S/);
      expect(b.reproduce).toBe(`faultline check --suite ${b.suite} --bugs ${b.bug} --seed 3`);
    }
  });

  it("the check it names finds the same failure in the same run", () => {
    const r = faultline(["mutants", "--bug", "delete-no-zap", "--seed", "3", "--json"], scratch());
    const b = (JSON.parse(r.stdout) as Report).bugs[0]!;
    const c = faultline(["check", "--suite", b.suite, "--bugs", b.bug, "--seed", "3", "--workers", "1", "--json"], scratch());
    expect(c.status).toBe(1);
    const suite = (JSON.parse(c.stdout) as { suites: { runs: number; failure: { property: string; run: number } }[] }).suites[0]!;
    expect(suite.failure).toMatchObject({ property: b.property, run: b.runs - 1 });
  });

  it("prints a table with a line per bug", () => {
    const r = faultline(["mutants", "--bug", "uffd-wake-short,attr-store-before-invalidate", "--seed", "1"], scratch());
    expect(r.status).toBe(0);
    const out = lines(r.stdout);
    expect(out.find((l) => l.startsWith("bug "))).toMatch(/^bug +kind +suite +result +runs +seconds +shrunk +property$/);
    expect(out.find((l) => l.startsWith("uffd-wake-short "))).toMatch(/^uffd-wake-short +sequential +uffd-anon +found +\d+ +\d+\.\d\d +\d+ +\S+$/);
    expect(out.find((l) => l.startsWith("attr-store-before-invalidate "))).toMatch(/ race +race-attributes +found /);
    expect(out.at(-1)).toBe("all 2 seeded bugs found");
  });

  it("a bug no run finds within its budget is missed", async () => {
    const h = await hunt("delete-no-zap", 1, 0);
    expect(h).toMatchObject({ bug: "delete-no-zap", found: false, runs: 0 });
  });

  it("an unknown bug is a usage error naming the nearest", () => {
    expectOneLineError(faultline(["mutants", "--bug", "delete-no-zapp"], scratch()), /^faultline mutants: --bug: unknown seeded bug "delete-no-zapp"; did you mean "delete-no-zap"\?/);
  });
});
