// Every seeded race is found by each schedule generator, shrunk to a few actors and steps; each check of the
// harness catches a race on its own; the races stay invisible to the sequential suites.
import { afterAll, describe, expect, it } from "vitest";
import { BUGS, type BugId } from "../impl/bugs.js";
import { ALL_CHECKS, type Checks } from "../props/checker.js";
import { runConcurrentSuite } from "../props/concurrent/explore.js";
import type { Generator } from "../props/concurrent/schedules.js";
import { CONCURRENT_SUITES } from "../props/concurrent/suites.js";
import { runSequentialSuite } from "../props/run.js";
import { SEQUENTIAL_SUITES } from "../props/suites.js";

const suite = (name: string) => CONCURRENT_SUITES.find((s) => s.name === name)!;

interface Race {
  readonly bug: BugId;
  readonly suite: string;
  readonly property: RegExp;
}

const RACES: readonly Race[] = [
  { bug: "userfault-enable-zap-early", suite: "race-userfault-enable", property: /^refinement\.state$/ },
  { bug: "userfault-double-fetch", suite: "race-userfault-clear", property: /^linearizability$/ },
  { bug: "memslot-lookup-outside-srcu", suite: "race-memslot-delete-move", property: /^stage2-in-slot$/ },
  { bug: "memslot-invalidate-no-sync", suite: "race-memslot-delete-move", property: /^stage2-in-slot$/ },
  { bug: "attr-store-before-invalidate", suite: "race-attributes", property: /^stage2-in-slot$/ },
  { bug: "fault-no-invalidate-recheck", suite: "race-attributes", property: /^stage2-in-slot$/ },
  { bug: "memslot-create-bitmap-late", suite: "race-memslot-create", property: /^linearizability$/ },
  { bug: "memslot-move-flush-new", suite: "race-memslot-delete-move-nozap", property: /^stage2-in-slot$/ },
  { bug: "arm64-fault-maps-invalid-slot", suite: "race-memslot-delete-move-arm64", property: /^stage2-in-slot$/ },
];

const GENERATORS: readonly Generator[] = ["uniform", "pct"];
const found: string[] = [];

describe("seeded races are found and shrunk", () => {
  for (const race of RACES) {
    for (const generator of GENERATORS) {
      it(`${race.bug} (${race.suite}) with ${generator} schedules`, async () => {
        const r = await runConcurrentSuite(suite(race.suite), { seed: 7, runs: 1000, bugs: [race.bug], generator });
        expect(r.failure, `${race.bug} not found in ${r.stats.runs} runs`).toBeDefined();
        expect(r.failure!.property).toMatch(race.property);
        const actors = r.counterexample!.actors!.filter((a) => a.name !== "setup");
        expect(actors.length).toBeLessThanOrEqual(3);
        expect(r.shrunkLength).toBeLessThanOrEqual(5);
        found.push(`${race.bug.padEnd(30)} ${generator.padEnd(8)} ${String(r.runsToFailure).padStart(5)} runs ${String(Math.round(r.msToFailure!)).padStart(6)} ms  shrunk to ${actors.length} actors, ${r.shrunkLength} ops, ${r.counterexample!.schedule!.length} decisions`);
      });
    }
  }

  afterAll(() => {
    console.log(["seeded race                    schedule  to first failure       counterexample", ...found].join("\n"));
  });
});

const ONLY = (...names: string[]): Checks => ({ refinement: false, invariants: names });
const REFINEMENT: Checks = { refinement: true, invariants: false };

describe("each check catches a race on its own", () => {
  const cases: readonly { bug: BugId; suite: string; checks: Checks; property: RegExp; what: string }[] = [
    { bug: "memslot-invalidate-no-sync", suite: "race-memslot-delete-move", checks: ONLY("stage2-in-slot"), property: /^stage2-in-slot$/, what: "an always-invariant at a yield point" },
    { bug: "attr-store-before-invalidate", suite: "race-attributes", checks: ONLY("stage2-in-slot"), property: /^stage2-in-slot$/, what: "an always-invariant at a yield point" },
    { bug: "userfault-double-fetch", suite: "race-userfault-clear", checks: REFINEMENT, property: /^linearizability$/, what: "linearizability of the outcomes" },
    { bug: "userfault-enable-zap-early", suite: "race-userfault-enable", checks: REFINEMENT, property: /^refinement\.state$/, what: "the quiescent state against the linearization's" },
    { bug: "fault-no-invalidate-recheck", suite: "race-attributes", checks: REFINEMENT, property: /^refinement\.state$/, what: "the quiescent state against the linearization's" },
  ];
  for (const c of cases) {
    it(`${c.bug}: ${c.what}`, async () => {
      const r = await runConcurrentSuite(suite(c.suite), { seed: 3, runs: 1000, bugs: [c.bug], checks: c.checks });
      expect(r.failure, `${c.bug} not found by ${c.what}`).toBeDefined();
      expect(r.failure!.property).toMatch(c.property);
    });
  }
});

describe("the configuration axes", () => {
  // The slot-zap-all quirk zaps every SPTE on DELETE and MOVE: a flush of the wrong range, or a fault that maps
  // through an INVALID slot on arm64, is found only where the quirk is off.
  const cases: readonly { bug: BugId; found: readonly string[]; hidden: string }[] = [
    { bug: "memslot-move-flush-new", found: ["race-memslot-delete-move-nozap", "race-memslot-delete-move-arm64", "race-memslot-changes-nozap"], hidden: "race-memslot-delete-move" },
    { bug: "arm64-fault-maps-invalid-slot", found: ["race-memslot-delete-move-arm64", "race-memslot-changes-arm64"], hidden: "race-memslot-delete-move" },
  ];
  for (const c of cases) {
    it(`${c.bug}: found on ${c.found.join(", ")}, not on ${c.hidden}`, async () => {
      for (const name of c.found) expect((await runConcurrentSuite(suite(name), { seed: 11, runs: 1000, bugs: [c.bug] })).failure, name).toBeDefined();
      expect((await runConcurrentSuite(suite(c.hidden), { seed: 11, runs: 400, bugs: [c.bug] })).failure).toBeUndefined();
    });
  }

  it("a USERFAULT memslot created while a vCPU faults in its range: its bitmap is there when the slot is", async () => {
    for (const name of ["race-memslot-create", "race-memslot-create-hugetlb-arm64", "race-memslot-create-gmem"]) {
      const r = await runConcurrentSuite(suite(name), { seed: 11, runs: 1000, bugs: ["memslot-create-bitmap-late"] });
      expect(r.failure?.property, name).toBe("linearizability");
      expect(r.failure?.actual).toEqual({ errno: "EFAULT" });
    }
  });
});

describe("the races are invisible sequentially", () => {
  it("the sequential KVM suite passes with every race bug switched on", async () => {
    const anon = SEQUENTIAL_SUITES.find((s) => s.name === "kvm-anon-x86")!;
    const r = await runSequentialSuite(anon, { seed: 5, runs: 150, bugs: RACES.filter((r) => BUGS[r.bug].kind === "race").map((r) => r.bug), checks: ALL_CHECKS });
    expect(r.failure).toBeUndefined();
  });
});
