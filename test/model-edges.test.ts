// Edges of the model that no generator reaches, each checked against the implementation where both can run it:
// reads at and past EOF, munmap defaults and unknown mappings, VM fds that name no VM, the map windows, a close
// that names nothing, and the guard that a refusal always carries an errno.
import { describe, expect, it } from "vitest";
import { initial, step } from "../model/index.js";
import { refuse } from "../model/state.js";
import { rule } from "../model/rules.js";
import { MAP_STRIDE, MAX_MAPS } from "../model/consts.js";
import { mapBase, windowOf } from "../model/mm/layout.js";
import { Checker } from "../props/checker.js";
import { PRESETS } from "../schema/config.js";
import type { Op } from "../schema/ops.js";

const P = 4096;
const K618 = PRESETS["kernel-6.18"];

/** Runs ops through model and impl (the checker fails on any disagreement) and returns each step's outcome. */
async function outcomes(ops: readonly Op[]): Promise<unknown[]> {
  const c = new Checker(K618);
  await c.applyAll(ops);
  return c.trace.map((t) => t.model);
}

describe("model edges", () => {
  it("pread: a page-cache byte, nothing at or past EOF or for zero bytes, EBADF for an unknown fd", async () => {
    const r = await outcomes([
      { op: "memfd", file: "f0", size: 2 * P },
      { op: "pwrite", file: "f0", offset: P + 3, byte: 7, len: 1 },
      { op: "pread", file: "f0", offset: P + 3, len: 1 },
      { op: "pread", file: "f0", offset: 2 * P, len: 1 },
      { op: "pread", file: "f0", offset: 0, len: 0 },
      { op: "pread", file: "f9", offset: 0, len: 1 },
    ]);
    expect(r.slice(2)).toEqual([{ result: "ok", value: 7 }, { result: "ok", value: null }, { result: "ok", value: null }, { errno: "EBADF" }]);
  });

  it("munmap: the rest of the mapping by default, an unknown mapping is not an error", async () => {
    const r = await outcomes([
      { op: "mmap", map: "m0", file: "anon", offset: 0, length: 4 * P },
      { op: "access", map: "m0", offset: 3 * P, kind: "write", byte: 1 },
      { op: "munmap", map: "m0", offset: P },
      { op: "access", map: "m0", offset: 3 * P, kind: "read" },
      { op: "access", map: "m0", offset: 0, kind: "read" },
      { op: "munmap", map: "m5" },
    ]);
    expect(r.slice(2)).toEqual([{ result: "ok" }, { result: "SIGSEGV", code: "SEGV_MAPERR" }, { result: "ok", value: 0 }, { result: "ok" }]);
  });

  it("a VM fd that names no VM: check_extension and userfault bitmap writes are EBADF", async () => {
    const r = await outcomes([
      { op: "check_extension", cap: "NR_MEMSLOTS", vm: "v3" },
      { op: "userfault_set", vm: "v3", slot: 0, gfn_offset: 0, npages: 1 },
      { op: "userfault_clear", vm: "v3", slot: 0, gfn_offset: 0, npages: 1 },
    ]);
    expect(r).toEqual([{ errno: "EBADF" }, { errno: "EBADF" }, { errno: "EBADF" }]);
  });

  it("map windows: a map id names its window, an hva outside every window names none", () => {
    expect(windowOf(mapBase("m3") + 5)).toEqual({ id: "m3", offset: 5 });
    expect(windowOf(mapBase("m0") - 1)).toBeUndefined();
    expect(windowOf(mapBase("m0") + MAX_MAPS * MAP_STRIDE)).toBeUndefined();
    expect(() => mapBase("m64")).toThrow(/not a map id/);
    expect(() => mapBase("x1")).toThrow(/not a map id/);
  });

  it("a close naming no fd is EBADF (the scenario schema never makes one)", () => {
    const s = initial(K618);
    const r = step(s, { op: "close" } as Op);
    expect(r.outcome).toEqual({ errno: "EBADF" });
    expect(r.fired).toEqual(["close.ebadf"]);
    expect(r.state).toBe(s);
  });

  it("a refusal by a rule without errno is a model bug, thrown at once", () => {
    expect(() => refuse(initial(K618), rule("test.no-errno", "nowhere", "a rule that refuses nothing"))).toThrow(/has no errno/);
  });
});
