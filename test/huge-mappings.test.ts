// When a shared (hva-backed) fault may map 2 MiB at once, each condition of kvm_mmu_max_mapping_level at its edge:
// the aligned region inside the slot, gfn and hva congruent, uniform attributes, a huge host page; and what
// turning dirty logging off recovers (x86, not READONLY slots; never on arm64). Model and impl run side by side.
import { describe, expect, it } from "vitest";
import { PRESETS, type Config } from "../schema/config.js";
import type { State } from "../model/index.js";
import type { Op, OpOf } from "../schema/ops.js";
import { levelAt, runBoth } from "./helpers/run.js";
import { memslot } from "./helpers/ops.js";

const MiB = 1024 * 1024;
const PAGE = 4096;
const run = async (config: Config, ops: readonly Op[]): Promise<State> => (await runBoth(config, ops)).state;
const X86 = PRESETS.default;


const read = (gpa: number): Op => ({ op: "vcpu_access", vm: "v0", vcpu: 0, gpa, kind: "read" });
const hugetlb = (type = 0): Op[] => [
  { op: "create_vm", vm: "v0", type },
  { op: "memfd", file: "f0", size: 16 * MiB, hugetlb: true },
  { op: "mmap", map: "m1", file: "f0", offset: 0, length: 16 * MiB, shared: true },
];
const slot = (over: Partial<OpOf<"set_memory_region">> = {}): OpOf<"set_memory_region"> => memslot({ memory_size: 8 * MiB, userspace: "m1", ...over });

describe("huge shared mappings at each edge", () => {
  it("an aligned slot over 2 MiB host pages maps 2 MiB", async () => {
    expect(levelAt(await run(X86, [...hugetlb(), slot(), read(5 * PAGE)]), 5)).toBe(1);
  });

  it("a huge mapping names the rule that allowed it; a 4 KiB one does not", async () => {
    const fired = async (ops: readonly Op[]): Promise<readonly string[]> => (await runBoth(X86, ops)).fired.at(-1)!;
    expect(await fired([...hugetlb(), slot(), read(0)])).toContain("mmu.huge-region");
    expect(await fired([...hugetlb(), slot({ guest_phys_addr: PAGE }), read(PAGE)])).not.toContain("mmu.huge-region");
  });

  it("gfn and hva one page out of step: 4 KiB", async () => {
    expect(levelAt(await run(X86, [...hugetlb(), slot({ guest_phys_addr: PAGE }), read(5 * PAGE)]), 5)).toBe(0);
  });

  it("a slot one page short of the region: 4 KiB", async () => {
    expect(levelAt(await run(X86, [...hugetlb(), slot({ memory_size: 2 * MiB - PAGE }), read(0)]), 0)).toBe(0);
  });

  it("a slot starting one page into a region: 4 KiB there, 2 MiB in the next region", async () => {
    const s = await run(X86, [...hugetlb(), slot({ guest_phys_addr: PAGE, userspace_offset: PAGE, memory_size: 4 * MiB }), read(PAGE), read(2 * MiB)]);
    expect(levelAt(s, 1)).toBe(0);
    expect(levelAt(s, 512)).toBe(1);
  });

  it("a private page in the region: shared faults there map 4 KiB, the next region 2 MiB", async () => {
    const s = await run(X86, [
      ...hugetlb(1),
      slot(),
      { op: "set_memory_attributes", vm: "v0", address: 7 * PAGE, size: PAGE, attributes: ["PRIVATE"] },
      read(0),
      read(2 * MiB),
    ]);
    expect(levelAt(s, 0)).toBe(0);
    expect(levelAt(s, 512)).toBe(1);
  });

  it("small host pages: 4 KiB", async () => {
    const s = await run(X86, [{ op: "create_vm", vm: "v0" }, { op: "mmap", map: "m1", file: "anon", offset: 0, length: 8 * MiB }, slot(), read(0)]);
    expect(levelAt(s, 0)).toBe(0);
  });
});

describe("dirty logging off: huge mappings come back where the kernel recovers them", () => {
  const logged = (flags: OpOf<"set_memory_region">["flags"]): Op[] => [...hugetlb(), slot({ flags: [...flags, "LOG_DIRTY_PAGES"] }), read(0)];

  it("x86 recovers 2 MiB when dirty logging is turned off", async () => {
    const s = await run(X86, [...logged([]), slot()]);
    expect(levelAt(s, 0)).toBe(1);
  });

  it("a write under dirty logging inside a write-protected 2 MiB mapping replaces it with one 4 KiB mapping", async () => {
    const s = await run(X86, [...hugetlb(), slot(), read(0), slot({ flags: ["LOG_DIRTY_PAGES"] }), { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 5 * PAGE, kind: "write", byte: 1 }]);
    expect(s.kvm.vms[0]!.stage2[0]).toEqual([{ start: 5, end: 6, value: { level: 0, writable: true, private: false, page: { in: "file", file: 0, delta: 0 } } }]);
  });

  it("dirty logging maps 4 KiB while it is on", async () => {
    expect(levelAt(await run(X86, logged([])), 0)).toBe(0);
  });

  it("x86 leaves a READONLY slot's 4 KiB mappings alone", async () => {
    const s = await run(X86, [...logged(["READONLY"]), slot({ flags: ["READONLY"] })]);
    expect(levelAt(s, 0)).toBe(0);
  });

  it("arm64 never recovers", async () => {
    const s = await run(PRESETS.arm64, [...logged([]), slot()]);
    expect(levelAt(s, 0)).toBe(0);
  });
});
