// The schedule generators as the papers define them: uniform decisions at every step of the run, PCT's change
// points uniform over steps 1..k with no bias toward the ends, a uniformly random order of priorities, and k at
// least as long as every run of the suite (docs/RACES.md: the bench measures it over thousands of runs; here a
// few dozen per suite and generator catch a k that is plainly too short).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ConcurrentSuite } from "../props/concurrent/explore.js";
import { runConcurrentSuite } from "../props/concurrent/explore.js";
import { pctBound, pctSchedule, uniformSchedule, type ScheduleSpec } from "../props/concurrent/schedules.js";
import { POSTCOPY_RACE } from "../props/postcopy/race.js";
import { SUITES } from "../props/registry.js";

const sample = (arb: fc.Arbitrary<ScheduleSpec>, numRuns: number): ScheduleSpec[] => fc.sample(arb, { seed: 24, numRuns });

/** Every count within `tolerance` (a fraction) of the mean count. */
function expectFlat(counts: readonly number[], tolerance: number): void {
  const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
  for (const [i, c] of counts.entries()) {
    expect(Math.abs(c - mean) / mean, `bucket ${i}: ${c} against a mean of ${mean}`).toBeLessThan(tolerance);
  }
}

describe("uniform schedules", () => {
  const k = 36;
  const specs = sample(uniformSchedule(k), 3000);

  it("hold one decision for every step up to k, none left to the default of 0", () => {
    for (const s of specs) expect(s.kind === "choices" && s.choices.length).toBe(k);
  });

  it("draw every decision uniformly, at the start, middle and end of the run alike", () => {
    for (const at of [0, k / 2, k - 1]) {
      const counts = new Array<number>(12).fill(0);
      for (const s of specs) if (s.kind === "choices") counts[s.choices[at]!]!++;
      expectFlat(counts, 0.25);
    }
  });
});

describe("PCT schedules", () => {
  const k = 36;
  const specs = sample(pctSchedule(3, k), 20000);

  it("put the d-1 change points uniformly over steps 1..k: the middle of the run as often as its ends", () => {
    const counts = new Array<number>(k).fill(0);
    for (const s of specs) if (s.kind === "pct") for (const c of s.changePoints) counts[c - 1]!++;
    expect(specs.every((s) => s.kind === "pct" && new Set(s.changePoints).size === 2)).toBe(true);
    expectFlat(counts, 0.15);
  });

  it("give the actors a uniformly random order of priorities", () => {
    const orders = new Map<string, number>();
    for (const s of specs.slice(0, 6000)) {
      if (s.kind !== "pct") continue;
      const order = [1, 2, 3].sort((a, b) => s.keys[b]! - s.keys[a]!).join("");
      orders.set(order, (orders.get(order) ?? 0) + 1);
    }
    expect(orders.size).toBe(6);
    expectFlat([...orders.values()], 0.15);
  });

  it("state the bound 1/(n k^(d-1))", () => {
    expect(pctBound(3, 36, 3)).toBe(1 / (3 * 36 * 36));
    expect(pctBound(2, 10, 1)).toBe(1 / 2);
  });
});

describe("k bounds every run", () => {
  const races = SUITES.filter((s): s is ConcurrentSuite => s.kind === "concurrent" && "actors" in s && "steps" in s);

  for (const suite of races) {
    it(`${suite.name}: no run of either generator is longer than k = ${suite.steps}`, async () => {
      for (const generator of ["uniform", "pct"] as const) {
        const r = await runConcurrentSuite(suite, { seed: 24, runs: 40, generator });
        expect(r.failure, JSON.stringify(r.failure)).toBeUndefined();
        expect(r.stats.longestRun, generator).toBeGreaterThan(0);
        expect(r.stats.longestRun, generator).toBeLessThanOrEqual(suite.steps);
      }
    });
  }

  it(`postcopy-race: no run of its mixed generator is longer than k = ${POSTCOPY_RACE.steps}`, async () => {
    const r = await POSTCOPY_RACE.run({ seed: 24, runs: 40 });
    expect(r.failure, JSON.stringify(r.failure)).toBeUndefined();
    expect(r.stats.longestRun).toBeGreaterThan(0);
    expect(r.stats.longestRun).toBeLessThanOrEqual(POSTCOPY_RACE.steps);
  });
});
