// userfaultfd's refusals at their edges, in the states the broad suites reach only by luck (issue 23, item 6: what the
// property-only mutation score found unreached): UFFDIO_MOVE between VMAs that differ in one respect each (shared,
// read-only, hugetlbfs, ending inside the range), and the fill, write-protect and register ioctls on hugetlbfs at a
// page off each huge-page edge. Few pages of a few mappings, so each refusal and its near miss come up in most runs.
import fc from "fast-check";
import { PAGE_SIZE, SIZE_2M } from "../../model/consts.js";
import { PRESETS } from "../../schema/config.js";
import type { Op } from "../../schema/ops.js";
import { opSuite, type OpSuite } from "./run.js";

const P = PAGE_SIZE;
const H = SIZE_2M / P;
const byte = fc.integer({ min: 1, max: 255 });
const pick = <T>(...xs: readonly T[]): fc.Arbitrary<T> => fc.constantFrom(...xs);

/**
 * Private anonymous m0 and m1 (m1 with a hole at page 4: two VMAs), read-only anonymous m2, shared anonymous m3, and
 * a two-folio hugetlbfs file mapped shared (m4) and its first folio privately (m5); all registered MISSING on u0,
 * m0 and m4's first folio also WP.
 */
const SETUP: readonly Op[] = [
  { op: "mmap", map: "m0", file: "anon", offset: 0, length: 8 * P, shared: false },
  { op: "mmap", map: "m1", file: "anon", offset: 0, length: 8 * P, shared: false },
  { op: "munmap", map: "m1", offset: 4 * P, len: P },
  { op: "mmap", map: "m2", file: "anon", offset: 0, length: 4 * P, shared: false, prot: "r" },
  { op: "mmap", map: "m3", file: "anon", offset: 0, length: 4 * P, shared: true },
  { op: "memfd", file: "f0", size: 2 * SIZE_2M, hugetlb: true },
  { op: "mmap", map: "m4", file: "f0", offset: 0, length: 2 * SIZE_2M, shared: true },
  { op: "mmap", map: "m5", file: "f0", offset: 0, length: SIZE_2M, shared: false },
  { op: "uffd_open", uffd: "u0", features: [] },
  { op: "uffd_register", uffd: "u0", map: "m0", offset: 0, len: 8 * P, mode: ["MISSING", "WP"] },
  { op: "uffd_register", uffd: "u0", map: "m1", offset: 0, len: 4 * P, mode: ["MISSING"] },
  { op: "uffd_register", uffd: "u0", map: "m1", offset: 5 * P, len: 3 * P, mode: ["MISSING"] },
  { op: "uffd_register", uffd: "u0", map: "m2", offset: 0, len: 4 * P, mode: ["MISSING"] },
  { op: "uffd_register", uffd: "u0", map: "m3", offset: 0, len: 4 * P, mode: ["MISSING"] },
  { op: "uffd_register", uffd: "u0", map: "m4", offset: 0, len: SIZE_2M, mode: ["MISSING", "WP"] },
  { op: "uffd_register", uffd: "u0", map: "m5", offset: 0, len: SIZE_2M, mode: ["MISSING"] },
];

function ops(): fc.Arbitrary<Op> {
  const small = pick("m0", "m0", "m1", "m1", "m2", "m3");
  const page = pick(0, 1, 2, 3, 5, 6, 7);
  const fill = fc
    .tuple(small, page, pick(1, 2, 3), byte)
    .map(([m, p, n, b]): Op => ({ op: "uffdio_copy", uffd: "u0", map: m, offset: p * P, len: n * P, byte: b }));
  const access = fc.tuple(pick("m0", "m0", "m1", "m3"), page, fc.boolean(), byte).map(([m, p, w, b]): Op => ({
    op: "access",
    map: m,
    offset: p * P,
    kind: w ? "write" : "read",
    ...(w ? { byte: b } : {}),
  }));
  // Moves from and to every kind of VMA, with ranges that end at, one page past, or inside a VMA's end.
  const move = fc
    .tuple(
      pick("m0", "m0", "m1", "m2", "m3", "m4", "m5"),
      pick(0, 2, 3, 6),
      pick("m0", "m1", "m1", "m2", "m3", "m4", "m5"),
      pick(0, 2, 3, 6),
      pick(1, 2, 3),
      pick<readonly ("DONTWAKE" | "ALLOW_SRC_HOLES")[]>([], ["ALLOW_SRC_HOLES"], ["DONTWAKE"]),
    )
    .map(([src, s, dst, d, n, mode]): Op => ({ op: "uffdio_move", uffd: "u0", map: dst, offset: d * P, len: n * P, src, src_offset: s * P, mode: [...mode] }));
  // hugetlbfs: the ioctls at a page off each huge-page edge, and whole folios.
  const hOffset = pick(0, P, SIZE_2M - P, SIZE_2M, SIZE_2M + P);
  const hLen = pick(P, SIZE_2M - P, SIZE_2M, SIZE_2M + P, 2 * SIZE_2M);
  const kinds = pick("uffdio_copy", "uffdio_zeropage", "uffdio_poison", "uffdio_writeprotect", "uffdio_continue") as fc.Arbitrary<string>;
  const huge = fc.tuple(kinds, hOffset, hLen, fc.boolean(), byte).map(([k, o, l, on, b]): Op => {
    const r = { uffd: "u0", map: "m4", offset: o, len: l };
    if (k === "uffdio_copy") return { op: "uffdio_copy", ...r, byte: b };
    if (k === "uffdio_zeropage") return { op: "uffdio_zeropage", ...r };
    if (k === "uffdio_poison") return { op: "uffdio_poison", ...r };
    if (k === "uffdio_continue") return { op: "uffdio_continue", ...r };
    return { op: "uffdio_writeprotect", ...r, mode: on ? ["WP"] : [] };
  });
  const hAccess = fc
    .tuple(pick(0, 1, H, H + 1), fc.boolean(), byte)
    .map(([p, w, b]): Op => ({ op: "access", map: "m4", offset: p * P, kind: w ? "write" : "read", ...(w ? { byte: b } : {}) }));
  const register = fc
    .tuple(
      pick(["m4", 0], ["m4", P], ["m4", SIZE_2M], ["m0", 0], ["m0", 2 * P], ["m1", 3 * P]) as fc.Arbitrary<[string, number]>,
      pick(P, 2 * P, SIZE_2M - P, SIZE_2M, SIZE_2M + P),
      pick<readonly ("MISSING" | "WP" | "MINOR")[]>(["MISSING"], ["WP"], ["MISSING", "WP"], ["MINOR"]),
      fc.boolean(),
    )
    .map(([[m, o], l, mode, on]): Op =>
      on ? { op: "uffd_register", uffd: "u0", map: m, offset: o, len: l, mode: [...mode] } : { op: "uffd_unregister", uffd: "u0", map: m, offset: o, len: l },
    );
  const wp = fc.tuple(pick(0, 1, 2, 6), pick(1, 2, 3), fc.boolean(), fc.boolean()).map(([p, n, on, dontwake]): Op => ({
    op: "uffdio_writeprotect",
    uffd: "u0",
    map: "m0",
    offset: p * P,
    len: n * P,
    mode: [...(on ? ["WP" as const] : []), ...(dontwake ? ["DONTWAKE" as const] : [])],
  }));
  const zap = fc
    .tuple(pick("m0", "m1", "m3", "m4"), pick(0, 2, 5))
    .map(([m, p]): Op => ({ op: "madvise", map: m, offset: p * P, len: (m === "m4" ? H : 2) * P, advice: "DONTNEED" }));
  return fc.oneof(
    { weight: 5, arbitrary: fill },
    { weight: 6, arbitrary: access },
    { weight: 8, arbitrary: move },
    { weight: 6, arbitrary: huge },
    { weight: 2, arbitrary: hAccess },
    { weight: 3, arbitrary: register },
    { weight: 3, arbitrary: wp },
    { weight: 2, arbitrary: zap },
  );
}

export const UFFD_EDGE_SUITES: readonly OpSuite[] = [
  opSuite(
    "uffd-edges",
    "UFFDIO_MOVE between private, hole-split, read-only, shared and hugetlbfs VMAs at their ends; fill, write-protect and " +
      "register ioctls on hugetlbfs a page off each huge-page edge",
    "uffd",
    PRESETS.default,
    SETUP,
    ops(),
    200,
  ),
];
