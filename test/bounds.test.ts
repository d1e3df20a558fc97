// Bounds from the rules (props/bounds.ts): every bounded rule's generator reaches both sides of its edge from some
// suite's setup, each bound's off-by-one slip (a seeded bug) is found by the check, and a bound counts as covered
// only when both sides were reached.
import fc from "fast-check";
import { isRight } from "fp-ts/lib/Either.js";
import { describe, expect, it } from "vitest";
import { hunt } from "../cli/mutants.js";
import { BUG_IDS, BUGS, type BugId, type SeededBug } from "../impl/bugs.js";
import { edgeOf } from "../model/bound.js";
import { BOUNDS } from "../model/bounds-index.js";
import { initial, step, type State } from "../model/index.js";
import { RULES } from "../model/rules-index.js";
import { BOUND_GENERATORS, boundSamples, contextOf } from "../props/bounds.js";
import { BOUND_MINIMUMS, coverageOf, describeUnmet } from "../props/minimums.js";
import { SUITES } from "../props/registry.js";
import { Stats } from "../props/stats.js";
import type { Config } from "../schema/config.js";
import { OpCodec, type Op } from "../schema/ops.js";

/** The slip at each bound the catalog holds (impl/bugs.ts, its `bound` field), found by the suite the catalog names. */
const SLIPS: Readonly<Record<string, BugId>> = Object.fromEntries(BUG_IDS.flatMap((id) => { const b: SeededBug = BUGS[id]; return b.bound === undefined ? [] : [[b.bound, id]]; }));

/** Bounds no slip can show, and why. */
const MASKED: Readonly<Record<string, string>> = {
  "gmem.convert-range": "a range whose end reaches 2^64 starts past i_size, so convert-beyond refuses it with the same EINVAL",
};

/** The sequential suites with the setup their generators start from. */
const SETUPS = SUITES.flatMap((s) => ("setup" in s && "config" in s && s.kind === "sequential" ? [{ name: s.name, config: s.config as Config, setup: s.setup as readonly Op[] }] : []));

function afterSetup(config: Config, setup: readonly Op[]): State {
  let s = initial(config);
  for (const op of setup) s = step(s, op).state;
  return s;
}

describe("bounds", () => {
  it("every bound belongs to a rule with an errno or a signal, and each rule has one bound", () => {
    for (const [id, b] of BOUNDS) {
      expect(RULES.get(id), id).toBe(b.rule);
      expect(b.ops.length).toBeGreaterThan(0);
    }
    expect(BOUNDS.size).toBe(29);
  });

  it("every bounded rule has a generator, and a slip in the catalog or a reason none can show", () => {
    for (const id of BOUNDS.keys()) {
      expect(BOUND_GENERATORS[id], id).toBeDefined();
      expect(SLIPS[id] !== undefined || MASKED[id] !== undefined, id).toBe(true);
    }
    expect(Object.keys(SLIPS).length).toBe(BOUNDS.size - Object.keys(MASKED).length);
    for (const id of Object.keys(SLIPS)) expect(BOUNDS.has(id), id).toBe(true);
  });

  it("each generator puts the last accepted value on the accepted side and the first refused one on the refused side", () => {
    const states = SETUPS.map((x) => ({ ...x, state: afterSetup(x.config, x.setup) }));
    for (const [id, b] of BOUNDS) {
      const edge = edgeOf(b.accepts);
      for (const [d, side] of [
        [edge.accepted, "accepted"],
        [edge.refused, "refused"],
      ] as const) {
        const reached = states.some(({ config, setup, state }) => {
          const arb = BOUND_GENERATORS[id]!(contextOf(config, setup), d);
          return arb !== undefined && fc.sample(arb, { seed: 1, numRuns: 8 }).some((op) => boundSamples(state, op, step(state, op)).some((x) => x.rule === id && x.offset === d && x.side === side));
        });
        expect(reached, `${id} at ${d}: ${side}`).toBe(true);
      }
    }
  });

  it("every operation a generator draws is one the vocabulary admits, so a counterexample holding it replays", () => {
    for (const { name, config, setup } of SETUPS) {
      for (const [id, gen] of Object.entries(BOUND_GENERATORS)) {
        for (const d of [-1, 0, 1]) {
          const arb = gen(contextOf(config, setup), d);
          if (arb === undefined) continue;
          for (const op of fc.sample(arb, { seed: 1, numRuns: 8 })) {
            expect(isRight(OpCodec.decode(op)), `${name} ${id} ${d}: ${JSON.stringify(op)}`).toBe(true);
          }
        }
      }
    }
  });

  it("convert-range's slip is masked: at its first refused value, the i_size check refuses with the same errno", () => {
    const v7 = SETUPS.find((x) => x.name === "gmem-v7")!;
    const state = afterSetup(v7.config, v7.setup);
    for (const op of fc.sample(BOUND_GENERATORS["gmem.convert-range"]!(contextOf(v7.config, v7.setup), 0)!, { seed: 1, numRuns: 5 })) {
      if (op.op !== "gmem_convert") throw new Error("not a conversion");
      const r = step(state, op);
      expect(r.outcome).toEqual({ errno: "EINVAL" });
      expect(r.fired).toContain("gmem.convert-range");
      const inode = state.gmem.inodes[state.gmem.names.get(op.gmem)!]!;
      expect(op.offset).toBeGreaterThanOrEqual(inode.size);
    }
  });

  for (const [id, bug] of Object.entries(SLIPS)) {
    it(`${id}: the slip ${bug} is found by ${BUGS[bug].suite}`, async () => {
      const h = await hunt(bug, 1, 60_000);
      expect(h.found, `${bug} not found in ${h.runs} runs of ${h.suite}`).toBe(true);
    });
  }

  it("bound and feature counts cross a worker boundary and add up across runs", () => {
    const a = new Stats();
    a.recordBounds([{ rule: "memslot.max-pages", offset: 1, side: "refused" }]);
    a.recordFeatures(["pins-descending"]);
    const b = Stats.fromData(structuredClone(a.data()));
    b.merge(a);
    expect(b.bounds.get("memslot.max-pages")).toEqual([0, 0, 0, 0, 0, 2]);
    expect(b.features.get("pins-descending")).toBe(2);
    a.frozen = true;
    a.recordBounds([{ rule: "memslot.max-pages", offset: 0, side: "accepted" }]);
    expect(a.bounds.get("memslot.max-pages")).toEqual([0, 0, 0, 0, 0, 1]);
  });

  it("a bound is covered only when both its last accepted and its first refused value were reached", () => {
    const id = "memslot.max-pages";
    const b = BOUNDS.get(id)!;
    const lineOf = (sides: number[]) => {
      const s = new Stats();
      s.bounds.set(id, sides);
      return coverageOf([{ suite: "all", stats: s }]).lines.find((l) => l.kind === "bound" && l.name === id)!;
    };
    expect(edgeOf(b.accepts)).toEqual({ accepted: 0, refused: 1 });
    expect(lineOf([9, 9, 0, 0, 0, 0]).count).toBe(0);
    expect(lineOf([0, 0, 0, 9, 9, 9]).count).toBe(0);
    expect(lineOf([0, 3, 0, 0, 0, 5]).count).toBe(3);
    expect(describeUnmet(lineOf([9, 9, 0, 0, 0, 0]))).toBe(`bound ${id}: both sides of the edge reached 0 times, minimum ${BOUND_MINIMUMS[id]}`);
  });
});
