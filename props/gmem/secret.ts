// Secret hiding (docs/GMEM.md): a Firecracker-like VM whose guest_memfd is out of the kernel's direct map and filled by
// write(), with KVM's own accesses going through the memslot's userspace address, which maps the guest_memfd itself.
// A sequential suite over every path that prepares a folio, and the race of write() against guest and KVM faults.
import fc from "fast-check";
import { PAGE_SIZE } from "../../model/consts.js";
import { PRESETS, type Config } from "../../schema/config.js";
import type { Op } from "../../schema/ops.js";
import { runConcurrentSuite, type ConcurrentSuite } from "../concurrent/explore.js";
import { pctSteps } from "../concurrent/run-lengths.js";
import { setupOf, type LayoutSlot } from "../layouts.js";
import { runSequentialSuite } from "../run.js";
import type { SequentialSuite } from "../suites.js";
import { gmemOpArbitrary } from "./generators.js";
import { gmemLayout } from "./layouts.js";
import { thread, threads } from "./races.js";

const MiB = 1024 * 1024;

/** The running kernel's guest_memfd with both posted series: GUEST_MEMFD_FLAG_NO_DIRECT_MAP and GUEST_MEMFD_FLAG_WRITE. */
export const SECRET_CONFIG: Config = {
  ...PRESETS["kernel-6.18"],
  kernel: { ...PRESETS["kernel-6.18"].kernel, gmemFlags: ["MMAP", "INIT_SHARED", "NO_DIRECT_MAP", "WRITE"] },
};

/** A guest_memfd slot whose userspace address is the file's own mapping, as Firecracker sets it up. */
const selfMapped = (slot: number, gpa: number, size: number, gmem: string, map: string): LayoutSlot => ({
  slot,
  gpa,
  size,
  userspace: map,
  userspaceOffset: 0,
  flags: ["GUEST_MEMFD"],
  gmem,
  gmemOffset: 0,
});

/** Firecracker's secret-free restore flags on g0 (tests/framework/kvm.py), write() without direct map removal on g1, the reverse on g2. */
export const GMEM_SECRET = gmemLayout(
  "gmem-secret",
  "default VM; g0 MMAP|INIT_SHARED|NO_DIRECT_MAP|WRITE behind slot 0, g1 without NO_DIRECT_MAP (slot 1), g2 without WRITE " +
    "(slot 2); each slot's hva is its file's mapping",
  0,
  [
    { name: "g0", size: 4 * MiB, map: "m5", flags: ["MMAP", "INIT_SHARED", "NO_DIRECT_MAP", "WRITE"] },
    { name: "g1", size: 2 * MiB, map: "m6", flags: ["MMAP", "INIT_SHARED", "WRITE"] },
    { name: "g2", size: 2 * MiB, map: "m7", flags: ["MMAP", "INIT_SHARED", "NO_DIRECT_MAP"] },
  ],
  [selfMapped(0, 0, 4 * MiB, "g0", "m5"), selfMapped(1, 4 * MiB, 2 * MiB, "g1", "m6"), selfMapped(2, 8 * MiB, 2 * MiB, "g2", "m7")],
);

const byte = fc.integer({ min: 1, max: 255 });
/** The pages everything aims at: the first three of a file and its last. */
const hotPage = (pages: number): fc.Arbitrary<number> =>
  fc.oneof({ weight: 6, arbitrary: fc.constantFrom(0, 1, 2, pages - 1) }, { weight: 1, arbitrary: fc.nat({ max: pages - 1 }) });
const written = (kind: string, b: number): { byte?: number } => (kind === "write" ? { byte: b } : {});

/** The calls refused before any page: offsets at loff_t's sign and end, a VM fd, nothing to write. */
const WRITE_REFUSALS: readonly Op[] = [
  { op: "gmem_write", gmem: "g0", offset: 2 ** 63, len: PAGE_SIZE, byte: 1 },
  { op: "gmem_write", gmem: "g0", offset: 2 ** 63 - PAGE_SIZE, len: PAGE_SIZE, byte: 1 },
  { op: "gmem_write", gmem: "v0", offset: 0, len: PAGE_SIZE, byte: 1 },
  { op: "gmem_write", gmem: "g0", offset: 0, len: 0 },
];

/** write() over whole pages mostly; a few unaligned, past i_size, to a file without WRITE, or to a closed name. */
function writes(l: typeof GMEM_SECRET): fc.Arbitrary<Op> {
  const file = fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...l.gmems) }, { weight: 1, arbitrary: fc.constant({ name: "g9", size: PAGE_SIZE }) });
  const pages = fc
    .record({ g: file, pages: fc.constantFrom(1, 1, 1, 2, 3), skew: fc.constantFrom(0, 0, 0, 0, 0, 0, 1), extra: fc.constantFrom(0, 0, 0, 0, 0, 100), b: byte })
    .chain((r) => hotPage(r.g.size / PAGE_SIZE).map((page) => ({ ...r, page })))
    .map((r): Op => ({ op: "gmem_write", gmem: r.g.name, offset: r.page * PAGE_SIZE + r.skew, len: r.pages * PAGE_SIZE + r.extra, byte: r.b }));
  return fc.oneof({ weight: 12, arbitrary: pages }, { weight: 1, arbitrary: fc.constantFrom(...WRITE_REFUSALS) });
}

/** Guest and KVM accesses of the hot gfns of every slot: KVM's go through the hva, the guest's through kvm_gmem_get_pfn. */
function accesses(l: typeof GMEM_SECRET): fc.Arbitrary<Op> {
  const gpa = fc.constantFrom(...l.slots).chain((s) => hotPage(s.size / PAGE_SIZE).map((p) => s.gpa + p * PAGE_SIZE));
  const kind = fc.constantFrom("read" as const, "read" as const, "write" as const, "exec" as const);
  const vcpu = fc.tuple(gpa, kind, byte).map(([g, k, b]): Op => ({ op: "vcpu_access", vm: "v0", vcpu: 0, gpa: g, kind: k, ...written(k, b) }));
  const kvm = fc
    .tuple(gpa, kind, byte, fc.boolean())
    .map(([g, k, b, emulate]): Op => ({ op: "kvm_access", vm: "v0", vcpu: 1, gpa: g, kind: k, ...written(k, b), ...(emulate ? { emulate } : {}) }));
  return fc.oneof(vcpu, kvm);
}

/** Allocation (a folio not yet uptodate, which write() may fill) and hole punches (folios back in the direct map). */
function fallocates(l: typeof GMEM_SECRET): fc.Arbitrary<Op> {
  return fc
    .record({ g: fc.constantFrom(...l.gmems), punch: fc.boolean(), pages: fc.constantFrom(1, 2) })
    .chain((r) => hotPage(r.g.size / PAGE_SIZE - 1).map((page) => ({ ...r, page })))
    .map((r): Op => {
      const mode: ("PUNCH_HOLE" | "KEEP_SIZE")[] = r.punch ? ["PUNCH_HOLE", "KEEP_SIZE"] : ["KEEP_SIZE"];
      return { op: "gmem_fallocate", gmem: r.g.name, mode, offset: r.page * PAGE_SIZE, len: r.pages * PAGE_SIZE };
    });
}

/** A file made with any of the four flags (unsupported ones refused), then written and read by the ops above as g9. */
const creates: fc.Arbitrary<Op> = fc
  .tuple(fc.subarray(["MMAP", "INIT_SHARED", "NO_DIRECT_MAP", "WRITE"] as const), fc.constantFrom(0, 16))
  .map(([flags, raw]): Op => ({ op: "create_gmem", vm: "v0", gmem: "g9", size: PAGE_SIZE, flags: raw === 0 ? [...flags] : [...flags, raw] }));

export function secretOpArbitrary(l: typeof GMEM_SECRET, config: Config): fc.Arbitrary<Op> {
  return fc.oneof(
    { weight: 10, arbitrary: writes(l) },
    { weight: 12, arbitrary: accesses(l) },
    { weight: 4, arbitrary: fallocates(l) },
    { weight: 1, arbitrary: creates },
    { weight: 1, arbitrary: fc.constant<Op>({ op: "check_extension", vm: "v0", cap: "GUEST_MEMFD_FLAGS" }) },
    // Host accesses, aliases, pins (EFAULT on a NO_DIRECT_MAP mapping), slot churn, munmap and close.
    { weight: 8, arbitrary: gmemOpArbitrary(l, config) },
  );
}

export const GMEM_SECRET_SUITE: SequentialSuite = (() => {
  const s: SequentialSuite = {
    name: "gmem-secret",
    description: "secret hiding: guest_memfd out of the direct map, write(), the prepared state, KVM's accesses through the hva",
    kind: "sequential",
    area: "gmem",
    config: SECRET_CONFIG,
    layout: GMEM_SECRET,
    setup: setupOf(GMEM_SECRET, GMEM_SECRET.vmType),
    runs: 150,
    maxCommands: 40,
    arbitrary: (_l, c) => secretOpArbitrary(GMEM_SECRET, c),
    run: (opts) => runSequentialSuite(s, opts),
  };
  return s;
})();

const hot = fc.constantFrom(0, 1);

/**
 * The VMM fills pages with write() while a vCPU faults them through kvm_gmem_get_pfn and KVM reads them through the hva
 * (the host fault path): every order either writes first (the guest reads the bytes) or faults first (EEXIST).
 */
export const SECRET_RACE: ConcurrentSuite = (() => {
  const name = "race-gmem-secret";
  const write = fc.tuple(hot, byte).map(([p, b]): Op => ({ op: "gmem_write", gmem: "g0", offset: p * PAGE_SIZE, len: PAGE_SIZE, byte: b }));
  const guest = fc
    .tuple(hot, fc.boolean(), byte)
    .map(([p, w, b]): Op => ({ op: "vcpu_access", vm: "v0", vcpu: 0, gpa: p * PAGE_SIZE, kind: w ? "write" : "read", ...(w ? { byte: b } : {}) }));
  const kvm = hot.map((p): Op => ({ op: "kvm_access", vm: "v0", vcpu: 1, gpa: p * PAGE_SIZE, kind: "read" }));
  const s: ConcurrentSuite = {
    name,
    description: "write() of g0's hot pages against a vCPU's faults (kvm_gmem_get_pfn) and KVM's own reads through the hva, out of the direct map",
    kind: "concurrent",
    area: "gmem",
    config: SECRET_CONFIG,
    // The first page allocated but not yet uptodate, so write() and the faults meet on a folio both may prepare.
    setup: [...setupOf(GMEM_SECRET, GMEM_SECRET.vmType), { op: "gmem_fallocate", gmem: "g0", mode: ["KEEP_SIZE"], offset: 0, len: PAGE_SIZE }],
    actors: threads([thread("VMM", write), thread("vCPU0", guest)], [thread("KVM", kvm, 1)]),
    runs: 150,
    steps: pctSteps(name),
    depth: 3,
    run: (opts) => runConcurrentSuite(s, opts),
  };
  return s;
})();
