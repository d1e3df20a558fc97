// Worked examples of guest_memfd behaviour that no single errno case shows: huge folios splitting and merging
// under conversions (with the stage-2 level following), and the 2024 RFC's rollback widening faultability.
import { describe, expect, it } from "vitest";
import { PRESETS, type Config } from "../schema/config.js";
import type { Op } from "../schema/ops.js";
import { levelAt, runBoth as run } from "./helpers/run.js";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const PAGE = 4096;


const read = (gpa: number): Op => ({ op: "vcpu_access", vm: "v0", vcpu: 0, gpa, kind: "read" });
const convert = (offset: number, size: number, to: "private" | "shared"): Op => ({ op: "gmem_convert", gmem: "g0", offset, size, to });

describe("1 GiB folios under v7 conversions", () => {
  const config: Config = { ...PRESETS["gmem-v7"], gmemFolio: "1G" };
  const setup: Op[] = [
    { op: "create_vm", vm: "v0", type: 1 },
    { op: "create_gmem", vm: "v0", gmem: "g0", size: 2 * GiB, flags: ["MMAP"] },
    { op: "set_memory_region", vm: "v0", slot: 0, flags: ["GUEST_MEMFD"], guest_phys_addr: 0, memory_size: 2 * GiB, userspace: null, guest_memfd: "g0", guest_memfd_offset: 0 },
    { op: "gmem_mmap", gmem: "g0", map: "m5", offset: 0, length: 2 * GiB },
  ];

  it("a private fault maps the whole folio at 1 GiB", async () => {
    const { state } = await run(config, [...setup, read(5 * PAGE)]);
    expect(levelAt(state, 5)).toBe(2);
  });

  it("sharing one page splits the folio: stage 2 drops to 4 KiB and the host may map that page", async () => {
    const { outcomes, state } = await run(config, [
      ...setup,
      read(5 * PAGE),
      convert(5 * PAGE, PAGE, "shared"),
      { op: "access", map: "m5", offset: 5 * PAGE, kind: "write", byte: 7 },
      read(6 * PAGE),
    ]);
    expect(outcomes.at(-2)).toEqual({ result: "ok" });
    expect(state.gmem.inodes[0]!.split).toEqual([{ start: 0, end: 262144, value: true }]);
    expect(levelAt(state, 6)).toBe(0);
  });

  it("once the page is private again and unmapped, the folio merges and maps at 1 GiB again, contents kept", async () => {
    const { outcomes, state } = await run(config, [
      ...setup,
      convert(5 * PAGE, PAGE, "shared"),
      { op: "access", map: "m5", offset: 5 * PAGE, kind: "write", byte: 7 },
      convert(5 * PAGE, PAGE, "private"),
      read(5 * PAGE),
    ]);
    expect(outcomes.at(-1)).toEqual({ result: "ok", value: 7 });
    expect(state.gmem.inodes[0]!.split).toEqual([]);
    expect(levelAt(state, 5)).toBe(2);
  });
});

describe("the 2024 RFC's rollback", () => {
  const config: Config = { ...PRESETS.default, gmemDesign: "rfc-2024" };
  const setup: Op[] = [
    { op: "create_vm", vm: "v0", type: 1 },
    { op: "create_gmem", vm: "v0", gmem: "g0", size: 4 * MiB, flags: ["MMAP"] },
    { op: "set_memory_region", vm: "v0", slot: 0, flags: ["GUEST_MEMFD"], guest_phys_addr: 0, memory_size: 4 * MiB, userspace: null, guest_memfd: "g0", guest_memfd_offset: 0 },
    { op: "gmem_mmap", gmem: "g0", map: "m5", offset: 0, length: 4 * MiB },
    { op: "set_memory_attributes", vm: "v0", address: 0, size: PAGE, attributes: ["PRIVATE"] },
    { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 0, kind: "write", byte: 0x5e },
  ];

  it("makes a page the guest still uses as private faultable again", async () => {
    const { outcomes, state } = await run(config, [
      ...setup,
      { op: "pin", map: "m5", offset: PAGE },
      // Page 0 is private, page 1 pinned: the conversion of both fails and rolls back over both.
      { op: "set_memory_attributes", vm: "v0", address: 0, size: 2 * PAGE, attributes: ["PRIVATE"] },
      { op: "access", map: "m5", offset: 0, kind: "read" },
    ]);
    expect(outcomes.at(-2)).toEqual({ errno: "EINVAL" });
    expect(state.kvm.vms[0]!.attributes).toEqual([{ start: 0, end: 1, value: true }]);
    expect(outcomes.at(-1)).toEqual({ result: "ok", value: 0x5e });
  });
});
