// Allocation failure (fail_nth) in guest_memfd's conversions and fallocate: each failing attempt at both sides of the
// count a call makes, what a failed call leaves under each design, the 2024 RFC's retry that does not converge, and
// the seeded slips the new checks find alone.
import { describe, expect, it } from "vitest";
import { canonical } from "../model/index.js";
import { ALL_CHECKS, Checker, PropertyFailure, type Checks } from "../props/checker.js";
import { GMEM_FAILURE_SUITES, GMEM_RFC_ENOMEM, RETRY_CONVERGES } from "../props/gmem/failures.js";
import { GMEM_RFC, GMEM_V7, GMEM_V7_1G } from "../props/gmem/layouts.js";
import { GMEM_SEQUENTIAL_SUITES } from "../props/gmem/suites.js";
import { setupOf } from "../props/layouts.js";
import { runSequentialSuite } from "../props/run.js";
import { PRESETS, type Config } from "../schema/config.js";
import type { Op } from "../schema/ops.js";
import type { Outcome } from "../schema/outcome.js";
import { ONLY, REFINEMENT } from "./helpers/seeded-bugs.js";

const P = 4096;
const MiB = 1024 * 1024;
const V8 = PRESETS["gmem-v8"];
const RFC: Config = { ...PRESETS.default, gmemDesign: "rfc-2024", gmemFaultLock: true };
const v8Setup = setupOf(GMEM_V7, GMEM_V7.vmType);
const rfcSetup = setupOf(GMEM_RFC, GMEM_RFC.vmType);

/** Runs the ops through model and impl (refinement and, unless told otherwise, every invariant) and returns the checker. */
async function run(config: Config, ops: readonly Op[], checks: Checks = ALL_CHECKS): Promise<Checker> {
  const c = new Checker(config, checks);
  await c.applyAll(ops);
  return c;
}

const lastOutcome = (c: Checker): Outcome => c.trace.at(-1)!.model;
const lastFired = (c: Checker): readonly string[] => c.trace.at(-1)!.fired;
const convert = (to: "private" | "shared", pages: number, failNth?: number, offset = 0): Op => ({
  op: "gmem_convert",
  gmem: "g0",
  offset,
  size: pages * P,
  to,
  ...(failNth === undefined ? {} : { fail_nth: failNth }),
});
const attrs = (priv: boolean, pages: number, failNth?: number): Op => ({
  op: "set_memory_attributes",
  vm: "v0",
  address: 0,
  size: pages * P,
  attributes: priv ? ["PRIVATE"] : [],
  ...(failNth === undefined ? {} : { fail_nth: failNth }),
});
const allocate = (gmem: string, len: number, failNth?: number): Op => ({
  op: "gmem_fallocate",
  gmem,
  mode: ["KEEP_SIZE"],
  offset: 0,
  len,
  ...(failNth === undefined ? {} : { fail_nth: failNth }),
});
const faultable = (c: Checker, pages: number): boolean[] => {
  const s = c.modelState;
  const inode = s.gmem.inodes[s.gmem.names.get("g0")!]!;
  return Array.from({ length: pages }, (_, i) => inode.shared.some((sp) => i >= sp.start && i < sp.end));
};

describe("KVM_SET_MEMORY_ATTRIBUTES2 (v8): one preallocation up front", () => {
  const touched: Op[] = [...v8Setup, { op: "access", map: "m5", offset: 0, kind: "write", byte: 9 }];

  it("fail_nth 1 fails it: ENOMEM at the range's start, nothing unmapped or stored", async () => {
    const before = await run(V8, touched);
    const c = await run(V8, [...touched, convert("private", 4, 1, P)]);
    expect(lastOutcome(c)).toEqual({ errno: "ENOMEM", error_offset: P });
    expect(lastFired(c)).toEqual(["alloc.fail-nth", "gmem.convert-enomem"]);
    expect(canonical(c.modelState)).toEqual(canonical(before.modelState));
  });

  it("fail_nth 2 lies past its one attempt: the conversion happens, as with none", async () => {
    const c = await run(V8, [...touched, convert("private", 4, 2)]);
    const plain = await run(V8, [...touched, convert("private", 4)]);
    expect(lastOutcome(c)).toEqual({ result: "ok" });
    expect(canonical(c.modelState)).toEqual(canonical(plain.modelState));
  });

  it("a range that already has the attributes returns before the allocation", async () => {
    const c = await run(V8, [...v8Setup, convert("shared", 4, 1)]);
    expect(lastOutcome(c)).toEqual({ result: "ok" });
    expect(lastFired(c)).toEqual(["gmem.convert-noop"]);
  });
});

describe("KVM_SET_MEMORY_ATTRIBUTES: KVM's reservation up front", () => {
  it("fail_nth 1 fails it with nothing zapped or stored; fail_nth 2 lets it through (no guest_memfd loop behind it)", async () => {
    const setup = setupOf(GMEM_V7, 1);
    const before = await run(PRESETS.default, setup);
    const failed = await run(PRESETS.default, [...setup, attrs(true, 2, 1)]);
    expect(lastOutcome(failed)).toEqual({ errno: "ENOMEM" });
    expect(lastFired(failed)).toEqual(["alloc.fail-nth", "attr.enomem"]);
    expect(canonical(failed.modelState)).toEqual(canonical(before.modelState));
    const passed = await run(PRESETS.default, [...setup, attrs(true, 2, 2)]);
    expect(lastOutcome(passed)).toEqual({ result: "ok" });
  });
});

describe("the 2024 RFC's per-index faultability loop", () => {
  const madePrivate = [...rfcSetup, attrs(true, 3)];

  it("only storing FAULT allocates: a conversion to private has just the reservation to fail", async () => {
    const c = await run(RFC, [...rfcSetup, attrs(true, 3, 2)]);
    expect(lastOutcome(c)).toEqual({ result: "ok" });
    expect(faultable(c, 4)).toEqual([false, false, false, true]);
  });

  it("a store failing at an index leaves the indexes before it faultable, the rest not, and the ioctl returns 0", async () => {
    // Attempt 1 is KVM's reservation, 2..4 the stores of indexes 0..2.
    const cases: [number, boolean[]][] = [
      [2, [false, false, false]],
      [3, [true, false, false]],
      [4, [true, true, false]],
      [5, [true, true, true]],
    ];
    for (const [nth, expected] of cases) {
      const c = await run(RFC, [...madePrivate, attrs(false, 3, nth)]);
      expect(lastOutcome(c), `fail_nth ${nth}`).toEqual({ result: "ok" });
      expect(lastFired(c).includes("gmem.rfc-faultable-enomem"), `fail_nth ${nth}`).toBe(nth <= 4);
      expect(faultable(c, 3), `fail_nth ${nth}`).toEqual(expected);
    }
  });

  it("the page left unfaultable is shared to KVM yet SIGBUSes the host, and retrying the call does not help; a round trip does", async () => {
    const failed = [...madePrivate, attrs(false, 3, 3)];
    const state: Op = { op: "gmem_state", gmem: "g0", offset: P, size: P };
    const c = await run(RFC, [...failed, state, { op: "access", map: "m5", offset: P, kind: "read" }]);
    expect(c.trace.at(-2)!.model).toEqual({ result: "ok", ranges: [{ offset: P, size: P, private: false, faultable: false, folio: "none" }] });
    expect(lastOutcome(c)).toMatchObject({ result: "SIGBUS" });
    const retried = await run(RFC, [...failed, attrs(false, 3)]);
    expect(lastFired(retried)).toEqual(["attr.noop"]);
    expect(faultable(retried, 3)).toEqual([true, false, false]);
    const roundTrip = await run(RFC, [...failed, attrs(true, 3), attrs(false, 3)]);
    expect(faultable(roundTrip, 3)).toEqual([true, true, true]);
  });

  it("a refused conversion's rollback that fails leaves the mapped page unfaultable and still says EINVAL; its retry converges", async () => {
    const mapped = [...rfcSetup, { op: "access", map: "m5", offset: 2 * P, kind: "read" } as Op];
    const c = await run(RFC, [...mapped, attrs(true, 3, 3)], REFINEMENT);
    expect(lastOutcome(c)).toEqual({ errno: "EINVAL" });
    expect(faultable(c, 3)).toEqual([true, false, false]);
    // Page 2 stays in the host's page table, unfaultable: the RFC's own test for a private page (faultability) fails.
    const err = await run(RFC, [...mapped, attrs(true, 3, 3)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PropertyFailure);
    expect((err as PropertyFailure).failure.property).toBe("gmem-private-not-host-mapped");
    const retried = await run(RFC, [...mapped, attrs(true, 3, 3), attrs(true, 3)], REFINEMENT);
    const clean = await run(RFC, [...mapped, attrs(true, 3)], REFINEMENT);
    expect(canonical(retried.modelState)).toEqual(canonical(clean.modelState));
  });

  it(`${GMEM_RFC_ENOMEM.name} finds that a retry does not converge (${RETRY_CONVERGES})`, async () => {
    const r = await GMEM_RFC_ENOMEM.run({ seed: 1, runs: 300, checks: ONLY(RETRY_CONVERGES) });
    expect(r.failure, `not found in ${r.stats.runs} runs`).toBeDefined();
    expect(r.failure!.property).toBe(RETRY_CONVERGES);
    expect(r.shrunkLength).toBeLessThanOrEqual(6);
  });
});

describe("fallocate: one attempt per folio it allocates (HugeTLB: the pool or subpool)", () => {
  it("2 MiB folios: the second folio's allocation fails, the first stays; one more lets both through", async () => {
    const V8_2M: Config = { ...V8, gmemFolio: "2M" };
    // g1 is private from the start, so its folios stay whole.
    const failed = await run(V8_2M, [...v8Setup, allocate("g1", 4 * MiB, 2), { op: "gmem_state", gmem: "g1", offset: 0, size: 4 * MiB }]);
    expect(failed.trace.at(-2)!.model).toEqual({ errno: "ENOMEM" });
    expect(lastOutcome(failed)).toEqual({
      result: "ok",
      ranges: [
        { offset: 0, size: 2 * MiB, private: true, faultable: false, folio: "2M" },
        { offset: 2 * MiB, size: 2 * MiB, private: true, faultable: false, folio: "none" },
      ],
    });
    const passed = await run(V8_2M, [...v8Setup, allocate("g1", 4 * MiB, 3)]);
    expect(lastOutcome(passed)).toEqual({ result: "ok" });
    // A folio already there is no attempt: with the first present, attempt 1 is the second folio.
    const present = await run(V8_2M, [...v8Setup, allocate("g0", 2 * MiB), allocate("g0", 4 * MiB, 1)]);
    expect(lastOutcome(present)).toEqual({ errno: "ENOMEM" });
    expect(lastFired(present)).toEqual(["alloc.fail-nth", "gmem.allocate-enomem"]);
  });

  it("1 GiB folios: the one folio's allocation fails (nothing allocated), or is past fail_nth", async () => {
    const V8_1G: Config = { ...V8, gmemFolio: "1G" };
    const setup = setupOf(GMEM_V7_1G, GMEM_V7_1G.vmType);
    const failed = await run(V8_1G, [...setup, allocate("g0", 1024 * MiB, 1), { op: "gmem_state", gmem: "g0", offset: 0, size: 1024 * MiB }]);
    expect(failed.trace.at(-2)!.model).toEqual({ errno: "ENOMEM" });
    expect(lastOutcome(failed)).toMatchObject({ ranges: [{ folio: "none" }] });
    const passed = await run(V8_1G, [...setup, allocate("g0", 1024 * MiB, 2)]);
    expect(lastOutcome(passed)).toEqual({ result: "ok" });
  });
});

describe("the seeded slips, each found by one check alone", () => {
  const v8Enomem = GMEM_FAILURE_SUITES.find((s) => s.name === "gmem-v8-enomem")!;
  const rfcSuite = GMEM_SEQUENTIAL_SUITES.find((s) => s.name === "gmem-rfc-2024")!;

  it("gmem-rfc-faultability-range-store: the RFC TODO's pitfall, found by gmem-rfc-2024's refinement and by gmem-faultability-confined", async () => {
    const byRefinement = await runSequentialSuite(rfcSuite, { seed: 1, runs: 500, checks: REFINEMENT, bugs: ["gmem-rfc-faultability-range-store"] });
    expect(byRefinement.failure, `not found in ${byRefinement.stats.runs} runs`).toBeDefined();
    expect(byRefinement.failure!.property).toMatch(/^refinement\./);
    const byInvariant = await runSequentialSuite(rfcSuite, { seed: 1, runs: 500, checks: ONLY("gmem-faultability-confined"), bugs: ["gmem-rfc-faultability-range-store"] });
    expect(byInvariant.failure, `not found in ${byInvariant.stats.runs} runs`).toBeDefined();
    expect(byInvariant.failure!.property).toBe("gmem-faultability-confined");
    expect(byInvariant.shrunkLength).toBeLessThanOrEqual(4);
  });

  it("gmem-convert-store-before-prealloc: found by enomem-unchanged alone, and by the retry alone", async () => {
    for (const check of ["enomem-unchanged", RETRY_CONVERGES]) {
      const r = await v8Enomem.run({ seed: 1, runs: 300, checks: ONLY(check), bugs: ["gmem-convert-store-before-prealloc"] });
      expect(r.failure, `${check}: not found in ${r.stats.runs} runs`).toBeDefined();
      expect(r.failure!.property).toBe(check);
    }
  });
});
