// What guest memory is during post-copy, and what that makes the VMM do: the backings of issue 19. Each says how big
// one fetch is, how the VMM's mapping is registered, how a fetched page's contents get in (UFFDIO_COPY on anonymous
// memory; a write through a second mapping, then UFFDIO_CONTINUE, on shmem, hugetlbfs and guest_memfd), and how the
// VM, the memslot and the uffd are set up, with or without KVM Userfault on the memslot.
import { PAGE_SIZE } from "../../model/consts.js";
import { bugsOf } from "../../impl/bugs.js";
import type { Config } from "../../schema/config.js";
import type { Op } from "../../schema/ops.js";
import { setupOps, type BackingName, type PostcopyScenario, type UffdHandler } from "./scenario.js";

const HUGE = 2 * 1024 * 1024;

export interface Backing {
  readonly name: BackingName;
  /** Bytes in one VMM page: one fetch, one uffd fill. */
  readonly unit: number;
  /** MISSING faults filled by UFFDIO_COPY, or contents written through `alias` and then UFFDIO_CONTINUE. */
  readonly fill: "copy" | "continue";
  /** The mapping the VMM writes and reads guest memory through without faulting (none on anonymous memory). */
  readonly alias?: string;
  /** MADV_DONTNEED on anonymous memory, MADV_REMOVE on a file (both raise UFFD_EVENT_REMOVE); none where no balloon runs. */
  readonly balloon?: "DONTNEED" | "REMOVE";
  /** The guest_memfd's size when it is larger than the pages the scenario maps (a file of 1 GiB folios is 1 GiB). */
  readonly fileSize?: number;
  config(c: Config): Config;
}

const BACKINGS: Readonly<Record<BackingName, Backing>> = {
  gmem: { name: "gmem", unit: PAGE_SIZE, fill: "continue", alias: "m0", config: (c) => c },
  "gmem-2m": { name: "gmem-2m", unit: HUGE, fill: "continue", alias: "m0", config: (c) => ({ ...c, gmemFolio: "2M" }) },
  // 1 GiB folios, fetched 4 KiB at a time: KVM Userfault tracks 4 KiB gfns, and a 1 GiB fetch is no VMM's unit.
  "gmem-1g": { name: "gmem-1g", unit: PAGE_SIZE, fill: "continue", alias: "m0", fileSize: 1024 * 1024 * 1024, config: (c) => ({ ...c, gmemFolio: "1G" }) },
  anon: { name: "anon", unit: PAGE_SIZE, fill: "copy", balloon: "DONTNEED", config: (c) => c },
  shmem: { name: "shmem", unit: PAGE_SIZE, fill: "continue", alias: "m1", balloon: "REMOVE", config: (c) => c },
  "hugetlb-2m": { name: "hugetlb-2m", unit: HUGE, fill: "continue", alias: "m1", config: (c) => c },
  // Snapshot restore: the local snapshot file holds some pages (the pre-copied ones, all current), the rest come later.
  "snapshot-private": { name: "snapshot-private", unit: PAGE_SIZE, fill: "copy", config: (c) => c },
  "snapshot-shared": { name: "snapshot-shared", unit: PAGE_SIZE, fill: "continue", alias: "m1", config: (c) => c },
};

const isSnapshot = (b: Backing): boolean => b.name.startsWith("snapshot");

export const backingOf = (sc: PostcopyScenario): Backing => BACKINGS[sc.backing ?? "gmem"];

/** KVM Userfault on the memslot (the default). */
export const usesUserfault = (sc: PostcopyScenario): boolean => sc.userfault !== false;

/** The default shape is the one props/postcopy/scenario.ts sets up (and the race suite shares). */
const isDefault = (sc: PostcopyScenario): boolean => backingOf(sc).name === "gmem" && usesUserfault(sc) && sc.handler === undefined;

/**
 * The registration the uffd handler asks for on a MINOR + CONTINUE backing, by the design it was written for: vm_uffd_ops
 * raises MISSING on a hole and MINOR on a page in the file; guestmem v6 and v2/v3 make every first touch MINOR; v1's
 * hybrid raises MISSING only (a page in the file is mapped as it is).
 */
const HANDLER_MODES: Readonly<Record<UffdHandler, ("MISSING" | "MINOR")[]>> = {
  "vm-uffd-ops": ["MISSING", "MINOR"],
  "minor-only": ["MINOR"],
  "missing-only": ["MISSING"],
};

/** A handler written for v1 places no stale pre-copied page: v1 would map it without asking, so it is fetched instead. */
const placesStale = (sc: PostcopyScenario): boolean => sc.handler !== "missing-only";

/** Whether page p was pre-copied with the source's own contents: nothing to copy, only the mapping to finish. */
export const isCurrent = (sc: PostcopyScenario, p: number): boolean => sc.precopied[p] === sc.source[p];

/**
 * The VM, guest memory, the second mapping, the memslot (userfault bits set on every page not already current), the
 * uffd and its registration, then the pre-copied pages. On anonymous memory the pre-copy placed pages before the
 * switch-over; the stale ones are discarded (MADV_DONTNEED) so that they fault again, as QEMU's postcopy discard does.
 */
export function setupFor(sc: PostcopyScenario, bugList: readonly string[]): Op[] {
  const bugs = bugsOf(bugList);
  if (isDefault(sc)) return setupOps(sc, bugs);
  const b = backingOf(sc);
  const len = sc.pages * b.unit;
  const kvmUserfault = usesUserfault(sc);
  const gmemSlot = b.name.startsWith("gmem") && kvmUserfault;
  const memory: Op[] =
    b.name === "anon"
      ? [{ op: "mmap", map: "m0", file: "anon", offset: 0, length: len }]
      : b.name.startsWith("gmem")
        ? [
            { op: "create_gmem", vm: "v0", gmem: "g0", size: b.fileSize ?? len, flags: ["MMAP", "INIT_SHARED"] },
            { op: "gmem_mmap", gmem: "g0", map: "m0", offset: 0, length: len },
          ]
        : [
            { op: "memfd", file: "f0", size: len, ...(b.name === "hugetlb-2m" ? { hugetlb: "2M" as const } : {}) },
            // The snapshot file holds its pages before anything maps it: MAP_PRIVATE (MISSING faults on its holes,
            // UFFDIO_COPY places private pages) or MAP_SHARED with the second mapping (MINOR + CONTINUE).
            ...(isSnapshot(b) ? sc.precopied.flatMap((v, p): Op[] => (v === null ? [] : [{ op: "pwrite", file: "f0", offset: p * b.unit, byte: v, len: b.unit }])) : []),
            { op: "mmap", map: "m0", file: "f0", offset: 0, length: len, shared: b.name !== "snapshot-private" },
            ...(b.alias === "m1" ? [{ op: "mmap", map: "m1", file: "f0", offset: 0, length: len, shared: true } as const] : []),
          ];
  const slot: Op = {
    op: "set_memory_region",
    vm: "v0",
    slot: 0,
    flags: [...(gmemSlot ? (["GUEST_MEMFD"] as const) : []), ...(kvmUserfault ? (["USERFAULT"] as const) : [])],
    guest_phys_addr: 0,
    memory_size: len,
    userspace: "m0",
    ...(gmemSlot ? { guest_memfd: "g0", guest_memfd_offset: 0 } : {}),
  };
  const gfns = b.unit / PAGE_SIZE;
  const placed = (v: number | null, p: number): v is number => v !== null && (placesStale(sc) || isCurrent(sc, p));
  const precopied = isSnapshot(b) ? [] : sc.precopied.flatMap((v, p): Op[] => (placed(v, p) ? [precopy(b, p, v)] : []));
  const current = sc.precopied.flatMap((_, p): Op[] => (kvmUserfault && isCurrent(sc, p) ? [{ op: "userfault_clear", vm: "v0", slot: 0, gfn_offset: p * gfns, npages: gfns }] : []));
  const discard = sc.precopied.flatMap((v, p): Op[] =>
    b.name === "anon" && v !== null && !isCurrent(sc, p) && !bugs.has("postcopy-discard-missed") ? [{ op: "madvise", map: "m0", offset: p * b.unit, len: b.unit, advice: "DONTNEED" }] : [],
  );
  const register: Op = { op: "uffd_register", uffd: "u0", map: "m0", offset: 0, len, mode: b.fill === "copy" ? ["MISSING"] : HANDLER_MODES[sc.handler ?? "vm-uffd-ops"] };
  return [
    { op: "create_vm", vm: "v0" },
    ...memory,
    slot,
    ...(kvmUserfault ? [{ op: "userfault_set", vm: "v0", slot: 0, gfn_offset: 0, npages: sc.pages * gfns } as const] : []),
    ...current,
    { op: "uffd_open", uffd: "u0", features: [] },
    register,
    // Anonymous memory has no second mapping: the pre-copy's pages go in by UFFDIO_COPY, before any vCPU runs.
    ...precopied,
    ...discard,
  ];
}

function precopy(b: Backing, p: number, v: number): Op {
  if (b.fill === "copy") return { op: "uffdio_copy", uffd: "u0", map: "m0", offset: p * b.unit, len: b.unit, byte: v, mode: ["DONTWAKE"] };
  return { op: "write_alias", map: b.alias!, offset: p * b.unit, byte: v, len: b.unit };
}

/** The offsets every read checks in a page: its first bytes, the end of its first 4 KiB, and on a huge page its last byte. */
export const offsetsOf = (b: Backing): readonly number[] => (b.unit === PAGE_SIZE ? [0, 8, PAGE_SIZE - 1] : [0, 8, PAGE_SIZE - 1, PAGE_SIZE + 8, b.unit - 1]);
