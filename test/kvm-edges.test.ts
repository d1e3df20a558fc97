// KVM and util edges that no other example reached, each written for a mutant that survived the kvm/util Stryker run
// (docs/MUTATION.md): huge-mapping levels (1 GiB host pages, a region starting private, guest_memfd slots on x86 and
// arm64, no recovery of private mappings), the exact bounds of write-protect and notifier zaps in the sparse stage-2
// table, balanced invalidate begin/end when nothing overlaps, memslot gpa and overlap edges, a bitmap of a slot
// without USERFAULT, the range map's and bitmap's walks, and nested invalidations (three actors). Model and impl run
// side by side (the checker fails on any disagreement or broken invariant); expected values from kernel semantics.
import { describe, expect, it } from "vitest";
import { Bitmap } from "../impl/util/bitmap.js";
import type { State } from "../model/index.js";
import { SETUP, type RaceActor } from "../props/concurrent/harness.js";
import { ANON, setupOf } from "../props/layouts.js";
import { PRESETS, type Config } from "../schema/config.js";
import type { Op, OpOf } from "../schema/ops.js";
import { levelAt, runBoth } from "./helpers/run.js";
import { firstFailure } from "./helpers/interleavings.js";
import { memslot } from "./helpers/ops.js";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const PAGE = 4096;
const X86 = PRESETS.default;
const run = async (ops: readonly Op[]): Promise<State> => (await runBoth(X86, ops)).state;

const slot = memslot;
const read = (gpa: number): Op => ({ op: "vcpu_access", vm: "v0", vcpu: 0, gpa, kind: "read" });
const write = (gpa: number, byte: number): Op => ({ op: "vcpu_access", vm: "v0", vcpu: 0, gpa, kind: "write", byte });
const sptes = (s: State) => s.kvm.vms[0]!.stage2[0];

/** Every interleaving of the actors, depth first, up to the first failure (test/helpers/interleavings.ts). */
const everyInterleaving = (config: Config, actors: readonly RaceActor[]) => firstFailure(config, actors, 5000);

describe("stage-2 edges", () => {
  // host_pfn_mapping_level: a PUD-mapped (1 GiB hugetlb) host page allows PG_LEVEL_1G when the slot covers the
  // aligned 1 GiB region and gfn and hva are congruent (kvm_mmu_max_mapping_level).
  it("a slot over 1 GiB host pages maps 1 GiB", async () => {
    const s = await run([
      { op: "create_vm", vm: "v0" },
      { op: "memfd", file: "f0", size: GiB, hugetlb: "1G" },
      { op: "mmap", map: "m0", file: "f0", offset: 0, length: GiB, shared: true },
      slot({ memory_size: GiB }),
      read(5 * PAGE),
    ]);
    expect(levelAt(s, 5)).toBe(2);
  });

  // kvm_mmu_slot_apply_flags write-protects the slot's own gfn range (kvm_mmu_slot_remove_write_access): a
  // mapping that ends exactly where the slot begins belongs to the slot before it and stays writable.
  it("dirty logging on a slot leaves the mapping just below it writable", async () => {
    const s = await run([
      { op: "create_vm", vm: "v0" },
      { op: "mmap", map: "m0", file: "anon", offset: 0, length: 4 * MiB },
      slot(),
      slot({ slot: 1, guest_phys_addr: 2 * MiB, userspace_offset: 2 * MiB }),
      write(2 * MiB - PAGE, 1),
      write(2 * MiB, 2),
      slot({ slot: 1, guest_phys_addr: 2 * MiB, userspace_offset: 2 * MiB, flags: ["LOG_DIRTY_PAGES"] }),
    ]);
    expect(sptes(s)).toEqual([
      { start: 511, end: 512, value: { level: 0, writable: true, private: false, page: { in: "anon", map: "m0", delta: 0 } } },
      { start: 512, end: 513, value: { level: 0, writable: false, private: false, page: { in: "anon", map: "m0", delta: 0 } } },
    ]);
  });

  // The same write-protect reaches a 2 MiB mapping of a slot that does not start at gpa 0: a write under
  // dirty logging faults and maps one writable 4 KiB page in its place.
  it("dirty logging write-protects a 2 MiB mapping of a slot at 2 MiB", async () => {
    const at2M = slot({ guest_phys_addr: 2 * MiB, userspace: "m1" });
    const s = await run([
      { op: "create_vm", vm: "v0" },
      { op: "memfd", file: "f1", size: 2 * MiB, hugetlb: "2M" },
      { op: "mmap", map: "m1", file: "f1", offset: 0, length: 2 * MiB, shared: true },
      at2M,
      read(2 * MiB),
      { ...at2M, flags: ["LOG_DIRTY_PAGES"] },
      write(2 * MiB + 5 * PAGE, 1),
    ]);
    // gfn 517 is the file's page 5: the slot's pages sit 512 below the gfns.
    expect(sptes(s)).toEqual([{ start: 517, end: 518, value: { level: 0, writable: true, private: false, page: { in: "file", file: 0, delta: -512 } } }]);
  });

  // hugepage_has_attrs: a region whose first page is private and the rest shared is mixed, so a shared fault in
  // it maps 4 KiB even over a 2 MiB host page.
  it("a private page at the start of a region: a shared fault later in it maps 4 KiB", async () => {
    const s = await run([
      { op: "create_vm", vm: "v0", type: 1 },
      { op: "memfd", file: "f1", size: 2 * MiB, hugetlb: "2M" },
      { op: "mmap", map: "m1", file: "f1", offset: 0, length: 2 * MiB, shared: true },
      slot({ userspace: "m1" }),
      { op: "set_memory_attributes", vm: "v0", address: 0, size: PAGE, attributes: ["PRIVATE"] },
      read(5 * PAGE),
    ]);
    expect(levelAt(s, 5)).toBe(0);
  });

  // kvm_mmu_recover_huge_pages collapses shared mappings only: a private 4 KiB mapping from guest_memfd (4 KiB
  // folios) stays 4 KiB when USERFAULT goes off, even over a wholly private region backed by a 2 MiB host page.
  it("turning USERFAULT off leaves a private 4 KiB mapping as it is", async () => {
    const gslot = (flags: OpOf<"set_memory_region">["flags"]) => slot({ userspace: "m1", flags: ["GUEST_MEMFD", ...flags], guest_memfd: "g0", guest_memfd_offset: 0 });
    const s = await run([
      { op: "create_vm", vm: "v0", type: 1 },
      { op: "memfd", file: "f1", size: 2 * MiB, hugetlb: "2M" },
      { op: "mmap", map: "m1", file: "f1", offset: 0, length: 2 * MiB, shared: true },
      { op: "access", map: "m1", offset: 0, kind: "write", byte: 1 },
      { op: "create_gmem", vm: "v0", gmem: "g0", size: 2 * MiB, flags: [] },
      gslot(["USERFAULT"]),
      { op: "set_memory_attributes", vm: "v0", address: 0, size: 2 * MiB, attributes: ["PRIVATE"] },
      read(0),
      gslot([]),
    ]);
    expect(sptes(s)).toEqual([{ start: 0, end: 1, value: { level: 0, writable: true, private: true, page: { in: "gmem", inode: 0, delta: 0 } } }]);
  });

  // A guest_memfd slot whose userspace half is a touched 2 MiB hugetlb page, 4 KiB guest_memfd folios.
  const gmemOverHuge = (type: number): Op[] => [
    { op: "create_vm", vm: "v0", type },
    { op: "memfd", file: "f1", size: 2 * MiB, hugetlb: "2M" },
    { op: "mmap", map: "m1", file: "f1", offset: 0, length: 2 * MiB, shared: true },
    { op: "access", map: "m1", offset: 0, kind: "write", byte: 1 },
    { op: "create_gmem", vm: "v0", gmem: "g0", size: 2 * MiB, flags: [] },
    slot({ userspace: "m1", flags: ["GUEST_MEMFD"], guest_memfd: "g0", guest_memfd_offset: 0 }),
    read(5 * PAGE),
  ];

  // x86: a shared fault in a guest_memfd slot (no MMAP) goes through the hva, so the host's 2 MiB page allows 2 MiB.
  it("x86: a shared fault in a guest_memfd slot over a 2 MiB host page maps 2 MiB", async () => {
    expect(levelAt(await run(gmemOverHuge(1)), 5)).toBe(1);
  });

  // arm64: every fault in a guest_memfd slot is gmem_abort, which maps PAGE_SIZE whatever the hva maps.
  it("arm64: a fault in a guest_memfd slot over a 2 MiB host page maps 4 KiB", async () => {
    expect(levelAt((await runBoth(PRESETS.arm64, gmemOverHuge(0))).state, 5)).toBe(0);
  });

  // The mmu notifier zaps the shared SPTEs of the host range only: DONTNEED of a page the guest never touched
  // leaves the guest's other mappings in place (kvm_unmap_gfn_range over [start, end)).
  it("DONTNEED of a page with no SPTE keeps the SPTEs around it", async () => {
    const s = await run([
      { op: "create_vm", vm: "v0" },
      { op: "mmap", map: "m0", file: "anon", offset: 0, length: 2 * MiB },
      slot(),
      write(0, 1),
      write(2 * PAGE, 2),
      { op: "madvise", map: "m0", offset: PAGE, len: PAGE, advice: "DONTNEED" },
    ]);
    expect(sptes(s)).toEqual([
      { start: 0, end: 1, value: { level: 0, writable: true, private: false, page: { in: "anon", map: "m0", delta: 0 } } },
      { start: 2, end: 3, value: { level: 0, writable: true, private: false, page: { in: "anon", map: "m0", delta: 0 } } },
    ]);
  });

  // The notifier's zap filters on shared SPTEs (KVM_FILTER_SHARED): a private page mapped from guest_memfd stays
  // mapped when the slot's userspace page at the same gfn is dropped.
  it("DONTNEED of the userspace page behind a private gfn keeps its private SPTE", async () => {
    const s = await run([
      { op: "create_vm", vm: "v0", type: 1 },
      { op: "mmap", map: "m0", file: "anon", offset: 0, length: 2 * MiB },
      { op: "create_gmem", vm: "v0", gmem: "g0", size: 2 * MiB, flags: [] },
      slot({ flags: ["GUEST_MEMFD"], guest_memfd: "g0", guest_memfd_offset: 0 }),
      { op: "set_memory_attributes", vm: "v0", address: 0, size: PAGE, attributes: ["PRIVATE"] },
      read(0),
      read(PAGE),
      { op: "madvise", map: "m0", offset: 0, len: 2 * PAGE, advice: "DONTNEED" },
    ]);
    expect(sptes(s)).toEqual([{ start: 0, end: 1, value: { level: 0, writable: true, private: true, page: { in: "gmem", inode: 0, delta: 0 } } }]);
  });

  // The notifier walks every VM: DONTNEED of one VM's memory zaps that VM's SPTE and leaves another VM's alone.
  it("DONTNEED of one VM's memory zaps its SPTE only", async () => {
    const s = await run([
      { op: "create_vm", vm: "v0" },
      { op: "create_vm", vm: "v1" },
      { op: "mmap", map: "m0", file: "anon", offset: 0, length: 2 * MiB },
      { op: "mmap", map: "m1", file: "anon", offset: 0, length: 2 * MiB },
      slot(),
      slot({ vm: "v1", userspace: "m1" }),
      write(0, 1),
      { op: "vcpu_access", vm: "v1", vcpu: 0, gpa: 0, kind: "write", byte: 2 },
      { op: "madvise", map: "m0", offset: 0, len: PAGE, advice: "DONTNEED" },
    ]);
    expect(s.kvm.vms.map((vm) => vm.stage2[0])).toEqual([[], [{ start: 0, end: 1, value: { level: 0, writable: true, private: false, page: { in: "anon", map: "m1", delta: 0 } } }]]);
  });

  // A 2 MiB mapping at gfn 512 * 512 (1 GiB) says nothing about gfn 1: the guest reads its own slot's page.
  it("a 2 MiB mapping at 1 GiB does not serve a read of gfn 1", async () => {
    const { outcomes } = await runBoth(X86, [
      { op: "create_vm", vm: "v0" },
      { op: "mmap", map: "m0", file: "anon", offset: 0, length: 2 * MiB },
      { op: "memfd", file: "f1", size: 2 * MiB, hugetlb: "2M" },
      { op: "mmap", map: "m1", file: "f1", offset: 0, length: 2 * MiB, shared: true },
      slot(),
      slot({ slot: 1, guest_phys_addr: GiB, userspace: "m1" }),
      write(GiB + PAGE, 7),
      read(PAGE),
      read(GiB + PAGE),
    ]);
    expect(outcomes.slice(-2)).toEqual([
      { result: "ok", value: 0 },
      { result: "ok", value: 7 },
    ]);
  });
});

describe("attribute edges", () => {
  // kvm_vm_set_mem_attributes runs kvm_mmu_invalidate_begin and _end through kvm_handle_gfn_range's on_lock, only
  // when some memslot overlaps the range: attributes for a gpa range no slot covers leave no invalidation open,
  // and later faults and notifier zaps go on as usual.
  it("PRIVATE on a range outside every slot leaves no invalidation in progress", async () => {
    const { outcomes } = await runBoth(X86, [
      { op: "create_vm", vm: "v0", type: 1 },
      { op: "mmap", map: "m0", file: "anon", offset: 0, length: 2 * MiB },
      slot(),
      { op: "set_memory_attributes", vm: "v0", address: 4 * MiB, size: PAGE, attributes: ["PRIVATE"] },
      write(0, 3),
      { op: "madvise", map: "m0", offset: 0, len: PAGE, advice: "DONTNEED" },
      read(0),
    ]);
    expect(outcomes.slice(-3)).toEqual([{ result: "ok" }, { result: "ok" }, { result: "ok", value: 0 }]);
  });
});

describe("memslot overlap edges", () => {
  const twoSlots: Op[] = [
    { op: "create_vm", vm: "v0" },
    { op: "mmap", map: "m0", file: "anon", offset: 0, length: 4 * MiB },
    slot(),
    slot({ slot: 1, guest_phys_addr: 2 * MiB, userspace_offset: 2 * MiB }),
  ];

  // KVM_MR_DELETE (memory_size 0) never reaches kvm_check_memslot_overlap: the gpa it names is only checked for
  // alignment, so a delete whose gpa lies inside another slot succeeds.
  it("DELETE naming a gpa inside another slot deletes", async () => {
    const { outcomes, state } = await runBoth(X86, [...twoSlots, slot({ slot: 1, guest_phys_addr: MiB, memory_size: 0 })]);
    expect(outcomes.at(-1)).toEqual({ result: "ok" });
    expect(state.kvm.vms[0]!.slots.map((s) => s.slot)).toEqual([0]);
  });
});

describe("memslot gpa edges", () => {
  // kvm_set_memory_region refuses a gpa range that wraps: guest_phys_addr + memory_size < guest_phys_addr in u64
  // arithmetic. A slot ending exactly at 2^64 wraps to 0. arm64 has no max-gfn check after it to refuse it too.
  it("arm64: a slot ending exactly at 2^64 is EINVAL", async () => {
    const { outcomes } = await runBoth(PRESETS.arm64, [
      { op: "create_vm", vm: "v0" },
      { op: "mmap", map: "m0", file: "anon", offset: 0, length: 2 * MiB },
      slot({ guest_phys_addr: 2 ** 64 - 2 * PAGE, memory_size: 2 * PAGE }),
    ]);
    expect(outcomes.at(-1)).toEqual({ errno: "EINVAL" });
  });
});

describe("KVM Userfault edges", () => {
  // kvm_do_userfault reads the bitmap only for a slot with KVM_MEM_USERFAULT: bits the VMM set in the buffer of a
  // slot without the flag stop nothing (and the userfault-exits invariant must not claim they do).
  it("a set bit in the bitmap of a slot without USERFAULT lets the access complete", async () => {
    const { outcomes } = await runBoth(X86, [
      { op: "create_vm", vm: "v0" },
      { op: "mmap", map: "m0", file: "anon", offset: 0, length: 2 * MiB },
      slot(),
      { op: "userfault_set", vm: "v0", slot: 0, gfn_offset: 3, npages: 1 },
      read(3 * PAGE),
    ]);
    expect(outcomes.at(-1)).toEqual({ result: "ok", value: 0 });
  });
});

describe("range map edges", () => {
  // userfaultfd_remove queues EVENT_REMOVE only for VMAs whose userfaultfd context asked for it: DONTNEED of the
  // page just below a registered range (its own VMA, no context) is an ordinary DONTNEED (the model refuses
  // only walks that would raise the event, which it does not model).
  it("DONTNEED just below a range registered with EVENT_REMOVE succeeds", async () => {
    const { outcomes } = await runBoth(X86, [
      { op: "mmap", map: "m0", file: "anon", offset: 0, length: 4 * PAGE },
      { op: "uffd_open", uffd: "u0", features: ["EVENT_REMOVE"] },
      { op: "uffd_register", uffd: "u0", map: "m0", offset: PAGE, len: PAGE, mode: ["MISSING"] },
      { op: "madvise", map: "m0", offset: 0, len: PAGE, advice: "DONTNEED" },
    ]);
    expect(outcomes.at(-1)).toEqual({ result: "ok" });
  });
});

describe("bitmap runs", () => {
  // runs() skips eight full words at once inside a run; the one clear bit in word 10 must still end the run.
  it("a clear bit five words into an eight-word stretch of set bits splits the run", () => {
    const b = new Bitmap(13 * 32);
    b.assign(0, 13 * 32, true);
    b.assign(10 * 32 + 5, 10 * 32 + 6, false);
    expect(b.runs()).toEqual([
      { start: 0, end: 325 },
      { start: 326, end: 416 },
    ]);
  });
});

describe("attribute edges under every interleaving", () => {

  // An invalidation that overlaps no memslot opens nothing (kvm_vm_set_mem_attributes and the mmu notifier call
  // kvm_mmu_invalidate_begin/_end only when a slot overlaps). After one, two reads race DONTNEED of their page:
  // the notifier's invalidation must still make a fault that raced the zap retry (mmu_invalidate_in_progress is
  // back at 0 before it begins), so the later read sees the dropped page.
  const before: readonly { name: string; ops: Op[] }[] = [
    { name: "PRIVATE on a range outside every slot", ops: [{ op: "set_memory_attributes", vm: "v0", address: 4 * MiB, size: PAGE, attributes: ["PRIVATE"] }] },
    {
      name: "DONTNEED of memory outside every slot",
      ops: [
        { op: "mmap", map: "m2", file: "anon", offset: 0, length: 2 * MiB },
        { op: "access", map: "m2", offset: 0, kind: "write", byte: 1 },
        { op: "madvise", map: "m2", offset: 0, len: PAGE, advice: "DONTNEED" },
      ],
    },
  ];
  for (const b of before) {
    it(`after ${b.name}, reads racing DONTNEED of their page pass in every interleaving`, async () => {
      const setup: Op[] = [
        { op: "create_vm", vm: "v0", type: 1 },
        { op: "mmap", map: "m0", file: "anon", offset: 0, length: 2 * MiB },
        slot(),
        ...b.ops,
        { op: "access", map: "m0", offset: PAGE, kind: "write", byte: 4 },
      ];
      const r = await everyInterleaving(X86, [
        { name: SETUP, steps: setup },
        { name: "vCPU0", steps: [read(PAGE), read(PAGE)] },
        { name: "VMM", steps: [{ op: "madvise", map: "m0", offset: PAGE, len: PAGE, advice: "DONTNEED" }] },
      ]);
      expect(r.failure?.failure).toBeUndefined();
      expect(r.runs).toBeGreaterThan(2);
    });
  }
});

describe("retry waits under every interleaving", () => {
  // A fault that finds its slot INVALID (DELETE in flight) retries once the slot is gone; only an invalidation in
  // progress over its gfn may hold it longer. A finished invalidation of the same page before (DONTNEED) leaves
  // a stale range behind that must not keep the fault waiting.
  it("after DONTNEED of its page, a fault racing DELETE of its slot passes in every interleaving", async () => {
    const setup: Op[] = [
      { op: "create_vm", vm: "v0" },
      { op: "mmap", map: "m0", file: "anon", offset: 0, length: 2 * MiB },
      slot(),
      write(0, 1),
      { op: "madvise", map: "m0", offset: 0, len: PAGE, advice: "DONTNEED" },
    ];
    const r = await everyInterleaving(X86, [
      { name: SETUP, steps: setup },
      { name: "vCPU0", steps: [read(0)] },
      { name: "VMM", steps: [slot({ memory_size: 0 })] },
    ]);
    expect(r.failure?.failure).toBeUndefined();
    expect(r.runs).toBeGreaterThan(2);
  });
});

describe("memslot updates against the mmu notifier, every interleaving", () => {
  // kvm_swap_active_memslots waits until no mmu-notifier invalidation is in flight (mn_active_invalidate_count),
  // so invalidate_range_end sees the memslots invalidate_range_start saw and every begin gets its end: a slot
  // deleted and created again while DONTNEED of its memory runs still maps on the next fault.
  it("DELETE and CREATE of a slot racing DONTNEED of its memory, then a read, pass in every interleaving", async () => {
    const r = await everyInterleaving(X86, [
      { name: SETUP, steps: [{ op: "create_vm", vm: "v0" }, { op: "mmap", map: "m0", file: "anon", offset: 0, length: 2 * MiB }, slot(), write(0, 1)] },
      { name: "MM", steps: [{ op: "madvise", map: "m0", offset: 0, len: PAGE, advice: "DONTNEED" }] },
      { name: "VMM", steps: [slot({ memory_size: 0 }), slot(), read(0)] },
    ]);
    expect(r.failure?.failure).toBeUndefined();
    expect(r.runs).toBeGreaterThan(2);
  });
});

describe("nested invalidations, every interleaving", () => {
  // kvm_mmu_invalidate_begin resets the range only when no other invalidation is in flight: a DONTNEED of another
  // page inside KVM_SET_MEMORY_ATTRIBUTES must not make KVM forget the attribute change's range, or a shared fault
  // on that page, which read the sequence after the DONTNEED ended, installs a shared mapping of a private gfn.
  it("a shared read racing PRIVATE on its page and DONTNEED of another page passes in every interleaving", async () => {
    const r = await everyInterleaving(X86, [
      { name: SETUP, steps: [...setupOf(ANON, 1), ...[1, 5].map((page): Op => ({ op: "access", map: "m0", offset: page * PAGE, kind: "write", byte: 7 }))] },
      { name: "vCPU0", steps: [{ op: "vcpu_access", vm: "v0", vcpu: 0, gpa: PAGE, kind: "read", private: false }] },
      { name: "VMM", steps: [{ op: "set_memory_attributes", vm: "v0", address: PAGE, size: PAGE, attributes: ["PRIVATE"] }] },
      { name: "MM", steps: [{ op: "madvise", map: "m0", offset: 5 * PAGE, len: PAGE, advice: "DONTNEED" }] },
    ]);
    expect(r.failure?.failure).toBeUndefined();
    expect(r.runs).toBeGreaterThan(1000);
  });
});
