// When a private guest_memfd fault may map 2 MiB at once (kvm_gmem_get_pfn's max_order, kvm_mmu_max_mapping_level):
// x86 only, a private fault, the aligned region inside the slot, gfn and file index congruent, one unsplit folio,
// the region wholly private, neither dirty logging nor USERFAULT. Each condition at its edge, model and impl together.
import { describe, expect, it } from "vitest";
import { PRESETS, type Config } from "../schema/config.js";
import type { State } from "../model/index.js";
import type { Op } from "../schema/ops.js";
import { gmemSlot } from "./helpers/ops.js";
import { levelAt, runBoth } from "./helpers/run.js";

const MiB = 1024 * 1024;
const PAGE = 4096;
const run = async (config: Config, ops: readonly Op[]): Promise<State> => (await runBoth(config, ops)).state;
const V7: Config = { ...PRESETS["gmem-v7"], gmemFolio: "2M" };
const ATTRIBUTES: Config = { ...PRESETS.default, gmemFolio: "2M" };


const read = (gpa: number): Op => ({ op: "vcpu_access", vm: "v0", vcpu: 0, gpa, kind: "read" });
const gmem = (type = 1): Op[] => [
  { op: "create_vm", vm: "v0", type },
  { op: "create_gmem", vm: "v0", gmem: "g0", size: 8 * MiB, flags: [] },
];
const slot = gmemSlot;
const attributes = (address: number, size: number, attrs: ("PRIVATE")[]): Op => ({ op: "set_memory_attributes", vm: "v0", address, size, attributes: attrs });

describe("huge private guest_memfd mappings at each edge", () => {
  it("an aligned slot over 2 MiB folios maps 2 MiB", async () => {
    expect(levelAt(await run(V7, [...gmem(), slot(), read(5 * PAGE)]), 5)).toBe(1);
  });

  it("4 KiB folios: 4 KiB", async () => {
    expect(levelAt(await run(PRESETS["gmem-v7"], [...gmem(), slot(), read(5 * PAGE)]), 5)).toBe(0);
  });

  it("a slot one page short of the region: 4 KiB", async () => {
    expect(levelAt(await run(V7, [...gmem(), slot({ memory_size: 2 * MiB - PAGE }), read(0)]), 0)).toBe(0);
  });

  it("a slot starting one page into a region: 4 KiB there, 2 MiB in the next region", async () => {
    const s = await run(V7, [...gmem(), slot({ guest_phys_addr: PAGE, guest_memfd_offset: PAGE, memory_size: 4 * MiB }), read(PAGE), read(2 * MiB)]);
    expect(levelAt(s, 1)).toBe(0);
    expect(levelAt(s, 512)).toBe(1);
  });

  it("gfn and file index one page out of step: 4 KiB", async () => {
    expect(levelAt(await run(V7, [...gmem(), slot({ guest_memfd_offset: PAGE }), read(5 * PAGE)]), 5)).toBe(0);
  });

  it("gfn and file index a whole region apart: still 2 MiB", async () => {
    expect(levelAt(await run(V7, [...gmem(), slot({ guest_memfd_offset: 2 * MiB }), read(5 * PAGE)]), 5)).toBe(1);
  });

  it("USERFAULT on the slot: 4 KiB", async () => {
    expect(levelAt(await run(V7, [...gmem(), slot({ flags: ["GUEST_MEMFD", "USERFAULT"] }), read(5 * PAGE)]), 5)).toBe(0);
  });

  it("a shared page in the region splits the folio: 4 KiB there, 2 MiB in the next region", async () => {
    const s = await run(V7, [
      { op: "create_vm", vm: "v0", type: 1 },
      { op: "create_gmem", vm: "v0", gmem: "g0", size: 8 * MiB, flags: ["MMAP"] },
      slot(),
      { op: "gmem_convert", gmem: "g0", offset: 0, size: 4 * MiB, to: "private" },
      { op: "gmem_convert", gmem: "g0", offset: 7 * PAGE, size: PAGE, to: "shared" },
      read(0),
      read(2 * MiB),
    ]);
    expect(levelAt(s, 0)).toBe(0);
    expect(levelAt(s, 512)).toBe(1);
  });

  it("attributes: a region with one shared page maps its private pages at 4 KiB, a wholly private one at 2 MiB", async () => {
    const s = await run(ATTRIBUTES, [...gmem(), slot(), attributes(0, 7 * PAGE, ["PRIVATE"]), attributes(8 * PAGE, 4 * MiB - 8 * PAGE, ["PRIVATE"]), read(0), read(2 * MiB)]);
    expect(levelAt(s, 0)).toBe(0);
    expect(levelAt(s, 512)).toBe(1);
  });

  it("attributes: a private region reaching past the slot's start or end maps 4 KiB at that edge", async () => {
    const everything = attributes(0, 8 * MiB, ["PRIVATE"]);
    const late = await run(ATTRIBUTES, [...gmem(), slot({ guest_phys_addr: PAGE, guest_memfd_offset: PAGE }), everything, read(PAGE), read(2 * MiB)]);
    expect(levelAt(late, 1)).toBe(0);
    expect(levelAt(late, 512)).toBe(1);
    const short = await run(ATTRIBUTES, [...gmem(), slot({ memory_size: 2 * MiB - PAGE }), everything, read(0)]);
    expect(levelAt(short, 0)).toBe(0);
  });

  it("a shared fault through guest_memfd (INIT_SHARED, never converted) maps 4 KiB", async () => {
    const s = await run(V7, [
      { op: "create_vm", vm: "v0", type: 1 },
      { op: "create_gmem", vm: "v0", gmem: "g0", size: 8 * MiB, flags: ["MMAP", "INIT_SHARED"] },
      slot(),
      read(0),
    ]);
    expect(s.kvm.vms[0]!.stage2[0]![0]?.value).toEqual({ level: 0, writable: true, private: false, page: { in: "gmem", inode: 0, delta: 0 } });
  });
});
