// Slot layouts: the setup every run of a suite starts from, and the values its generators aim at.
import { SIZE_2M } from "../model/consts.js";
import type { MemslotFlagName, Op, OpOf } from "../schema/ops.js";

const MiB = 1024 * 1024;

export interface LayoutSlot {
  readonly slot: number;
  readonly gpa: number;
  readonly size: number;
  readonly userspace: string | null;
  readonly userspaceOffset: number;
  readonly flags: readonly MemslotFlagName[];
  readonly gmem?: string;
  readonly gmemOffset?: number;
}

export interface Layout {
  readonly name: string;
  readonly description: string;
  readonly vmType: number;
  readonly maps: readonly { readonly map: string; readonly bytes: number }[];
  readonly slots: readonly LayoutSlot[];
  /** Where MOVE sends a slot: each is the start of a free gfn range. */
  readonly altGpas: readonly number[];
  /** Files, mappings and guest_memfds created after the VM, before the slots. */
  readonly prelude: readonly Op[];
}

/** The slot's KVM_SET_USER_MEMORY_REGION2 on v0, with some fields changed. */
export function regionOp(s: LayoutSlot, over: Partial<OpOf<"set_memory_region">> = {}): Op {
  return {
    op: "set_memory_region",
    vm: "v0",
    slot: s.slot,
    flags: [...s.flags],
    guest_phys_addr: s.gpa,
    memory_size: s.size,
    userspace: s.userspace,
    userspace_offset: s.userspaceOffset,
    ...(s.gmem === undefined ? {} : { guest_memfd: s.gmem, guest_memfd_offset: s.gmemOffset ?? 0 }),
    ...over,
  };
}

function layout(name: string, description: string, vmType: number, prelude: readonly Op[], maps: Layout["maps"], slots: readonly LayoutSlot[], altGpas: readonly number[]): Layout {
  return { name, description, vmType, maps, slots, altGpas, prelude };
}

/** The steps that build a layout on a VM of the given type (arm64 and the running kernel only have type 0). */
export const setupOf = (l: Layout, vmType: number): Op[] => [{ op: "create_vm", vm: "v0", type: vmType }, ...l.prelude, ...l.slots.map((s) => regionOp(s))];

/** Anonymous memory in 4 KiB pages, a software-protected VM, and an SMM address-space slot. */
export const ANON = layout(
  "anon",
  "anonymous 4 KiB memory, two adjacent slots and one in address space 1, software-protected VM",
  1,
  [{ op: "mmap", map: "m0", file: "anon", offset: 0, length: 16 * MiB }],
  [{ map: "m0", bytes: 16 * MiB }],
  [
    { slot: 0, gpa: 0, size: 4 * MiB, userspace: "m0", userspaceOffset: 0, flags: [] },
    { slot: 1, gpa: 4 * MiB, size: 4 * MiB, userspace: "m0", userspaceOffset: 4 * MiB, flags: [] },
    { slot: 65536, gpa: 0, size: 2 * MiB, userspace: "m0", userspaceOffset: 8 * MiB, flags: [] },
  ],
  [16 * MiB, 64 * MiB],
);

/** hugetlbfs 2 MiB pages: huge stage-2 mappings are possible where slot, hva and attributes allow. */
export const HUGETLB = layout(
  "hugetlb",
  "2 MiB hugetlbfs memory: aligned slots (huge mappings), a misaligned one, a short one",
  1,
  [
    { op: "memfd", file: "f0", size: 32 * MiB, hugetlb: true },
    { op: "mmap", map: "m1", file: "f0", offset: 0, length: 32 * MiB, shared: true },
  ],
  [{ map: "m1", bytes: 32 * MiB }],
  [
    { slot: 0, gpa: 0, size: 8 * MiB, userspace: "m1", userspaceOffset: 0, flags: [] },
    { slot: 1, gpa: 8 * MiB, size: 6 * MiB, userspace: "m1", userspaceOffset: 8 * MiB, flags: [] },
    { slot: 2, gpa: 32 * MiB + 4096, size: 4 * MiB, userspace: "m1", userspaceOffset: 16 * MiB, flags: [] },
  ],
  [64 * MiB, 128 * MiB],
);

/** guest_memfd-backed slots: one private-capable (hva for shared), one GMEM_ONLY (MMAP). */
export const GMEM = layout(
  "gmem",
  "guest_memfd slots: private + shared-through-hva, and a GMEM_ONLY slot",
  1,
  [
    { op: "mmap", map: "m0", file: "anon", offset: 0, length: 8 * MiB },
    { op: "create_gmem", vm: "v0", gmem: "g0", size: 8 * MiB, flags: [] },
    { op: "create_gmem", vm: "v0", gmem: "g1", size: 4 * MiB, flags: ["MMAP"] },
  ],
  [{ map: "m0", bytes: 8 * MiB }],
  [
    { slot: 0, gpa: 0, size: 4 * MiB, userspace: "m0", userspaceOffset: 0, flags: ["GUEST_MEMFD"], gmem: "g0", gmemOffset: 0 },
    { slot: 1, gpa: 4 * MiB, size: 2 * MiB, userspace: "m0", userspaceOffset: 4 * MiB, flags: ["GUEST_MEMFD"], gmem: "g1", gmemOffset: 0 },
    { slot: 2, gpa: 8 * MiB, size: 2 * MiB, userspace: "m0", userspaceOffset: 6 * MiB, flags: [] },
  ],
  [16 * MiB],
);

/** The running kernel's shape: default VM, anonymous memory and a shared guest_memfd (MMAP | INIT_SHARED). */
export const SHARED_GMEM = layout(
  "shared-gmem",
  "default VM with anonymous memory and an MMAP|INIT_SHARED guest_memfd slot",
  0,
  [
    { op: "mmap", map: "m0", file: "anon", offset: 0, length: 8 * MiB },
    { op: "create_gmem", vm: "v0", gmem: "g0", size: 4 * MiB, flags: ["MMAP", "INIT_SHARED"] },
    { op: "gmem_mmap", gmem: "g0", map: "m5", offset: 0, length: 4 * MiB, shared: true },
  ],
  [
    { map: "m0", bytes: 8 * MiB },
    { map: "m5", bytes: 4 * MiB },
  ],
  [
    { slot: 0, gpa: 0, size: 4 * MiB, userspace: "m0", userspaceOffset: 0, flags: [] },
    { slot: 1, gpa: 4 * MiB, size: 4 * MiB, userspace: "m0", userspaceOffset: 4 * MiB, flags: ["GUEST_MEMFD"], gmem: "g0", gmemOffset: 0 },
  ],
  [16 * MiB],
);

export const LAYOUTS: readonly Layout[] = [ANON, HUGETLB, GMEM, SHARED_GMEM];

/** Gpas worth aiming at: slot edges, huge-page boundaries, and places no slot covers. */
export function interestingGpas(l: Layout): number[] {
  const out = new Set<number>();
  for (const s of l.slots) {
    if (s.slot >= 65536) continue;
    for (const g of [s.gpa, s.gpa + 4096, s.gpa + s.size - 4096, s.gpa + s.size, s.gpa + SIZE_2M, s.gpa + SIZE_2M - 4096]) out.add(g);
  }
  for (const a of l.altGpas) out.add(a);
  out.add(2 ** 30);
  return [...out].sort((a, b) => a - b);
}
