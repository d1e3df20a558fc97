// The userfaultfd-on-guest_memfd designs (config.uffdGmemDesign): each design rule at both sides through model and
// implementation, files without the field decode as vm-uffd-ops, and the table of docs/UFFD.md and the stored
// counterexamples agree with which handler works on which design (props/postcopy/designs.ts WORKS_ON).
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { BUG_IDS } from "../impl/bugs.js";
import { Checker } from "../props/checker.js";
import { cellSuite, UFFD_GMEM_DESIGN_SUITES, WORKS_ON } from "../props/postcopy/designs.js";
import { replay } from "../props/replay.js";
import { Vmm } from "../props/postcopy/vmm.js";
import { configToInput, PRESETS, resolveConfig, UFFD_GMEM_DESIGNS, type Config, type UffdGmemDesign } from "../schema/config.js";
import type { Op, UffdModeName } from "../schema/ops.js";
import { decodeScenario, UFFD_HANDLERS, type Scenario } from "../schema/scenario.js";

const P = 4096;
const design = (d: UffdGmemDesign): Config => ({ ...PRESETS.default, uffdGmemDesign: d });
const setup = (mode: UffdModeName[]): Op[] => [
  { op: "create_vm", vm: "v0" },
  { op: "create_gmem", vm: "v0", gmem: "g0", size: 2 * P, flags: ["MMAP", "INIT_SHARED"] },
  { op: "gmem_mmap", gmem: "g0", map: "m0", offset: 0, length: 2 * P },
  { op: "uffd_open", uffd: "u0", features: [] },
  { op: "uffd_register", uffd: "u0", map: "m0", offset: 0, len: 2 * P, mode },
];
const read = (offset = 0): Op => ({ op: "access", map: "m0", offset, kind: "read", id: "t0" });
const cont = (offset = 0): Op => ({ op: "uffdio_continue", uffd: "u0", map: "m0", offset, len: P });
const alias = (offset: number, byte: number): Op => ({ op: "write_alias", map: "m0", offset, byte });

/** The last step's model outcome and rules, after model and implementation agreed on every step. */
async function last(d: UffdGmemDesign, ops: readonly Op[]): Promise<{ outcome: unknown; fired: readonly string[]; checker: Checker }> {
  const checker = new Checker(design(d));
  await checker.applyAll(ops);
  const t = checker.trace.at(-1)!;
  return { outcome: t.model, fired: t.fired, checker };
}

describe("the designs' faults", () => {
  it("a first touch of a hole: MISSING under vm-uffd-ops and v1, MINOR with the folio allocated under v6 and v2/v3", async () => {
    for (const d of ["vm-uffd-ops", "v1-hybrid"] as const) {
      const r = await last(d, [...setup(["MISSING", "MINOR"]), read()]);
      expect(r.outcome, d).toMatchObject({ result: "blocked", fault: { flags: [] } });
    }
    expect((await last("v1-hybrid", [...setup(["MISSING"]), read()])).fired).toContain("uffd.gmem-v1-missing");
    for (const d of ["guestmem-v6", "v2-minor-first"] as const) {
      const r = await last(d, [...setup(["MISSING", "MINOR"]), read()]);
      expect(r.outcome, d).toMatchObject({ result: "blocked", fault: { flags: ["MINOR"] } });
      expect(r.fired, d).toContain("uffd.gmem-minor-first");
      // The folio the fault allocated is there: CONTINUE maps it, and the woken read sees zero.
      const c = await last(d, [...setup(["MISSING", "MINOR"]), read(), cont(), { op: "wake_check", id: "t0" }]);
      expect(c.outcome, d).toMatchObject({ result: "completed", value: 0 });
    }
  });

  it("MISSING alone under v6 raises nothing: the fault allocates and maps a zero page", async () => {
    const r = await last("guestmem-v6", [...setup(["MISSING"]), read()]);
    expect(r.outcome).toEqual({ result: "ok", value: 0 });
    expect(r.fired).not.toContain("uffd.gmem-minor-first");
  });

  it("a folio in the file: MINOR under vm-uffd-ops, v6 and v2/v3; v1 maps it without a message", async () => {
    for (const d of ["vm-uffd-ops", "guestmem-v6", "v2-minor-first"] as const) {
      const r = await last(d, [...setup(["MISSING", "MINOR"]), alias(0, 7), read()]);
      expect(r.outcome, d).toMatchObject({ result: "blocked", fault: { flags: ["MINOR"] } });
    }
    const v1 = await last("v1-hybrid", [...setup(["MISSING", "MINOR"]), alias(0, 7), read()]);
    expect(v1.outcome).toEqual({ result: "ok", value: 7 });
  });
});

describe("the designs' ioctls", () => {
  it("CONTINUE on a hole: EFAULT under vm-uffd-ops and v1, allocated and mapped under v6 and v2/v3", async () => {
    for (const d of ["vm-uffd-ops", "v1-hybrid"] as const) {
      const r = await last(d, [...setup(["MISSING", "MINOR"]), cont()]);
      expect(r.outcome, d).toEqual({ errno: "EFAULT", mapped: -14 });
      expect(r.fired, d).toContain("uffd.continue-hole");
    }
    for (const d of ["guestmem-v6", "v2-minor-first"] as const) {
      const r = await last(d, [...setup(["MISSING", "MINOR"]), cont(), read()]);
      expect(r.checker.trace.at(-2)!.fired, d).toContain("uffd.gmem-continue-alloc");
      expect(r.outcome, d).toEqual({ result: "ok", value: 0 });
    }
  });

  it("CONTINUE past i_size stays EFAULT under every design (nothing to allocate)", async () => {
    for (const d of UFFD_GMEM_DESIGNS) {
      const ops: Op[] = setup(["MINOR"]).map((op) => (op.op === "gmem_mmap" ? { ...op, length: 3 * P } : op.op === "uffd_register" ? { ...op, len: 3 * P } : op));
      const r = await last(d, [...ops, cont(2 * P)]);
      expect(r.outcome, d).toEqual({ errno: "EFAULT", mapped: -14 });
    }
  });

  it("COPY and ZEROPAGE fill guest_memfd only under vm-uffd-ops", async () => {
    const copy: Op = { op: "uffdio_copy", uffd: "u0", map: "m0", offset: 0, len: P, byte: 9 };
    const zero: Op = { op: "uffdio_zeropage", uffd: "u0", map: "m0", offset: 0, len: P };
    expect((await last("vm-uffd-ops", [...setup(["MISSING"]), copy])).outcome).toEqual({ result: "ok", copy: P });
    for (const d of ["guestmem-v6", "v1-hybrid", "v2-minor-first"] as const) {
      for (const op of [copy, zero]) {
        const r = await last(d, [...setup(["MISSING", "MINOR"]), op]);
        expect(r.outcome, `${d} ${op.op}`).toMatchObject({ errno: "EINVAL" });
        expect(r.fired).toContain("faultline.uffd-gmem-fill-unsupported");
      }
    }
  });

  it("registration: v2/v3 want MINOR (MISSING alone is EINVAL); v1 and v6 take any mode, INIT_SHARED or not", async () => {
    const missing = await last("v2-minor-first", setup(["MISSING"]));
    expect(missing.outcome).toEqual({ errno: "EINVAL" });
    expect(missing.fired).toContain("uffd.gmem-register-minor");
    expect((await last("v2-minor-first", setup(["MISSING", "MINOR"]))).outcome).toMatchObject({ result: "ok" });
    for (const d of ["guestmem-v6", "v1-hybrid"] as const) {
      const noInit: Op[] = setup(["MISSING"]).map((op) => (op.op === "create_gmem" ? { ...op, flags: ["MMAP"] } : op));
      const r = await last(d, noInit);
      expect(r.outcome, d).toMatchObject({ result: "ok" });
      expect(r.fired, d).toContain("uffd.gmem-register-any");
    }
    expect((await last("vm-uffd-ops", setup(["MISSING"]).map((op) => (op.op === "create_gmem" ? { ...op, flags: ["MMAP"] } : op)))).outcome).toEqual({ errno: "EINVAL" });
  });
});

describe("configuration", () => {
  it("a file without uffdGmemDesign is vm-uffd-ops, and the default is not written back (old files keep their hash)", () => {
    expect(resolveConfig({}).uffdGmemDesign).toBe("vm-uffd-ops");
    expect(configToInput(PRESETS.default)).not.toHaveProperty("uffdGmemDesign");
    expect(configToInput(design("guestmem-v6")).uffdGmemDesign).toBe("guestmem-v6");
  });
});

const DIR = "counterexamples";
const stored = (): Scenario[] =>
  readdirSync(DIR)
    .filter((f) => f.startsWith("uffd-gmem-") && f.includes("-handler--"))
    .map((f) => decodeScenario(`${DIR}/${f}`, readFileSync(`${DIR}/${f}`, "utf8"), { bugs: BUG_IDS }));

describe("the design x handler table", () => {
  it("stores one design-flaw counterexample per cell where the handler breaks, and none where it works", () => {
    const cells = stored().map((s) => `${s.config.uffdGmemDesign ?? "vm-uffd-ops"}/${s.postcopy?.handler ?? "vm-uffd-ops"}`);
    const broken = UFFD_GMEM_DESIGNS.flatMap((d) => UFFD_HANDLERS.filter((h) => !WORKS_ON[d].includes(h)).map((h) => `${d}/${h}`));
    expect([...new Set(cells)].sort()).toEqual(broken.sort());
    for (const s of stored()) expect(s.expectedToFail, s.name).toMatch(/does not work on the/);
  });

  it("each stored cell replays failing as recorded", async () => {
    for (const s of stored()) {
      const r = await replay(s);
      expect(r.failure?.property, s.name).toBe(s.failure!.property);
    }
  });

  it("docs/UFFD.md's table says works exactly where WORKS_ON does", () => {
    const doc = readFileSync("docs/UFFD.md", "utf8");
    const rows = doc.split("\n").filter((l) => l.startsWith("| written for "));
    expect(rows).toHaveLength(UFFD_HANDLERS.length);
    for (const [i, h] of UFFD_HANDLERS.entries()) {
      const cells = rows[i]!.split(" | ").slice(1);
      for (const [j, d] of UFFD_GMEM_DESIGNS.entries()) expect(cells[j]!.startsWith("works"), `${h} on ${d}`).toBe(WORKS_ON[d].includes(h));
    }
  });

  it("a handler written for vm-uffd-ops runs on guestmem v6 through a generated search (a cell of the table)", async () => {
    const r = await cellSuite("guestmem-v6", "vm-uffd-ops", 20).run({ seed: 2, runs: 20 });
    expect(r.failure).toBeUndefined();
  });
});

describe("seeded bug", () => {
  it("uffd-gmem-minor-first-noalloc (MINOR before the folio is grabbed) is found by postcopy-uffd-gmem-guestmem-v6 through refinement", async () => {
    const suite = UFFD_GMEM_DESIGN_SUITES.find((s) => s.name === "postcopy-uffd-gmem-guestmem-v6")!;
    const r = await suite.run({ seed: 1, runs: suite.runs, bugs: ["uffd-gmem-minor-first-noalloc"] });
    expect(r.failure?.property).toMatch(/^refinement/);
  });
});

describe("the handler written for vm-uffd-ops on v1", () => {
  it("reads a stale pre-copied page: v1 maps a page the file holds without a MINOR message", async () => {
    const sc = { pages: 2, source: [5, 6], precopied: [9, null], fetchOrder: [0, 1], events: [{ kind: "guest", vcpu: 0, write: false, page: 0, offset: 0, byte: 1 }], backing: "gmem", userfault: false, vcpus: 1 } as const;
    await expect(new Vmm(design("v1-hybrid"), { ...sc, events: [...sc.events] }).run()).rejects.toMatchObject({ failure: { property: "postcopy-no-early-read" } });
    // The handler written for v1 places no stale page, so the same read waits for the fetch.
    await expect(new Vmm(design("v1-hybrid"), { ...sc, events: [...sc.events], handler: "missing-only" }).run()).resolves.toBeUndefined();
  });
});
