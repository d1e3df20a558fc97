// Every userfaultfd invariant catches a deliberately broken implementation on its own, with a short counterexample.
import { describe, expect, it } from "vitest";
import type { BugId } from "../impl/bugs.js";
import type { Checks } from "../props/checker.js";
import { UFFD_SUITES } from "../props/uffd/suites.js";

interface Case {
  readonly bug: BugId;
  readonly suite: string;
  readonly invariant: string;
}

const CASES: readonly Case[] = [
  { bug: "uffd-minor-ignored", suite: "uffd-shmem", invariant: "uffd-no-early-map" },
  { bug: "uffd-wake-short", suite: "uffd-anon", invariant: "uffd-no-lost-wakeup" },
  { bug: "uffd-continue-fresh-page", suite: "uffd-shmem", invariant: "uffd-woken-read" },
  { bug: "uffd-continue-clears-page", suite: "uffd-shmem", invariant: "uffd-keeps-contents" },
  { bug: "alias-write-first-page-only", suite: "uffd-shmem", invariant: "alias-writes-stick" },
];

const only = (name: string): Checks => ({ refinement: false, invariants: [name] });

describe("userfaultfd seeded bugs are found", () => {
  for (const c of CASES) {
    it(`${c.bug} is caught by ${c.invariant} alone, with a short counterexample`, async () => {
      const s = UFFD_SUITES.find((x) => x.name === c.suite)!;
      const r = await s.run({ seed: 1, runs: 1500, checks: only(c.invariant), bugs: [c.bug] });
      expect(r.failure, `${c.bug} not found in ${r.stats.runs} runs`).toBeDefined();
      expect(r.failure!.property).toBe(c.invariant);
      expect(r.shrunkLength).toBeLessThanOrEqual(6);
      console.log(`${c.bug}: ${c.invariant} after ${r.runsToFailure} runs, shrunk to ${r.shrunkLength} steps: ${JSON.stringify(r.counterexample!.steps!.slice(s.setup.length))}`);
    });
  }

  it("the correct implementation passes the same invariants", async () => {
    for (const s of UFFD_SUITES) {
      const r = await s.run({ seed: 1, runs: 60, checks: { refinement: false, invariants: CASES.map((c) => c.invariant) } });
      expect(r.failure, s.name).toBeUndefined();
    }
  });
});
