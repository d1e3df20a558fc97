// gmem_state, faultline's query of what guest_memfd holds per range: its refusals, its answer through model and impl
// after conversions of a huge folio and under the 2024 RFC, and the seeded slip the gmem-v8-2m suite finds.
import { describe, expect, it } from "vitest";
import { Checker } from "../props/checker.js";
import { GMEM_RFC, GMEM_V7 } from "../props/gmem/layouts.js";
import { GMEM_SEQUENTIAL_SUITES } from "../props/gmem/suites.js";
import { setupOf } from "../props/layouts.js";
import { runSequentialSuite } from "../props/run.js";
import { PRESETS, type Config } from "../schema/config.js";
import type { Op } from "../schema/ops.js";
import { REFINEMENT } from "./helpers/seeded-bugs.js";

const P = 4096;
const MiB = 1024 * 1024;
const V8_2M: Config = { ...PRESETS["gmem-v8"], gmemFolio: "2M" };
const RFC: Config = { ...PRESETS.default, gmemDesign: "rfc-2024", gmemFaultLock: true };
const query = (offset: number, size: number, gmem = "g0"): Op => ({ op: "gmem_state", gmem, offset, size });

async function last(config: Config, ops: readonly Op[]): Promise<{ model: unknown; impl: unknown; fired: readonly string[] }> {
  const checker = new Checker(config);
  await checker.applyAll(ops);
  const t = checker.trace[checker.trace.length - 1]!;
  return { model: t.model, impl: t.impl, fired: t.fired };
}

describe("gmem_state", () => {
  const setup = setupOf(GMEM_V7, GMEM_V7.vmType);

  it("refuses a closed fd, an empty, unaligned or out-of-file range", async () => {
    expect((await last(V8_2M, [...setup, query(0, P, "g7")])).model).toEqual({ errno: "EBADF" });
    for (const [offset, size] of [[0, 0], [1, P], [0, P + 1], [8 * MiB - P, 2 * P]] as const) {
      const r = await last(V8_2M, [...setup, query(offset, size)]);
      expect(r.model).toEqual({ errno: "EINVAL" });
      expect(r.fired).toContain("gmem.state-range");
    }
  });

  it("reports a huge folio split by a shared page and whole again once private (v8, 2 MiB folios)", async () => {
    const touched: Op[] = [...setup, { op: "access", map: "m5", offset: 0, kind: "write", byte: 7 }];
    const shared = await last(V8_2M, [...touched, query(0, 4 * MiB)]);
    expect(shared.model).toEqual({
      result: "ok",
      ranges: [
        { offset: 0, size: 2 * MiB, private: false, faultable: true, folio: "4K" },
        { offset: 2 * MiB, size: 2 * MiB, private: false, faultable: true, folio: "none" },
      ],
    });
    const priv = await last(V8_2M, [...touched, { op: "gmem_convert", gmem: "g0", offset: 0, size: 2 * MiB, to: "private" }, query(0, 2 * MiB + P)]);
    expect(priv.model).toEqual({
      result: "ok",
      ranges: [
        { offset: 0, size: 2 * MiB, private: true, faultable: false, folio: "2M" },
        { offset: 2 * MiB, size: P, private: false, faultable: true, folio: "none" },
      ],
    });
    expect(priv.impl).toEqual(priv.model);
  });

  it("tells the 2024 RFC's attribute and faultability apart: a refused conversion leaves the page shared and faultable", async () => {
    const rfc = setupOf(GMEM_RFC, GMEM_RFC.vmType);
    const ops: Op[] = [
      ...rfc,
      { op: "access", map: "m5", offset: 0, kind: "write", byte: 1 },
      { op: "set_memory_attributes", vm: "v0", address: 0, size: 2 * P, attributes: ["PRIVATE"] },
      query(0, 2 * P),
    ];
    const r = await last(RFC, ops);
    expect(r.model).toEqual({
      result: "ok",
      ranges: [
        { offset: 0, size: P, private: false, faultable: true, folio: "4K" },
        { offset: P, size: P, private: false, faultable: true, folio: "none" },
      ],
    });
    const madvised = await last(RFC, [...ops.slice(0, -2), { op: "madvise", map: "m5", offset: 0, len: P, advice: "DONTNEED" }, ops[ops.length - 2]!, query(0, 2 * P)]);
    expect(madvised.model).toEqual({
      result: "ok",
      ranges: [
        { offset: 0, size: P, private: true, faultable: false, folio: "4K" },
        { offset: P, size: P, private: true, faultable: false, folio: "none" },
      ],
    });
    expect(madvised.impl).toEqual(madvised.model);
  });

  it("gmem-state-ignores-split is found by refinement alone in gmem-v8-2m", async () => {
    const s = GMEM_SEQUENTIAL_SUITES.find((x) => x.name === "gmem-v8-2m")!;
    const r = await runSequentialSuite(s, { seed: 1, runs: 2000, checks: REFINEMENT, bugs: ["gmem-state-ignores-split"] });
    expect(r.failure, `not found in ${r.stats.runs} runs`).toBeDefined();
    expect(r.failure!.property).toMatch(/^refinement\.outcome$/);
    expect(r.shrunkLength).toBeLessThanOrEqual(6);
  });
});
