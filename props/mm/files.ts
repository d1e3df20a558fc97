// The host-memory suites: files, mappings and the zaps between them, in the states the other suites reach only by
// luck (issue 23, item 6: what the property-only mutation score found unreached). A shmem file whose last page is
// partial, mapped past its end, split into two VMAs by a hole, privately; a file mapped across a page-table
// boundary with its cache filled there (fault-around's window meets the table's end and i_size); uffd-wp on part
// of a mapping, so markers meet every kind of zap; a guest_memfd mapping with a hole (MADV_REMOVE over several
// VMAs); hugetlbfs, where fallocate, PUNCH_HOLE and munmap round to the folio; shared anonymous memory.
import fc from "fast-check";
import { PAGE_SIZE, SIZE_2M } from "../../model/consts.js";
import { PRESETS } from "../../schema/config.js";
import type { FallocModeName, Op } from "../../schema/ops.js";
import { opSuite, type OpSuite } from "../uffd/run.js";

const P = PAGE_SIZE;
const H = SIZE_2M / P;
/** f0's size: six pages and 100 bytes, so i_size falls inside a page. */
const F0_SIZE = 6 * P + 100;
/** f1 ends inside the fault-around window that holds the page-table boundary (pages 512..527). */
const F1_PAGES = 514;

interface MapSpec {
  readonly id: string;
  /** Pages per folio. */
  readonly unit: number;
  /** Pages worth coming back to. */
  readonly hot: readonly number[];
  readonly create: Op;
}

const mmap = (map: string, file: string, length: number, shared: boolean): Op => ({ op: "mmap", map, file, offset: 0, length, shared });
const MAPS: readonly MapSpec[] = [
  { id: "m0", unit: 1, hot: [0, 1, 2, 3, 4, 5, 6, 7], create: mmap("m0", "f0", 8 * P, true) },
  { id: "m1", unit: 1, hot: [0, 1, 2, 3, 5], create: mmap("m1", "f0", 6 * P, true) },
  { id: "m2", unit: 1, hot: [0, 1, 5, 6], create: mmap("m2", "f0", 7 * P, false) },
  { id: "m3", unit: 1, hot: [496, 500, 508, 511, 512, 513, 514, 519], create: mmap("m3", "f1", 520 * P, true) },
  { id: "m4", unit: 1, hot: [0, 1, 2, 3], create: { op: "gmem_mmap", gmem: "g0", map: "m4", offset: 0, length: 4 * P } },
  { id: "m5", unit: H, hot: [0, 1, H, 2 * H, 3 * H], create: mmap("m5", "f2", 3 * SIZE_2M, true) },
  { id: "m6", unit: 1, hot: [0, 1, 3], create: mmap("m6", "anon", 4 * P, true) },
];

const SETUP: readonly Op[] = [
  { op: "memfd", file: "f0", size: F0_SIZE },
  { op: "pwrite", file: "f0", offset: 0, byte: 9, len: 2 * P },
  { op: "memfd", file: "f1", size: F1_PAGES * P },
  { op: "pwrite", file: "f1", offset: 494 * P, byte: 3, len: 20 * P },
  { op: "memfd", file: "f2", size: 3 * SIZE_2M, hugetlb: true },
  { op: "create_vm", vm: "v0" },
  { op: "create_gmem", vm: "v0", gmem: "g0", size: 4 * P, flags: ["MMAP", "INIT_SHARED"] },
  ...MAPS.map((m) => m.create),
  // Holes: m1 and m4 become two VMAs each.
  { op: "munmap", map: "m1", offset: 2 * P, len: P },
  { op: "munmap", map: "m4", offset: 2 * P, len: P },
  // uffd-wp on half of m0 (u0 asynchronous, u1 not), on the front of m3 and on m5: markers then meet the zaps.
  { op: "uffd_open", uffd: "u0", features: ["WP_ASYNC"] },
  { op: "uffd_open", uffd: "u1", features: [] },
  { op: "uffd_register", uffd: "u0", map: "m0", offset: 0, len: 2 * P, mode: ["WP"] },
  { op: "uffd_register", uffd: "u1", map: "m0", offset: 2 * P, len: 2 * P, mode: ["WP"] },
  { op: "uffd_register", uffd: "u0", map: "m3", offset: 496 * P, len: 8 * P, mode: ["WP"] },
  { op: "uffd_register", uffd: "u0", map: "m5", offset: 0, len: SIZE_2M, mode: ["WP"] },
];

const byte = fc.integer({ min: 1, max: 255 });
const FILES = ["f0", "f1", "f2"] as const;
/** Byte offsets in a file around its page, folio and size edges. */
const fileOffsets: Readonly<Record<(typeof FILES)[number], readonly number[]>> = {
  f0: [0, 1, 100, P - 1, P, 2 * P + 5, 5 * P, 6 * P, F0_SIZE - 1, F0_SIZE, F0_SIZE + 1, 7 * P],
  f1: [496 * P, 511 * P + 7, 512 * P, (F1_PAGES - 1) * P, F1_PAGES * P - 1, F1_PAGES * P],
  f2: [0, P, SIZE_2M - P, SIZE_2M, SIZE_2M + P, 2 * SIZE_2M, 3 * SIZE_2M - 1, 3 * SIZE_2M],
};
const fileLens: Readonly<Record<(typeof FILES)[number], readonly number[]>> = {
  f0: [1, 100, P - 1, P, P + 1, 2 * P, 3 * P + 7],
  f1: [1, P, 3 * P, 16 * P],
  f2: [P, SIZE_2M - P, SIZE_2M, SIZE_2M + P, 2 * SIZE_2M],
};
const MODES: readonly (readonly FallocModeName[])[] = [[], ["KEEP_SIZE"], ["PUNCH_HOLE", "KEEP_SIZE"], ["PUNCH_HOLE", "KEEP_SIZE"]];

function mmOps(): fc.Arbitrary<Op> {
  const map = fc.constantFrom(...MAPS);
  const page = (m: MapSpec): fc.Arbitrary<number> => fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...m.hot) }, { weight: 1, arbitrary: fc.nat({ max: 8 * m.unit }) });
  const file = fc.constantFrom(...FILES);
  const inFile = file.chain((f) => fc.tuple(fc.constant(f), fc.constantFrom(...fileOffsets[f]), fc.constantFrom(...fileLens[f])));

  const access = fc
    .tuple(map.chain((m) => fc.tuple(fc.constant(m.id), page(m))), fc.constantFrom(0, 0, 99, 100), fc.constantFrom("read", "read", "write"), byte)
    .map(([[m, p], off, kind, b]): Op => ({ op: "access", map: m, offset: p * P + off, kind, ...(kind === "write" ? { byte: b } : {}) }));
  // A write to a page under uffd-wp: the write-protect fault, with and without WP_ASYNC.
  const wpWrite = fc
    .tuple(fc.constantFrom(["m0", 0], ["m0", 1], ["m0", 2], ["m0", 3], ["m3", 496], ["m3", 503], ["m5", 0]) as fc.Arbitrary<[string, number]>, byte)
    .map(([[m, p], b]): Op => ({ op: "access", map: m, offset: p * P, kind: "write", byte: b }));
  const fallocate = fc.tuple(inFile, fc.constantFrom(...MODES)).map(([[f, offset, len], mode]): Op => ({ op: "file_fallocate", file: f, mode: [...mode], offset, len }));
  const pread = fc
    .tuple(inFile, fc.constantFrom<number | undefined>(undefined, 0, 1))
    .map(([[f, offset], len]): Op => ({ op: "pread", file: f, offset, ...(len === undefined ? {} : { len }) }));
  const pwrite = fc
    .tuple(fc.constantFrom("f0", "f1"), byte, fc.constantFrom(0, 1, P))
    .chain(([f, b, len]) => fc.constantFrom(...fileOffsets[f]).map((offset): Op => ({ op: "pwrite", file: f, offset, byte: b, len })));
  // Several VMAs, holes and folio edges: a range from one of the map's hot pages, one to eight folios long.
  const range = map.chain((m) => fc.tuple(fc.constant(m), page(m), fc.constantFrom(1, 2, 3, 4, 8)));
  const madvise = fc
    .tuple(range, fc.constantFrom("DONTNEED", "REMOVE", "REMOVE"), fc.boolean())
    .map(([[m, p, n], advice, folio]): Op => {
      const start = folio ? Math.floor(p / m.unit) * m.unit : p;
      return { op: "madvise", map: m.id, offset: start * P, len: n * m.unit * P, advice };
    });
  const munmap = range.map(([m, p, n]): Op => ({ op: "munmap", map: m.id, offset: p * P, len: (n === 8 ? 1 : n * m.unit) * P }));
  const remap = map.map((m) => m.create);
  const mincore = range.map(([m, p, n]): Op => ({ op: "mincore", map: m.id, offset: p * P, len: n * m.unit * P }));
  const wpRange = fc.constantFrom(["m0", 0, 4], ["m0", 1, 2], ["m0", 3, 1], ["m3", 496, 8], ["m3", 511, 1], ["m5", 0, H]) as fc.Arbitrary<[string, number, number]>;
  const writeprotect = fc
    .tuple(wpRange, fc.constantFrom("u0", "u1"), fc.constantFrom<readonly ("WP" | "DONTWAKE")[]>(["WP"], ["WP"], []))
    .map(([[m, p, n], u, mode]): Op => ({ op: "uffdio_writeprotect", uffd: u, map: m, offset: p * P, len: n * P, mode: [...mode] }));
  const register = fc
    .tuple(wpRange, fc.constantFrom("u0", "u1"), fc.boolean())
    .map(([[m, p, n], u, on]): Op =>
      on ? { op: "uffd_register", uffd: u, map: m, offset: p * P, len: n * P, mode: ["WP"] } : { op: "uffd_unregister", uffd: u, map: m, offset: p * P, len: n * P },
    );
  const poison = fc.constantFrom<Op>(
    { op: "uffd_register", uffd: "u1", map: "m5", offset: SIZE_2M, len: SIZE_2M, mode: ["MISSING", "WP"] },
    { op: "uffdio_poison", uffd: "u1", map: "m5", offset: SIZE_2M, len: SIZE_2M },
  );
  const wake = fc.constantFrom<Op>({ op: "uffdio_wake", uffd: "u1", map: "m0", offset: 0, len: 8 * P }, { op: "uffdio_writeprotect", uffd: "u1", map: "m0", offset: 2 * P, len: 2 * P, mode: [] });

  return fc.oneof(
    { weight: 20, arbitrary: access },
    { weight: 4, arbitrary: wpWrite },
    { weight: 8, arbitrary: fallocate },
    { weight: 4, arbitrary: pread },
    { weight: 4, arbitrary: pwrite },
    { weight: 8, arbitrary: madvise },
    { weight: 3, arbitrary: munmap },
    { weight: 3, arbitrary: remap },
    { weight: 2, arbitrary: mincore },
    { weight: 6, arbitrary: writeprotect },
    { weight: 2, arbitrary: register },
    { weight: 1, arbitrary: poison },
    { weight: 2, arbitrary: wake },
  );
}

export const MM_SUITES: readonly OpSuite[] = [
  opSuite(
    "mm-files",
    "shmem, hugetlbfs, guest_memfd and shared anonymous mappings: fault-around at a page-table boundary and i_size, uffd-wp markers across every zap, MADV_REMOVE over several VMAs, fallocate and PUNCH_HOLE at page and folio edges, pread and pwrite at EOF",
    "uffd",
    PRESETS.default,
    SETUP,
    mmOps(),
    240,
    60,
  ),
];
