// faultline check on worker threads gives the single-thread report: same counts, same failing runs, same
// counterexample files; only the durations differ. Runs the built CLI (npm test builds dist/ first).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { expectOneLineError, faultline, scratch } from "./cli-child.js";

/** The JSON report without its durations, and the counterexample files the check wrote. */
function check(args: readonly string[], workers: number): { report: string; files: Map<string, string>; status: number | null } {
  const dir = scratch();
  const r = faultline(["check", ...args, "--json", "--workers", String(workers)], dir);
  expect(r.stderr).not.toMatch(/internal error/);
  const report = JSON.stringify(JSON.parse(r.stdout), (k, v: unknown) => (k === "durationMs" ? 0 : v));
  const ce = join(dir, "counterexamples");
  const files = new Map<string, string>();
  try {
    for (const f of readdirSync(ce)) files.set(f, readFileSync(join(ce, f), "utf8"));
  } catch {
    // no counterexample written
  }
  return { report, files, status: r.status };
}

describe("check --workers", () => {
  it("with failures: one and two workers report the same runs, counts and counterexamples", () => {
    // A sequential and a race bug: two suites stop at their first failing run, one passes.
    const args = ["--suite", "kvm-anon-x86,uffd-anon,race-userfault-enable", "--runs", "60", "--seed", "3", "--bugs", "delete-no-zap,userfault-enable-zap-early"];
    const one = check(args, 1);
    const two = check(args, 2);
    expect(one.status).toBe(1);
    expect(two.status).toBe(1);
    expect(two.report).toBe(one.report);
    const doc = JSON.parse(one.report) as { suites: { suite: string; failure: { run: number } | null }[] };
    expect(doc.suites.map((s) => s.failure !== null)).toEqual([true, false, true]);
    expect(one.files.size).toBe(2);
    expect(two.files).toEqual(one.files);
  });

  it("without failures, on a shard: the same report", () => {
    const args = ["--suite", "kvm-gmem-x86,race-attributes,postcopy", "--runs", "45", "--seed", "9", "--shard", "2/3"];
    const one = check(args, 1);
    expect(one.status).toBe(0);
    expect(check(args, 2).report).toBe(one.report);
  });

  it("--workers must be a positive integer", () => {
    expectOneLineError(faultline(["check", "--workers", "0"], scratch()), /^faultline check: --workers: expected an integer from 1 to 256, found "0"/);
  });
});
