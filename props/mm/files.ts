// The host-memory suites: files, mappings and the zaps between them, in the states the other suites reach only by
// luck (issue 23, item 6: what the property-only mutation score found unreached). Each suite keeps to a few pages
// of a few mappings, so that the orders that matter (a COW copy then a hole punched under it, a write-protected
// PTE then a zap, a fallocated page then a fault next to it) come up in most runs, not in a few of many.
import fc from "fast-check";
import { PAGE_SIZE, SIZE_2M } from "../../model/consts.js";
import { PRESETS } from "../../schema/config.js";
import type { FallocModeName, Op } from "../../schema/ops.js";
import { opSuite, type OpSuite } from "../uffd/run.js";

const P = PAGE_SIZE;
const H = SIZE_2M / P;
const byte = fc.integer({ min: 1, max: 255 });
const pick = <T>(...xs: readonly T[]): fc.Arbitrary<T> => fc.constantFrom(...xs);
const mmap = (map: string, file: string, length: number, shared: boolean, offset = 0): Op => ({ op: "mmap", map, file, offset, length, shared });
const access = (map: string, page: number, write: boolean, b: number, inPage = 0): Op => ({
  op: "access",
  map,
  offset: page * P + inPage,
  kind: write ? "write" : "read",
  ...(write ? { byte: b } : {}),
});
const KEEP: readonly FallocModeName[] = ["KEEP_SIZE"];
const PUNCH: readonly FallocModeName[] = ["PUNCH_HOLE", "KEEP_SIZE"];
const fallocate = (file: string, mode: readonly FallocModeName[], offset: number, len: number): Op => ({ op: "file_fallocate", file, mode: [...mode], offset, len });

/**
 * shmem: f0 is six pages and 100 bytes (i_size inside a page), mapped shared past its end (m0, half of it under
 * uffd-wp, one ctx asynchronous, and a memslot over it), shared with a hole (m1: two VMAs), privately (m2: COW
 * copies), and shared anonymous memory (m6: an unnamed shmem file).
 */
const F0_SIZE = 6 * P + 100;
const ZAP_MAPS: Readonly<Record<string, Op>> = {
  m0: mmap("m0", "f0", 8 * P, true),
  m1: mmap("m1", "f0", 6 * P, true),
  m2: mmap("m2", "f0", 7 * P, false),
  m6: mmap("m6", "anon", 4 * P, true),
};
const ZAP_SETUP: readonly Op[] = [
  { op: "memfd", file: "f0", size: F0_SIZE },
  { op: "pwrite", file: "f0", offset: 0, byte: 9, len: 2 * P },
  ...Object.values(ZAP_MAPS),
  { op: "munmap", map: "m1", offset: 2 * P, len: P },
  { op: "uffd_open", uffd: "u0", features: ["WP_ASYNC"] },
  { op: "uffd_open", uffd: "u1", features: [] },
  { op: "uffd_register", uffd: "u0", map: "m0", offset: 0, len: 2 * P, mode: ["WP"] },
  { op: "uffd_register", uffd: "u1", map: "m0", offset: 2 * P, len: 2 * P, mode: ["WP"] },
  { op: "create_vm", vm: "v0" },
  { op: "set_memory_region", vm: "v0", slot: 0, flags: [], guest_phys_addr: 0, memory_size: 6 * P, userspace: "m0" },
];
const F0_OFFSETS = [0, 1, 100, P - 1, P, 2 * P, 5 * P, F0_SIZE - 1, F0_SIZE, F0_SIZE + 1, 7 * P] as const;
const F0_LENS = [1, 100, P - 1, P, P + 1, 2 * P, 3 * P + 7] as const;

function zapOps(): fc.Arbitrary<Op> {
  const page = pick(0, 1, 2, 3, 5, 6, 7);
  const hostAccess = fc.tuple(pick("m0", "m1", "m2", "m2", "m6"), page, fc.boolean(), byte, pick(0, 0, 99, 100)).map(([m, p, w, b, o]) => access(m, p, w, b, o));
  const vcpu = fc.tuple(pick(0, 1, 2, 3, 5), fc.boolean(), byte).map(([p, w, b]): Op => ({ op: "vcpu_access", vm: "v0", vcpu: 0, gpa: p * P, kind: w ? "write" : "read", ...(w ? { byte: b } : {}) }));
  const wp = fc
    .tuple(pick(["u0", 0, 2], ["u0", 1, 1], ["u1", 2, 2], ["u1", 3, 1]) as fc.Arbitrary<[string, number, number]>, pick<readonly ("WP" | "DONTWAKE")[]>(["WP"], ["WP"], []))
    .map(([[u, p, n], mode]): Op => ({ op: "uffdio_writeprotect", uffd: u, map: "m0", offset: p * P, len: n * P, mode: [...mode] }));
  const register = fc.tuple(pick("u0", "u1"), pick(0, 2), fc.boolean()).map(([u, p, on]): Op =>
    on ? { op: "uffd_register", uffd: u, map: "m0", offset: p * P, len: 2 * P, mode: ["WP"] } : { op: "uffd_unregister", uffd: u, map: "m0", offset: p * P, len: 2 * P },
  );
  const punch = fc.tuple(pick(...F0_OFFSETS), pick(...F0_LENS)).map(([o, l]) => fallocate("f0", PUNCH, o, l));
  const alloc = fc.tuple(pick([], KEEP), pick(...F0_OFFSETS), pick(...F0_LENS)).map(([m, o, l]) => fallocate("f0", m, o, l));
  const madvise = fc
    .tuple(pick("m0", "m1", "m2", "m6"), pick(0, 1, 2), pick(1, 2, 4, 8), pick<"DONTNEED" | "REMOVE">("DONTNEED", "REMOVE", "REMOVE"))
    .map(([m, p, n, advice]): Op => ({ op: "madvise", map: m, offset: p * P, len: n * P, advice }));
  const munmap = fc.tuple(pick("m0", "m1", "m2"), pick(0, 1, 2, 5, 9), pick(1, 2)).map(([m, p, n]): Op => ({ op: "munmap", map: m, offset: p * P, len: n * P }));
  const remap = pick(...Object.values(ZAP_MAPS));
  const pread = fc.tuple(pick(0, 100, F0_SIZE - 1, F0_SIZE, F0_SIZE + 1, 7 * P), pick<number | undefined>(undefined, 0, 1)).map(([o, l]): Op => ({ op: "pread", file: "f0", offset: o, ...(l === undefined ? {} : { len: l }) }));
  const pwrite = fc.tuple(pick(F0_SIZE - 1, F0_SIZE, 6 * P, 7 * P, P - 1), pick(0, 1, P), byte).map(([o, l, b]): Op => ({ op: "pwrite", file: "f0", offset: o, byte: b, len: l }));
  const alias = fc.tuple(pick("m6", "m0", "m2"), pick(0, 1, 5, 6), fc.boolean(), byte).map(([m, p, w, b]): Op =>
    w ? { op: "write_alias", map: m, offset: p * P, byte: b } : { op: "read_alias", map: m, offset: p * P },
  );
  const mincore = fc.tuple(pick("m0", "m1", "m2"), pick(0, 2), pick(1, 4, 8)).map(([m, p, n]): Op => ({ op: "mincore", map: m, offset: p * P, len: n * P }));
  return fc.oneof(
    { weight: 16, arbitrary: hostAccess },
    { weight: 4, arbitrary: vcpu },
    { weight: 5, arbitrary: wp },
    { weight: 1, arbitrary: register },
    { weight: 5, arbitrary: punch },
    { weight: 3, arbitrary: alloc },
    { weight: 5, arbitrary: madvise },
    { weight: 2, arbitrary: munmap },
    { weight: 2, arbitrary: remap },
    { weight: 3, arbitrary: pread },
    { weight: 2, arbitrary: pwrite },
    { weight: 2, arbitrary: alias },
    { weight: 1, arbitrary: mincore },
  );
}

/**
 * Fault-around: f1 is 514 pages, its cache filled from page 490 on, mapped whole (m3, 520 pages: page 512 starts a
 * page table, the file ends two pages later) and from file page 256 (m4: the table boundary falls at file page 768,
 * past the file, and the window's i_size clip at map page 258).
 */
const F1_PAGES = 514;
const AROUND_MAPS: Readonly<Record<string, Op>> = { m3: mmap("m3", "f1", 520 * P, true), m4: mmap("m4", "f1", 264 * P, true, 256 * P) };
const AROUND_SETUP: readonly Op[] = [
  { op: "memfd", file: "f1", size: F1_PAGES * P },
  { op: "pwrite", file: "f1", offset: 490 * P, byte: 3, len: 24 * P },
  ...Object.values(AROUND_MAPS),
  { op: "uffd_open", uffd: "u0", features: [] },
];

function aroundOps(): fc.Arbitrary<Op> {
  const m3 = pick(480, 495, 496, 500, 505, 510, 511, 512, 513, 514, 519);
  const m4 = pick(224, 239, 240, 250, 255, 256, 257, 258);
  const read = fc.oneof(m3.map((p) => access("m3", p, false, 0)), m4.map((p) => access("m4", p, false, 0)));
  const write = fc.tuple(fc.oneof(m3.map((p) => ["m3", p] as const), m4.map((p) => ["m4", p] as const)), byte).map(([[m, p], b]) => access(m, p, true, b));
  // Drops the window's PTEs, so the next read fills it again.
  const dontneed = fc.tuple(pick(["m3", 480], ["m3", 496], ["m3", 512], ["m4", 224], ["m4", 240]) as fc.Arbitrary<[string, number]>, pick(16, 32, 40)).map(([[m, p], n]): Op => ({ op: "madvise", map: m, offset: p * P, len: n * P, advice: "DONTNEED" }));
  const alloc = fc.tuple(pick([], KEEP, PUNCH), pick(480, 498, 505, 510, 512, 513, 514, 516), pick(1, 2, 4)).map(([m, p, n]) => fallocate("f1", m, p * P, n * P));
  const pwrite = fc.tuple(pick(480, 498, 505, 513, 514, 515), byte).map(([p, b]): Op => ({ op: "pwrite", file: "f1", offset: p * P + 7, byte: b, len: 1 }));
  const reg = fc.tuple(pick(496, 504, 512), pick<readonly ("MINOR" | "WP" | "MISSING")[]>(["MINOR"], ["WP"], ["MISSING"]), fc.boolean()).map(([p, mode, on]): Op =>
    on ? { op: "uffd_register", uffd: "u0", map: "m3", offset: p * P, len: 8 * P, mode: [...mode] } : { op: "uffd_unregister", uffd: "u0", map: "m3", offset: p * P, len: 8 * P },
  );
  const mincore = pick<Op>({ op: "mincore", map: "m3", offset: 496 * P, len: 24 * P }, { op: "mincore", map: "m4", offset: 240 * P, len: 24 * P });
  const remap = fc.constantFrom<Op>({ op: "munmap", map: "m4", offset: 0, len: 264 * P }, AROUND_MAPS.m4!);
  return fc.oneof(
    { weight: 16, arbitrary: read },
    { weight: 3, arbitrary: write },
    { weight: 5, arbitrary: dontneed },
    { weight: 5, arbitrary: alloc },
    { weight: 2, arbitrary: pwrite },
    { weight: 2, arbitrary: reg },
    { weight: 1, arbitrary: mincore },
    { weight: 1, arbitrary: remap },
  );
}

/**
 * hugetlbfs and guest_memfd: f2 (three 2 MiB folios) mapped shared (m5, its first folio under uffd-wp, its second
 * MISSING for poison) and privately (m8); a guest_memfd mapping with a hole (m7: two VMAs). fallocate, PUNCH_HOLE,
 * MADV_REMOVE and munmap at folio edges, and hugetlbfs sizes one page off.
 */
const HUGE_MAPS: Readonly<Record<string, Op>> = {
  m5: mmap("m5", "f2", 3 * SIZE_2M, true),
  m8: mmap("m8", "f2", 3 * SIZE_2M, false),
  m7: { op: "gmem_mmap", gmem: "g0", map: "m7", offset: 0, length: 4 * P },
};
const HUGE_SETUP: readonly Op[] = [
  { op: "memfd", file: "f2", size: 3 * SIZE_2M, hugetlb: true },
  { op: "create_vm", vm: "v0" },
  { op: "create_gmem", vm: "v0", gmem: "g0", size: 4 * P, flags: ["MMAP", "INIT_SHARED"] },
  ...Object.values(HUGE_MAPS),
  { op: "munmap", map: "m7", offset: 2 * P, len: P },
  { op: "uffd_open", uffd: "u0", features: [] },
  { op: "uffd_register", uffd: "u0", map: "m5", offset: 0, len: SIZE_2M, mode: ["WP"] },
  { op: "uffd_register", uffd: "u0", map: "m5", offset: SIZE_2M, len: SIZE_2M, mode: ["MISSING"] },
];
const F2_OFFSETS = [0, P, SIZE_2M - P, SIZE_2M, SIZE_2M + P, 2 * SIZE_2M, 3 * SIZE_2M - 1] as const;
const F2_LENS = [P, SIZE_2M - P, SIZE_2M, SIZE_2M + P, 2 * SIZE_2M] as const;

function hugeOps(): fc.Arbitrary<Op> {
  const hostAccess = fc.tuple(pick("m5", "m5", "m8"), pick(0, 1, H, 2 * H, 2 * H + 1), fc.boolean(), byte).map(([m, p, w, b]) => access(m, p, w, b));
  const gmemAccess = fc.tuple(pick(0, 1, 3), fc.boolean(), byte).map(([p, w, b]) => access("m7", p, w, b));
  const alloc = fc.tuple(pick([], KEEP, PUNCH, PUNCH), pick(...F2_OFFSETS), pick(...F2_LENS)).map(([m, o, l]) => fallocate("f2", m, o, l));
  const madvise = fc
    .tuple(pick(["m5", 0], ["m5", 1], ["m5", H], ["m8", 0], ["m7", 0], ["m7", 1]) as fc.Arbitrary<[string, number]>, pick(1, 2, 4), pick<"DONTNEED" | "REMOVE">("DONTNEED", "REMOVE"))
    .map(([[m, p], n, advice]): Op => ({ op: "madvise", map: m, offset: p * P, len: (m === "m7" ? n : n * H) * P, advice }));
  const munmap = fc.tuple(pick("m5", "m8"), pick(0, 1, H, 3 * H, 3 * H + 1), pick(1, H)).map(([m, p, n]): Op => ({ op: "munmap", map: m, offset: p * P, len: n * P }));
  const remap = pick(...Object.values(HUGE_MAPS));
  const uffd = pick<Op>(
    { op: "uffdio_writeprotect", uffd: "u0", map: "m5", offset: 0, len: SIZE_2M, mode: ["WP"] },
    { op: "uffdio_writeprotect", uffd: "u0", map: "m5", offset: 0, len: SIZE_2M, mode: [] },
    { op: "uffdio_poison", uffd: "u0", map: "m5", offset: SIZE_2M, len: SIZE_2M },
    { op: "uffdio_copy", uffd: "u0", map: "m5", offset: SIZE_2M, len: SIZE_2M, byte: 4 },
    { op: "uffd_register", uffd: "u0", map: "m5", offset: 0, len: SIZE_2M, mode: ["WP"] },
  );
  const gmemPunch = fc.tuple(pick(0, 1, 3), pick(1, 2)).map(([p, n]): Op => ({ op: "gmem_fallocate", gmem: "g0", mode: [...PUNCH], offset: p * P, len: n * P }));
  const memfd = fc.tuple(pick(P, SIZE_2M + P, SIZE_2M, 0), pick<true | "2M" | "1G">(true, "2M", "1G")).map(([size, hugetlb]): Op => ({ op: "memfd", file: "f8", size, hugetlb }));
  const pread = pick<Op>({ op: "pread", file: "f2", offset: 3 * SIZE_2M - 1 }, { op: "pread", file: "f2", offset: 3 * SIZE_2M }, { op: "pread", file: "f2", offset: P, len: 0 });
  return fc.oneof(
    { weight: 12, arbitrary: hostAccess },
    { weight: 4, arbitrary: gmemAccess },
    { weight: 8, arbitrary: alloc },
    { weight: 5, arbitrary: madvise },
    { weight: 3, arbitrary: munmap },
    { weight: 2, arbitrary: remap },
    { weight: 4, arbitrary: uffd },
    { weight: 2, arbitrary: gmemPunch },
    { weight: 1, arbitrary: memfd },
    { weight: 1, arbitrary: pread },
  );
}

export const MM_SUITES: readonly OpSuite[] = [
  opSuite(
    "mm-shmem-zaps",
    "a shmem file with a partial last page, mapped past its end under uffd-wp and a memslot, with a hole, privately, and shared anonymous memory: COW copies, write-protected PTEs and markers against PUNCH_HOLE, MADV_DONTNEED / MADV_REMOVE over several VMAs and munmap; pread and pwrite at EOF",
    "uffd",
    PRESETS.default,
    ZAP_SETUP,
    zapOps(),
    160,
  ),
  opSuite(
    "mm-fault-around",
    "read fault-around where its window meets a page table's end and i_size, through a mapping at a file offset, next to fallocated, punched and registered pages",
    "uffd",
    PRESETS.default,
    AROUND_SETUP,
    aroundOps(),
    80,
  ),
  opSuite(
    "mm-hugetlb-gmem",
    "hugetlbfs folios under uffd-wp and poison against fallocate, PUNCH_HOLE, MADV_REMOVE and munmap at folio edges; a guest_memfd mapping with a hole; hugetlbfs sizes one page off",
    "uffd",
    PRESETS.default,
    HUGE_SETUP,
    hugeOps(),
    120,
  ),
];
