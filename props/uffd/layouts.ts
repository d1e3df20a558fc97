// What the userfaultfd suites start from: files and mappings of each memory type, and the values the generators
// aim at (hot pages, the end of file, the registration modes and uffd features worth trying).
import { PAGE_SIZE, SIZE_2M } from "../../model/consts.js";
import { PRESETS, type Config } from "../../schema/config.js";
import type { Op, UffdFeatureName, UffdModeName } from "../../schema/ops.js";

export interface UffdMap {
  readonly id: string;
  /** Mapping length in 4 KiB pages. */
  readonly pages: number;
  /** Pages per huge page (hugetlbfs), else 1. */
  readonly unit: number;
  /** write_alias / read_alias reach a file behind it. */
  readonly alias: boolean;
  /** Pages worth coming back to (in units of 4 KiB, huge-page aligned on hugetlbfs). */
  readonly hot: readonly number[];
  /** The op that creates it again after a munmap. */
  readonly create: Op;
}

/** Lengths of alias writes: crossing a page boundary, and past EOF from the last page. */
const SPANS = [1, 1, 2 * PAGE_SIZE, PAGE_SIZE + 8] as const;

export interface UffdLayout {
  readonly name: string;
  readonly description: string;
  readonly config: Config;
  readonly setup: readonly Op[];
  readonly maps: readonly UffdMap[];
  readonly uffds: readonly string[];
  readonly files: readonly string[];
  readonly gmems: readonly string[];
  /** The layout's guest_memfd pages can be converted (in-place conversion on): generate gmem_convert too. */
  readonly converts?: boolean;
  readonly aliasLens: readonly number[];
  /** Guest addresses whose memslot hva lies in a registrable mapping (vCPU GUP sleeps there). */
  readonly gpas: readonly number[];
  readonly modes: readonly (readonly UffdModeName[])[];
  readonly features: readonly (readonly UffdFeatureName[])[];
}

const P = PAGE_SIZE;
const open = (uffd: string, features: readonly UffdFeatureName[] = []): Op => ({ op: "uffd_open", uffd, features: [...features] });
/** Both contexts open, u0 owning all of m0 with `mode`: most generated operations then meet a registration. */
const contexts = (len: number, mode: readonly UffdModeName[]): Op[] => [open("u0"), open("u1"), { op: "uffd_register", uffd: "u0", map: "m0", offset: 0, len, mode: [...mode] }];
const MODES: readonly (readonly UffdModeName[])[] = [["MINOR"], ["MISSING"], ["MISSING", "MINOR"], ["WP"], ["MISSING", "WP"], ["MINOR", "WP"], ["MISSING", "WP", "MINOR"]];
const FEATURES: readonly (readonly UffdFeatureName[])[] = [[], [], [], ["EXACT_ADDRESS"], ["SIGBUS"], ["WP_ASYNC"], ["WP_UNPOPULATED"], ["EVENT_REMOVE"], ["MINOR_SHMEM", "MISSING_SHMEM"]];

const mmap = (map: string, file: string, length: number, shared?: boolean, prot?: "rw" | "r"): Op => ({
  op: "mmap",
  map,
  file,
  offset: 0,
  length,
  ...(shared === undefined ? {} : { shared }),
  ...(prot === undefined ? {} : { prot }),
});

/** Private anonymous memory: MISSING and WP only, COPY / ZEROPAGE / POISON, and a KVM slot whose GUP sleeps. */
const ANON_M0 = mmap("m0", "anon", 8 * P);
export const ANON: UffdLayout = {
  name: "anon",
  description: "private anonymous memory with a memslot over it (vCPU GUP sleeps in handle_userfault)",
  config: PRESETS["kernel-6.18"],
  setup: [ANON_M0, ...contexts(8 * P, ["MISSING"]), { op: "create_vm", vm: "v0" }, { op: "set_memory_region", vm: "v0", slot: 0, flags: [], guest_phys_addr: 0, memory_size: 8 * P, userspace: "m0" }],
  maps: [{ id: "m0", pages: 8, unit: 1, alias: false, hot: [0, 1, 2, 7, 8], create: ANON_M0 }],
  uffds: ["u0", "u1"],
  files: [],
  gmems: [],
  aliasLens: SPANS,
  gpas: [0, P, 2 * P, 7 * P],
  modes: MODES,
  features: FEATURES,
};

/** One shmem file, 6 pages, behind a registrable shared mapping (8 pages: two past EOF), the alias, a private one. */
const SHM_M0 = mmap("m0", "f0", 8 * P, true);
const SHM_M1 = mmap("m1", "f0", 6 * P, true);
const SHM_M2 = mmap("m2", "f0", 6 * P, false);
export const SHMEM: UffdLayout = {
  name: "shmem",
  description: "a shmem file with two shared mappings (m0 registrable and past EOF, m1 the alias) and a private one (m2); a memslot over m0",
  config: PRESETS["kernel-6.18"],
  setup: [
    { op: "memfd", file: "f0", size: 6 * P },
    SHM_M0,
    SHM_M1,
    SHM_M2,
    ...contexts(8 * P, ["MISSING", "MINOR"]),
    { op: "create_vm", vm: "v0" },
    { op: "set_memory_region", vm: "v0", slot: 0, flags: [], guest_phys_addr: 0, memory_size: 6 * P, userspace: "m0" },
  ],
  maps: [
    { id: "m0", pages: 8, unit: 1, alias: true, hot: [0, 1, 2, 5, 6, 7], create: SHM_M0 },
    { id: "m1", pages: 6, unit: 1, alias: true, hot: [0, 1, 2, 5], create: SHM_M1 },
    { id: "m2", pages: 6, unit: 1, alias: true, hot: [0, 1, 5], create: SHM_M2 },
  ],
  uffds: ["u0", "u1"],
  files: ["f0"],
  gmems: [],
  aliasLens: SPANS,
  gpas: [0, P, 2 * P, 5 * P],
  modes: MODES,
  features: FEATURES,
};

/** A shmem file whose registered mapping is private: COPY and ZEROPAGE ignore the page cache, CONTINUE maps it read-only. */
const PRIV_M0 = mmap("m0", "f0", 6 * P, false);
const PRIV_M1 = mmap("m1", "f0", 6 * P, true);
export const PRIVATE_FILE: UffdLayout = {
  name: "private-file",
  description: "a MAP_PRIVATE shmem mapping registered (m0) with a shared alias (m1): COW copies, private COPY, read-only CONTINUE",
  config: PRESETS["kernel-6.18"],
  setup: [{ op: "memfd", file: "f0", size: 4 * P }, PRIV_M0, PRIV_M1, ...contexts(6 * P, ["MISSING", "MINOR"])],
  maps: [
    { id: "m0", pages: 6, unit: 1, alias: true, hot: [0, 1, 3, 4], create: PRIV_M0 },
    { id: "m1", pages: 6, unit: 1, alias: true, hot: [0, 1, 3], create: PRIV_M1 },
  ],
  uffds: ["u0", "u1"],
  files: ["f0"],
  gmems: [],
  aliasLens: SPANS,
  gpas: [],
  modes: [["MINOR"], ["MISSING", "MINOR"], ["MISSING"], ["MISSING", "WP", "MINOR"]],
  features: [[], [], ["EXACT_ADDRESS"], ["WP_ASYNC"]],
};

/** hugetlbfs 2 MiB pages, shared and private mappings of one file: huge-page alignment rules, no ZEROPAGE. */
const H = SIZE_2M / P;
const HUGE_M0 = mmap("m0", "f0", 3 * SIZE_2M, true);
const HUGE_M1 = mmap("m1", "f0", 3 * SIZE_2M, true);
const HUGE_M2 = mmap("m2", "f0", 3 * SIZE_2M, false);
export const HUGETLB: UffdLayout = {
  name: "hugetlb",
  description: "a 6 MiB hugetlbfs file (2 MiB pages) with a registrable shared mapping (m0), its alias (m1) and a private mapping (m2)",
  config: PRESETS["kernel-6.18"],
  setup: [{ op: "memfd", file: "f0", size: 3 * SIZE_2M, hugetlb: true }, HUGE_M0, HUGE_M1, HUGE_M2, ...contexts(3 * SIZE_2M, ["MISSING", "MINOR"])],
  maps: [
    { id: "m0", pages: 3 * H, unit: H, alias: true, hot: [0, H, 2 * H, 1], create: HUGE_M0 },
    { id: "m1", pages: 3 * H, unit: H, alias: true, hot: [0, H], create: HUGE_M1 },
    { id: "m2", pages: 3 * H, unit: H, alias: true, hot: [0, 2 * H], create: HUGE_M2 },
  ],
  uffds: ["u0", "u1"],
  files: ["f0"],
  gmems: [],
  aliasLens: SPANS,
  gpas: [],
  modes: MODES,
  features: [[], [], ["EXACT_ADDRESS"], ["WP_ASYNC"]],
};

/** guest_memfd with MMAP | INIT_SHARED (mm-2026 uffd support) and one without INIT_SHARED (registration refused). */
const GMEM_M0 = { op: "gmem_mmap", gmem: "g0", map: "m0", offset: 0, length: 6 * P } as const;
const GMEM_M1 = { op: "gmem_mmap", gmem: "g0", map: "m1", offset: 0, length: 4 * P } as const;
const GMEM_M2 = { op: "gmem_mmap", gmem: "g1", map: "m2", offset: 0, length: 2 * P } as const;
export const GMEM: UffdLayout = {
  name: "gmem",
  description: "guest_memfd (MMAP | INIT_SHARED, 4 pages) mapped at m0 (past EOF too) and m1; a file without INIT_SHARED at m2",
  config: PRESETS.default,
  setup: [
    { op: "create_vm", vm: "v0" },
    { op: "create_gmem", vm: "v0", gmem: "g0", size: 4 * P, flags: ["MMAP", "INIT_SHARED"] },
    { op: "create_gmem", vm: "v0", gmem: "g1", size: 2 * P, flags: ["MMAP"] },
    GMEM_M0,
    GMEM_M1,
    GMEM_M2,
    ...contexts(6 * P, ["MISSING", "MINOR"]),
  ],
  maps: [
    { id: "m0", pages: 6, unit: 1, alias: true, hot: [0, 1, 3, 4], create: GMEM_M0 },
    { id: "m1", pages: 4, unit: 1, alias: true, hot: [0, 1, 3], create: GMEM_M1 },
    { id: "m2", pages: 2, unit: 1, alias: true, hot: [0, 1], create: GMEM_M2 },
  ],
  uffds: ["u0", "u1"],
  files: [],
  gmems: ["g0"],
  aliasLens: SPANS,
  gpas: [],
  modes: [["MINOR"], ["MISSING"], ["MISSING", "MINOR"]],
  features: [[], [], ["EXACT_ADDRESS"], ["SIGBUS"]],
};

/**
 * The same files on a software-protected VM with in-place conversion v8 on: pages of the INIT_SHARED file become
 * private and back, so userfaultfd meets private pages (faultline's assumption, config.uffdGmemPrivate).
 */
export const GMEM_INPLACE: UffdLayout = {
  ...GMEM,
  name: "gmem-inplace",
  description: "guest_memfd as in uffd-gmem, on a software-protected VM with in-place conversion v8: pages go private and back",
  config: PRESETS["gmem-v8"],
  setup: [{ op: "create_vm", vm: "v0", type: 1 }, ...GMEM.setup.slice(1)],
  converts: true,
};

export const UFFD_LAYOUTS: readonly UffdLayout[] = [ANON, SHMEM, PRIVATE_FILE, HUGETLB, GMEM, GMEM_INPLACE];
