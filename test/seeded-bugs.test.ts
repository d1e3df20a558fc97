// Every invariant and the refinement check must catch a deliberately broken implementation on its own.
import { describe, expect, it } from "vitest";
import { scaledRuns } from "../props/budget.js";
import { runSequentialSuite } from "../props/run.js";
import { SEQUENTIAL_SUITES } from "../props/suites.js";
import { ONLY, REFINEMENT, type Case } from "./helpers/seeded-bugs.js";

const suite = (name: string) => SEQUENTIAL_SUITES.find((s) => s.name === name)!;

const CASES: readonly Case[] = [
  { bug: "memslot-overlap-off-by-one", suite: "kvm-anon-x86", checks: ONLY("memslots-disjoint"), property: /^memslots-disjoint$/ },
  { bug: "delete-no-zap", suite: "kvm-anon-x86", checks: ONLY("stage2-in-slot"), property: /^stage2-in-slot$/ },
  { bug: "attr-no-zap", suite: "kvm-anon-x86", checks: ONLY("stage2-in-slot"), property: /^stage2-in-slot$/ },
  { bug: "userfault-huge", suite: "kvm-hugetlb-x86", checks: ONLY("userfault-4k"), property: /^userfault-4k$/ },
  { bug: "userfault-bitmap-ignored", suite: "kvm-anon-x86", checks: ONLY("userfault-exits"), property: /^userfault-exits$/ },
  { bug: "munmap-no-notify", suite: "kvm-anon-x86", checks: ONLY("reads-last-write"), property: /^reads-last-write$/ },
  { bug: "anon-write-to-old-page", suite: "kvm-anon-x86", checks: ONLY("writes-stick"), property: /^writes-stick$/ },
  { bug: "zap-frees-contents", suite: "kvm-anon-x86", checks: ONLY("zap-keeps-contents"), property: /^zap-keeps-contents$/ },
  { bug: "userfault-enable-no-zap", suite: "kvm-anon-x86", checks: REFINEMENT, property: /^refinement\./ },
  { bug: "userfault-bitmap-ignored", suite: "kvm-anon-x86", checks: REFINEMENT, property: /^refinement\.outcome$/ },
];

describe("seeded bugs are found", () => {
  for (const c of CASES) {
    const by = c.checks.refinement ? "refinement" : String(c.checks.invariants);
    it(`${c.bug} is caught by ${by} alone, with a short counterexample`, async () => {
      const s = suite(c.suite);
      const r = await runSequentialSuite(s, { seed: 1, runs: 2000, checks: c.checks, bugs: [c.bug] });
      expect(r.failure, `${c.bug} not found in ${r.stats.runs} runs`).toBeDefined();
      expect(r.failure!.property).toMatch(c.property);
      expect(r.shrunkLength).toBeLessThanOrEqual(6);
    });
  }

  for (const name of ["kvm-anon-x86", "kvm-hugetlb-x86"]) {
    it(`the correct implementation passes the same checks on ${name}`, async () => {
      const r = await runSequentialSuite(suite(name), { seed: 1, runs: scaledRuns(200) });
      expect(r.failure).toBeUndefined();
    });
  }
});

describe("exceptions", () => {
  it("an implementation that throws is a reported failure with the steps that led to it", async () => {
    const { Checker, PropertyFailure } = await import("../props/checker.js");
    const { createSystem } = await import("../impl/system.js");
    const { PRESETS } = await import("../schema/config.js");
    const throwing = (c: typeof PRESETS.default) => {
      const real = createSystem(c);
      return { config: c, abstract: () => real.abstract(), exec: async () => Promise.reject(new Error("boom")) };
    };
    const checker = new Checker(PRESETS.default, undefined, undefined, throwing);
    const failure = await checker.apply({ op: "create_vm", vm: "v0" }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(PropertyFailure);
    expect((failure as InstanceType<typeof PropertyFailure>).failure).toMatchObject({ property: "exception", step: 0, actual: "boom" });
  });
});
