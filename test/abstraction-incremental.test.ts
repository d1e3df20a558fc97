// The incremental abstraction (impl/abstraction.ts) against one rebuilt from nothing. A seeded missed version bump
// (a PTE write-protected behind the PTE map's version) leaves the incremental state showing the PTE, as the model does:
// refinement alone passes. The cross-check of props/checker.ts fails it, at every step (the tests' setting) and at
// the sampled steps of a default check.
import { afterEach, describe, expect, it } from "vitest";
import { createSystem, Kernel, type System } from "../impl/system.js";
import { CROSS_CHECK_EVERY, crossCheckEvery } from "../props/budget.js";
import { Checker, PropertyFailure } from "../props/checker.js";
import { PRESETS, type Config } from "../schema/config.js";
import type { Op } from "../schema/ops.js";

const SETUP: Op[] = [
  { op: "mmap", map: "m0", file: "anon", offset: 0, length: 8192 },
  { op: "access", map: "m0", offset: 5, kind: "write", byte: 7 },
];
const READ: Op = { op: "access", map: "m0", offset: 5, kind: "read" };

/**
 * The implementation, with a slip after step `at`: m0's PTEs are write-protected without bumping the PTE map's version.
 * `afresh` false: no rebuild to compare with; `view` "afresh": the checks see only the rebuilt state.
 */
function slipping(at: number, afresh: boolean, view: "incremental" | "afresh" = "incremental") {
  return (c: Config): System => {
    const k = createSystem(c) as Kernel;
    let steps = 0;
    return {
      config: c,
      exec: async (op) => {
        const outcome = await k.exec(op);
        const ptes = k.mm.maps.get("m0")?.ptes;
        if (++steps === at && ptes !== undefined) for (const [key, pte] of ptes) Map.prototype.set.call(ptes, key, { ...pte, writable: false });
        return outcome;
      },
      abstract: () => (view === "afresh" ? k.abstractAfresh() : k.abstract()),
      ...(afresh ? { abstractAfresh: () => k.abstractAfresh() } : {}),
    };
  };
}

async function failure(ops: readonly Op[], system: (c: Config) => System): Promise<string | undefined> {
  try {
    await new Checker(PRESETS.default, undefined, undefined, system).applyAll(ops);
    return undefined;
  } catch (e) {
    if (e instanceof PropertyFailure) return `${e.failure.property} at ${e.failure.step}`;
    throw e;
  }
}

describe("the incremental abstraction's cross-check", () => {
  const saved = process.env.FAULTLINE_CROSS_CHECK;
  afterEach(() => {
    process.env.FAULTLINE_CROSS_CHECK = saved;
  });

  it("runs on every step in the tests, on every 8th by default", () => {
    expect(crossCheckEvery()).toBe(1);
    delete process.env.FAULTLINE_CROSS_CHECK;
    expect(crossCheckEvery()).toBe(CROSS_CHECK_EVERY);
    process.env.FAULTLINE_CROSS_CHECK = "zero";
    expect(crossCheckEvery()).toBe(CROSS_CHECK_EVERY);
  });

  it("passes the implementation as it is, and keeps unchanged parts of successive states ===", async () => {
    expect(await failure([...SETUP, READ, READ], createSystem)).toBeUndefined();
    const k = createSystem(PRESETS.default) as Kernel;
    for (const op of SETUP) await k.exec(op);
    const before = k.abstract();
    await k.exec({ op: "mmap", map: "m1", file: "anon", offset: 0, length: 4096 });
    const after = k.abstract();
    expect(after.mm.maps.get("m0")).toBe(before.mm.maps.get("m0"));
    expect(after.mm.maps.get("m1")).not.toBe(undefined);
    expect(after.kvm).toBe(before.kvm);
    expect(k.abstractAfresh().mm.maps.get("m0")).not.toBe(before.mm.maps.get("m0"));
  });

  it("a missed version bump: refinement on the incremental state passes, on a rebuilt one fails", async () => {
    const ops = [...SETUP, READ, READ];
    expect(await failure(ops, slipping(3, false))).toBeUndefined();
    expect(await failure(ops, slipping(3, false, "afresh"))).toBe("refinement.state at 2");
  });

  it("the cross-check names the missed bump at its step, and at the next sampled step of a default check", async () => {
    expect(await failure([...SETUP, READ, READ], slipping(3, true))).toBe("abstraction.incremental at 2");
    delete process.env.FAULTLINE_CROSS_CHECK;
    const reads = Array.from({ length: CROSS_CHECK_EVERY }, () => READ);
    expect(await failure([...SETUP, ...reads], slipping(3, true))).toBe(`abstraction.incremental at ${CROSS_CHECK_EVERY - 1}`);
  });
});
