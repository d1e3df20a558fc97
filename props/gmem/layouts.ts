// guest_memfd layouts: the files, their host mappings and the memslots they back, for each design.
import type { GmemFlagName, Op } from "../../schema/ops.js";
import type { Layout, LayoutSlot } from "../layouts.js";

const MiB = 1024 * 1024;

/** A guest_memfd of the layout, and the map (if any) that shows all of it to the host. */
export interface GmemFile {
  readonly name: string;
  readonly size: number;
  readonly map?: string;
}

export interface GmemLayout extends Layout {
  readonly gmems: readonly GmemFile[];
  /** The anonymous map behind the shared side of guest_memfd slots without MMAP. */
  readonly anonMap: string;
}

export function gmemLayout(
  name: string,
  description: string,
  vmType: number,
  gmems: readonly (GmemFile & { readonly flags: readonly GmemFlagName[] })[],
  slots: readonly LayoutSlot[],
): GmemLayout {
  const prelude: Op[] = [
    { op: "mmap", map: "m0", file: "anon", offset: 0, length: 8 * MiB },
    ...gmems.map((g): Op => ({ op: "create_gmem", vm: "v0", gmem: g.name, size: g.size, flags: [...g.flags] })),
    ...gmems.flatMap((g): Op[] => (g.map === undefined ? [] : [{ op: "gmem_mmap", gmem: g.name, map: g.map, offset: 0, length: g.size }])),
  ];
  const maps = [{ map: "m0", bytes: 8 * MiB }, ...gmems.flatMap((g) => (g.map === undefined ? [] : [{ map: g.map, bytes: g.size }]))];
  return { name, description, vmType, prelude, maps, slots, altGpas: [32 * MiB], gmems: gmems.map(({ name: n, size, map }) => (map === undefined ? { name: n, size } : { name: n, size, map })), anonMap: "m0" };
}

const gmemSlot = (slot: number, gpa: number, size: number, gmem: string, gmemOffset: number, hva?: number): LayoutSlot => ({
  slot,
  gpa,
  size,
  userspace: hva === undefined ? null : "m0",
  userspaceOffset: hva ?? 0,
  flags: ["GUEST_MEMFD"],
  gmem,
  gmemOffset,
});

/**
 * In-place conversion on (v8, or v7 with vm_memory_attributes off): a shared-at-start file behind two GMEM_ONLY slots
 * (its last 2 MiB bound to none), a private-at-start one behind a third, and one without MMAP whose shared side is
 * anonymous memory.
 */
export const GMEM_V7 = gmemLayout(
  "gmem-v7",
  "software-protected VM; g0 MMAP|INIT_SHARED (slots 0, 1 and an unbound tail), g1 MMAP (slot 2), g2 without MMAP (slot 3, shared via m0)",
  1,
  [
    { name: "g0", size: 8 * MiB, map: "m5", flags: ["MMAP", "INIT_SHARED"] },
    { name: "g1", size: 4 * MiB, map: "m6", flags: ["MMAP"] },
    { name: "g2", size: 4 * MiB, flags: [] },
  ],
  [gmemSlot(0, 0, 4 * MiB, "g0", 0), gmemSlot(1, 4 * MiB, 2 * MiB, "g0", 4 * MiB), gmemSlot(2, 8 * MiB, 4 * MiB, "g1", 0), gmemSlot(3, 16 * MiB, 4 * MiB, "g2", 0, 0)],
);

/** GMEM_V7 for 1 GiB folios: a file must be a whole number of folios, so g0 alone (1 GiB) behind slots 0 and 1. */
export const GMEM_V7_1G = gmemLayout(
  "gmem-v7-1g",
  "software-protected VM; g0 MMAP|INIT_SHARED of 1 GiB (slots 0, 1 and an unbound rest)",
  1,
  [{ name: "g0", size: 1024 * MiB, map: "m5", flags: ["MMAP", "INIT_SHARED"] }],
  [gmemSlot(0, 0, 4 * MiB, "g0", 0), gmemSlot(1, 4 * MiB, 2 * MiB, "g0", 4 * MiB)],
);

/** The 2024 RFC on the default kernel (per-VM attributes): slots bound at start are faultable (RFC patch 28). */
export const GMEM_RFC = gmemLayout(
  "gmem-rfc-2024",
  "software-protected VM, per-VM attributes; g0 MMAP behind slots 0 and 1 (unbound tail), g1 MMAP behind slot 2",
  1,
  [
    { name: "g0", size: 8 * MiB, map: "m5", flags: ["MMAP"] },
    { name: "g1", size: 4 * MiB, map: "m6", flags: ["MMAP"] },
  ],
  [gmemSlot(0, 0, 4 * MiB, "g0", 0), gmemSlot(1, 4 * MiB, 2 * MiB, "g0", 4 * MiB), gmemSlot(2, 8 * MiB, 4 * MiB, "g1", 0)],
);

/** The running kernel: a default VM with one shared guest_memfd, mapped by the host and behind one slot. */
export const GMEM_CURRENT = gmemLayout(
  "gmem-current",
  "default VM; g0 MMAP|INIT_SHARED behind slot 0 and mapped at m5, g1 MMAP only (every host access SIGBUSes)",
  0,
  [
    { name: "g0", size: 4 * MiB, map: "m5", flags: ["MMAP", "INIT_SHARED"] },
    { name: "g1", size: 2 * MiB, map: "m6", flags: ["MMAP"] },
  ],
  [gmemSlot(0, 0, 4 * MiB, "g0", 0), gmemSlot(1, 4 * MiB, 2 * MiB, "g1", 0)],
);
