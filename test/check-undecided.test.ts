// faultline check with a linearizability budget too small to decide anything: every race run is undecided,
// which fails the check and is counted in the table and in --json, on one worker or several, fails its JUnit
// test case, and is added up by faultline merge.
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
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

describe("undecided in JUnit XML and in faultline merge", () => {
  type Case = { "@name": string; failure?: { "@type": string; "@message": string } };
  type Doc = { testsuites: { "@failures": string; testsuite: { testcase: Case[] } } };
  const junit = (file: string): Doc => {
    const text = readFileSync(file, "utf8");
    expect(XMLValidator.validate(text)).toBe(true);
    return new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "@", isArray: (n) => n === "testcase" }).parse(text) as Doc;
  };
  const dir = scratch();
  const shards = [1, 2].map((i) => {
    const r = faultline([...ARGS.slice(0, 4), "4", ...ARGS.slice(5), "--shard", `${i}/2`, "--workers", "1", "--json"], dir);
    expect(r.status, r.stderr).toBe(1);
    const file = join(dir, `shard-${i}.json`);
    writeFileSync(file, r.stdout);
    return file;
  });

  it("check --junit: the suite with an undecided segment is a failed test case", () => {
    const r = faultline([...ARGS, "--workers", "1", "--junit", "undecided.xml"], dir);
    expect(r.status, r.stderr).toBe(1);
    const doc = junit(join(dir, "undecided.xml"));
    expect(doc.testsuites["@failures"]).toBe("1");
    expect(doc.testsuites.testsuite.testcase[0]!.failure!["@type"]).toBe("undecided");
  });

  it("merge adds the shards' undecided segments up, fails, and its JUnit XML marks the suite failed", () => {
    // Every run is undecided at this budget and each shard stops at its first: runs 0 and 1, one each.
    const r = faultline(["merge", ...shards, "--json", "--junit", "merged.xml"], dir);
    expect(r.status, r.stderr).toBe(1);
    const doc = JSON.parse(r.stdout) as { undecided: number; failures: number; suites: { undecided: number; failure: { run: number } }[] };
    expect(doc.undecided).toBe(2);
    expect(doc.suites[0]!.undecided).toBe(2);
    expect(doc.suites[0]!.failure.run).toBe(0);
    expect(doc.failures).toBe(1);
    expect(junit(join(dir, "merged.xml")).testsuites.testsuite.testcase[0]!.failure!["@type"]).toBe("undecided");
  });

  it("a shard's report with undecided segments and no failure still fails the merge and its test case", () => {
    const edited = shards.map((file, i) => {
      const doc = JSON.parse(readFileSync(file, "utf8")) as { failures: number; suites: Record<string, unknown>[] };
      doc.failures = 0;
      Object.assign(doc.suites[0]!, { failure: null, counterexample: null });
      const out = join(dir, `no-failure-${i}.json`);
      writeFileSync(out, JSON.stringify(doc));
      return out;
    });
    const r = faultline(["merge", ...edited, "--junit", "edited.xml"], dir);
    expect(r.status, r.stderr).toBe(1);
    const summary = ["1 suite(s) FAILED", "  race-userfault-clear: 2 history segment(s) undecided, no failure recorded"];
    expect(lines(r.stdout).slice(-2)).toEqual(summary);
    const doc = junit(join(dir, "edited.xml"));
    expect(doc.testsuites["@failures"]).toBe("1");
    expect(doc.testsuites.testsuite.testcase[0]!.failure!["@message"]).toMatch(/^2 undecided history segment\(s\): nothing past them/);
  });
});
