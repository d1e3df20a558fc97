// guest_memfd at its edges, in the states the layout suites (8 MiB files, four slots) reach only by luck (issue 23,
// item 6: what the property-only mutation score found unreached): a small file mapped twice, once at a file offset
// under uffd-wp, behind two slots bound at different file offsets, with conversions, hole punches, pins and binds at
// the file's end and at folio edges. Few pages, so the orders that matter (a page pinned twice then converted, a
// marker then a truncation through the offset mapping, a bind one page past the end) come up in most runs.
import fc from "fast-check";
import { PAGE_SIZE, SIZE_2M } from "../../model/consts.js";
import { PRESETS, type Config } from "../../schema/config.js";
import type { FallocModeName, Op } from "../../schema/ops.js";
import { opSuite, type OpSuite } from "../uffd/run.js";

const P = PAGE_SIZE;
const byte = fc.integer({ min: 1, max: 255 });
const pick = <T>(...xs: readonly T[]): fc.Arbitrary<T> => fc.constantFrom(...xs);
const KEEP: readonly FallocModeName[] = ["KEEP_SIZE"];
const PUNCH: readonly FallocModeName[] = ["PUNCH_HOLE", "KEEP_SIZE"];
const access = (map: string, page: number, write: boolean, b: number): Op => ({
  op: "access",
  map,
  offset: page * P,
  kind: write ? "write" : "read",
  ...(write ? { byte: b } : {}),
});

/** The pages of a layout: `unit` is the folio in pages (1 or 512), the file `folios` of them. */
interface Edges {
  readonly unit: number;
  readonly folios: number;
}

const pagesOf = (e: Edges): number => e.unit * e.folios;

/**
 * g0 (MMAP|INIT_SHARED) mapped whole (m0) and from its second folio's second page (m1, under uffd-wp); slot 0 binds
 * its first folio at gpa 8 folios, slot 1 the next folios but the last (whose tail binds then aim at) at gpa 0, so gfn
 * and file index differ by a whole number of folios, one way in slot 0 and the other in slot 1; v1 is another VM.
 */
function setup(e: Edges): Op[] {
  const n = pagesOf(e);
  return [
    { op: "create_vm", vm: "v0", type: 1 },
    { op: "create_vm", vm: "v1", type: 1 },
    { op: "create_gmem", vm: "v0", gmem: "g0", size: n * P, flags: ["MMAP", "INIT_SHARED"] },
    { op: "gmem_mmap", gmem: "g0", map: "m0", offset: 0, length: n * P },
    { op: "gmem_mmap", gmem: "g0", map: "m1", offset: (e.unit + 1) * P, length: (n - e.unit - 1) * P },
    { op: "uffd_open", uffd: "u0", features: [] },
    { op: "uffd_register", uffd: "u0", map: "m1", offset: 0, len: 2 * P, mode: ["WP"] },
    // uffd-wp markers over m1's first two pages (none mapped yet): a punch of a page m0 maps must drop them.
    { op: "uffdio_writeprotect", uffd: "u0", map: "m1", offset: 0, len: 2 * P, mode: ["WP"] },
    {
      op: "set_memory_region",
      vm: "v0",
      slot: 0,
      flags: ["GUEST_MEMFD"],
      guest_phys_addr: 8 * e.unit * P,
      memory_size: e.unit * P,
      userspace: null,
      guest_memfd: "g0",
      guest_memfd_offset: 0,
    },
    {
      op: "set_memory_region",
      vm: "v0",
      slot: 1,
      flags: ["GUEST_MEMFD"],
      guest_phys_addr: 0,
      memory_size: (n - 2 * e.unit) * P,
      userspace: null,
      guest_memfd: "g0",
      guest_memfd_offset: e.unit * P,
    },
  ];
}

function ops(e: Edges): fc.Arbitrary<Op> {
  const n = pagesOf(e);
  const u = e.unit;
  // Pages at every edge: the first and last of each folio, the mapping offset's, and one past the file.
  const page = pick(0, 1, u - 1, u, u + 1, u + 1, u + 2, n - 2, n - 1);
  const m1Page = pick(0, 1, 2, n - u - 2);
  const host = fc.oneof(
    fc.tuple(page, fc.boolean(), byte).map(([p, w, b]) => access("m0", p, w, b)),
    fc.tuple(m1Page, fc.boolean(), byte).map(([p, w, b]) => access("m1", p, w, b)),
  );
  // Guest pages of slot 0 (file pages 0..u-1, at gpa 8u) and slot 1 (file pages u..n-u-1, at gpa 0).
  const gpa = pick(8 * u, 9 * u - 1, 0, 1, n - 2 * u - 1);
  const vcpu = fc.tuple(gpa, fc.boolean(), fc.boolean(), byte).map(([g, w, priv, b]): Op => ({
    op: "vcpu_access",
    vm: "v0",
    vcpu: 0,
    gpa: g * P,
    kind: w ? "write" : "read",
    private: priv,
    ...(w ? { byte: b } : {}),
  }));
  // Whole folios often (a split folio made wholly private again merges), single pages at every edge.
  const offset = pick(0, 0, P, u * P, u * P, (u + 1) * P, (u + 1) * P, (n - 1) * P, n * P, (n + 1) * P);
  const len = pick(P, 2 * P, u * P, u * P, (u + 1) * P, n * P);
  const convert = fc
    .tuple(offset, len, pick<"private" | "shared">("private", "shared"))
    .map(([o, l, to]): Op => ({ op: "gmem_convert", gmem: "g0", offset: o, size: l, to }));
  const fallocate = fc
    .tuple(pick([], KEEP, PUNCH, PUNCH), offset, len)
    .map(([m, o, l]): Op => ({ op: "gmem_fallocate", gmem: "g0", mode: [...m], offset: o, len: l }));
  // Pins through m0 only: a pin through m1's uffd-wp marker diverges (the model drops the folio its first fault pass
  // allocated, the impl keeps it; issue-23-m6 note), which is left for its own fix.
  const pin = fc.tuple(pick(0, 1, u, u + 1, n - 1), fc.boolean()).map(([p, on]): Op => ({ op: on ? "pin" : "unpin", map: "m0", offset: p * P }));
  const wp = fc
    .tuple(pick(0, 1), pick(1, 2), fc.boolean())
    .map(([p, l, on]): Op => ({ op: "uffdio_writeprotect", uffd: "u0", map: "m1", offset: p * P, len: l * P, mode: on ? ["WP"] : [] }));
  const madvise = fc
    .tuple(pick("m0", "m1"), pick(0, 1, u), pick(1, 2, u), pick<"DONTNEED" | "REMOVE">("DONTNEED", "REMOVE"))
    .map(([m, p, l, advice]): Op => ({ op: "madvise", map: m, offset: p * P, len: l * P, advice }));
  // Binds into the unbound last folio up to, at and past the file's end, past 2^63, and from another VM; the slot
  // is deleted again by size 0.
  const bind = fc
    .tuple(pick("v0", "v1"), pick(0, (n - u) * P, (n - 2) * P, (n - 1) * P, (n - 1) * P, n * P, 2 ** 63), pick(P, P, 2 * P))
    .map(([vm, o, l]): Op => ({
      op: "set_memory_region",
      vm,
      slot: 2,
      flags: ["GUEST_MEMFD"],
      guest_phys_addr: 64 * u * P,
      memory_size: l,
      userspace: null,
      guest_memfd: "g0",
      guest_memfd_offset: o,
    }));
  const unbind = pick<Op>({ op: "set_memory_region", vm: "v0", slot: 2, flags: [], guest_phys_addr: 64 * u * P, memory_size: 0, userspace: null });
  const remap = pick<Op>(
    { op: "munmap", map: "m1" },
    { op: "gmem_mmap", gmem: "g0", map: "m1", offset: (u + 1) * P, length: (n - u - 1) * P },
    { op: "gmem_mmap", gmem: "g0", map: "m2", offset: (n - 1) * P, length: P },
  );
  return fc.oneof(
    { weight: 10, arbitrary: host },
    { weight: 6, arbitrary: vcpu },
    { weight: 8, arbitrary: convert },
    { weight: 4, arbitrary: fallocate },
    { weight: 4, arbitrary: pin },
    { weight: 4, arbitrary: wp },
    { weight: 2, arbitrary: madvise },
    { weight: 3, arbitrary: bind },
    { weight: 1, arbitrary: unbind },
    { weight: 1, arbitrary: remap },
  );
}

const V8: Config = PRESETS["gmem-v8"];

export const GMEM_EDGE_SUITES: readonly OpSuite[] = [
  opSuite(
    "gmem-edges",
    "v8 on 4 KiB folios, an 8-page file mapped twice (once at a file offset under uffd-wp) behind two slots at different file " +
      "offsets: conversions, punches, pins and binds at the file's end",
    "gmem",
    V8,
    setup({ unit: 1, folios: 8 }),
    ops({ unit: 1, folios: 8 }),
    200,
  ),
  opSuite(
    "gmem-edges-2m",
    "v8 on 2 MiB folios, a three-folio file mapped twice (once from a subpage, under uffd-wp) behind two slots: splits, merges, " +
      "pins and conversions at folio edges",
    "gmem",
    { ...V8, gmemFolio: "2M" },
    setup({ unit: SIZE_2M / P, folios: 3 }),
    ops({ unit: SIZE_2M / P, folios: 3 }),
    120,
  ),
];
