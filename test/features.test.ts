// Declared features (props/features.ts): each holds exactly in the states it names, each is what a seeded bug needs
// to show (the check finds the bug, and the shrunk counterexample passes through the feature), and a feature seen
// fewer times than its minimum is an unmet coverage line.
import { describe, expect, it } from "vitest";
import { hunt } from "../cli/mutants.js";
import { runSeed as checkRunSeed } from "../cli/shard.js";
import { BUGS, type BugId } from "../impl/bugs.js";
import { initial, step, type State } from "../model/index.js";
import { Checker } from "../props/checker.js";
import { FEATURES, FeatureMemo, featuresOf } from "../props/features.js";
import { coverageOf, describeUnmet, FEATURE_MINIMUMS } from "../props/minimums.js";
import { suiteNamed } from "../props/registry.js";
import { Stats } from "../props/stats.js";
import type { SequentialSuite } from "../props/suites.js";
import type { Op } from "../schema/ops.js";

/** The seeded bug each feature exists for: found only through states that show it. */
const NEEDS: Readonly<Record<string, BugId>> = {
  "convert-refused-two-busy": "gmem-convert-busy-highest",
  "convert-refused-lower-pinned-later": "gmem-convert-busy-first-pinned",
  "pins-descending": "gmem-convert-busy-first-pinned",
  "fault-last-page-of-slot": "memslot-lookup-misses-last-page",
  "fault-first-page-past-slot": "memslot-lookup-past-end",
  "huge-folio-part-converted": "gmem-split-misses-last-folio",
  "bitmap-write-straddles-words": "bitmap-first-word-mask-short",
  "attributes-split-a-span": "attributes-split-loses-tail",
};

const P = 4096;

/** The features each step of `ops` shows, after the suite's setup. */
function featuresAlong(suite: string, ops: readonly Op[]): string[][] {
  const s = suiteNamed(suite) as SequentialSuite;
  let state: State = initial(s.config);
  for (const op of s.setup) state = step(state, op).state;
  const memo = new FeatureMemo();
  return ops.map((op) => {
    const r = step(state, op);
    const seen = featuresOf({ pre: state, op, r }, memo);
    state = r.state;
    return seen;
  });
}

describe("features", () => {
  it("every feature has the seeded bug it is for", () => {
    expect(Object.keys(NEEDS).sort()).toEqual(FEATURES.map((f) => f.name).sort());
  });

  it("pins below a pinned page, then a refused conversion: two busy pages, the lowest pinned later", () => {
    const pin = (page: number): Op => ({ op: "pin", map: "m5", offset: page * P });
    const convert: Op = { op: "gmem_convert", gmem: "g0", offset: 0, size: 4 * P, to: "private" };
    expect(featuresAlong("gmem-v8", [pin(2), pin(0), convert])).toEqual([[], ["pins-descending"], ["convert-refused-two-busy", "convert-refused-lower-pinned-later"]]);
    expect(featuresAlong("gmem-v8", [pin(0), pin(2), convert])).toEqual([[], [], ["convert-refused-two-busy"]]);
    expect(featuresAlong("gmem-v8", [pin(2), convert])).toEqual([[], []]);
  });

  it("the last page of a slot, and the page just past it", () => {
    const at = (gpa: number): Op => ({ op: "vcpu_access", vm: "v0", vcpu: 0, gpa, kind: "read" });
    // kvm-anon-x86: slot 0 is [0, 4 MiB), slot 1 [4 MiB, 8 MiB), nothing past 8 MiB.
    expect(featuresAlong("kvm-anon-x86", [at(4 * 1024 * 1024 - P), at(8 * 1024 * 1024 - P), at(8 * 1024 * 1024), at(P)])).toEqual([
      ["fault-last-page-of-slot"],
      ["fault-last-page-of-slot"],
      ["fault-first-page-past-slot"],
      [],
    ]);
  });

  it("bitmap writes partial at both ends of different words; attribute changes that cut a span in three", () => {
    const bits = (gfn_offset: number, npages: number): Op => ({ op: "userfault_set", vm: "v0", slot: 0, gfn_offset, npages });
    expect(featuresAlong("kvm-anon-x86", [bits(30, 4), bits(32, 4), bits(1, 31), bits(1, 40)])).toEqual([["bitmap-write-straddles-words"], [], [], ["bitmap-write-straddles-words"]]);
    const attr = (address: number, size: number, priv: boolean): Op => ({ op: "set_memory_attributes", vm: "v0", address, size, attributes: priv ? ["PRIVATE"] : [] });
    expect(featuresAlong("kvm-anon-x86", [attr(0, 64 * P, true), attr(0, P, false), attr(8 * P, 2 * P, false), attr(60 * P, 4 * P, false)])).toEqual([[], [], ["attributes-split-a-span"], []]);
  });

  it("a conversion of part of a huge folio", () => {
    const convert = (offset: number, size: number, to: "private" | "shared"): Op => ({ op: "gmem_convert", gmem: "g0", offset, size, to });
    expect(featuresAlong("gmem-v8-2m", [convert(0, 2 * 1024 * 1024, "private"), convert(P, P, "shared"), convert(0, 2 * 1024 * 1024, "shared")])).toEqual([[], ["huge-folio-part-converted"], []]);
  });

  for (const [feature, bug] of Object.entries(NEEDS)) {
    it(`${feature}: ${bug} is found by ${BUGS[bug].suite}, and its counterexample passes through the feature`, async () => {
      const h = await hunt(bug, 1, 60_000);
      expect(h.found, `${bug} not found`).toBe(true);
      const s = suiteNamed(h.suite) as SequentialSuite;
      const r = await s.run({ seed: runSeedOf(h), runs: 1, bugs: [bug] });
      const stats = new Stats();
      const checker = new Checker(s.config, { refinement: false, invariants: [] }, stats);
      await checker.applyAll(r.counterexample!.steps!);
      expect([...stats.features.keys()]).toContain(feature);
    });
  }

  it("a feature seen fewer times than its minimum is unmet, by name", () => {
    const f = FEATURES[0]!;
    const stats = new Stats();
    const line = coverageOf([{ suite: "all", stats }]).lines.find((l) => l.kind === "feature" && l.name === f.name)!;
    expect(line.count).toBe(0);
    expect(describeUnmet(line)).toBe(`feature ${f.name}: seen 0 times, minimum ${FEATURE_MINIMUMS[f.name] ?? 1}`);
  });
});

/** The fast-check seed of the run `hunt` found the bug in (the check's seed for that run). */
function runSeedOf(h: { reproduce: string; runs: number; suite: string }): number {
  const seed = Number(/--seed (\d+)/.exec(h.reproduce)![1]);
  return checkRunSeed(seed, h.suite, h.runs - 1);
}
