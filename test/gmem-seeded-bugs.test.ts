// Every guest_memfd invariant catches a deliberately broken implementation on its own, with a short
// counterexample; the correct implementation passes the same checks.
import { describe, expect, it } from "vitest";
import { GMEM_SEQUENTIAL_SUITES } from "../props/gmem/suites.js";
import { runSequentialSuite } from "../props/run.js";
import { ONLY, REFINEMENT, type Case } from "./helpers/seeded-bugs.js";

const suite = (name: string) => GMEM_SEQUENTIAL_SUITES.find((s) => s.name === name)!;

const CASES: readonly Case[] = [
  { bug: "gmem-convert-commit-before-check", suite: "gmem-v8", checks: ONLY("gmem-convert-pins"), property: /^gmem-convert-pins$/ },
  { bug: "gmem-convert-commit-before-check", suite: "gmem-v8", checks: ONLY("gmem-pinned-shared"), property: /^gmem-pinned-shared$/ },
  { bug: "gmem-convert-check-before-unmap", suite: "gmem-v8", checks: REFINEMENT, property: /^refinement\.outcome$/ },
  { bug: "gmem-convert-no-unmap", suite: "gmem-v8", checks: ONLY("gmem-private-not-host-mapped"), property: /^gmem-private-not-host-mapped$/ },
  { bug: "gmem-convert-no-zap", suite: "gmem-v8", checks: ONLY("stage2-in-slot"), property: /^stage2-in-slot$/ },
  { bug: "gmem-convert-scrubs", suite: "gmem-v8", checks: ONLY("gmem-contents"), property: /^gmem-contents$/ },
  { bug: "gmem-punch-no-zap", suite: "gmem-v8", checks: ONLY("gmem-stage2-backed"), property: /^gmem-stage2-backed$/ },
  { bug: "gmem-merge-mapped", suite: "gmem-v8-2m", checks: ONLY("gmem-host-map-split"), property: /^gmem-host-map-split$/ },
  { bug: "gmem-huge-ignores-split", suite: "gmem-v8-2m", checks: ONLY("gmem-huge-stage2"), property: /^gmem-huge-stage2$/ },
];

describe("guest_memfd seeded bugs are found", () => {
  for (const c of CASES) {
    const by = c.checks.refinement ? "refinement" : String(c.checks.invariants);
    it(`${c.bug} is caught by ${by} alone, with a short counterexample`, async () => {
      const r = await runSequentialSuite(suite(c.suite), { seed: 1, runs: 2000, checks: c.checks, bugs: [c.bug] });
      expect(r.failure, `${c.bug} not found in ${r.stats.runs} runs`).toBeDefined();
      expect(r.failure!.property).toMatch(c.property);
      console.log(c.bug, "found after", r.runsToFailure, "runs; shrunk to", r.shrunkLength, "steps:", JSON.stringify(r.counterexample!.steps!.slice(-r.shrunkLength!)));
      expect(r.shrunkLength).toBeLessThanOrEqual(6);
    });
  }

  // One case per suite: a loop over all of them ran past vitest's 120 s timeout on a busy machine.
  for (const s of GMEM_SEQUENTIAL_SUITES) {
    it(`the correct implementation passes the same checks on ${s.name}`, async () => {
      const r = await runSequentialSuite(s, { seed: 1, runs: 150 });
      expect(r.failure).toBeUndefined();
    });
  }
});
