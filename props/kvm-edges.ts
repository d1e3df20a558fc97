// KVM's huge-page choice and memslot updates at their edges, in the states the layout suites reach only by luck
// (issue 23, item 6: what the property-only mutation score found unreached): private guest_memfd memory on 2 MiB
// folios behind slots that are aligned, offset from their file by a few pages, or a page short of a huge page, with
// conversions that leave a huge range mixed; and updates of an existing slot that change one thing each (its
// address, its size, READONLY, dirty logging, the padding).
import fc from "fast-check";
import { PAGE_SIZE, SIZE_2M } from "../model/consts.js";
import { PRESETS, type Config } from "../schema/config.js";
import type { Op } from "../schema/ops.js";
import { opSuite, type OpSuite } from "./uffd/run.js";

const P = PAGE_SIZE;
const M = SIZE_2M;
const byte = fc.integer({ min: 1, max: 255 });
const pick = <T>(...xs: readonly T[]): fc.Arbitrary<T> => fc.constantFrom(...xs);

/**
 * The guest_memfd slots: aligned with the file (0), two pages off it (1), a whole folio off it (2, gfn and index
 * congruent), a page short of a folio (4); slot 3 is anonymous memory at 32 MiB.
 */
interface GmemSlot {
  readonly slot: number;
  readonly gpa: number;
  readonly size: number;
  readonly offset: number;
}

const SLOTS: readonly GmemSlot[] = [
  { slot: 0, gpa: 0, size: M, offset: 0 },
  { slot: 1, gpa: 2 * M + 2 * P, size: M, offset: M },
  { slot: 2, gpa: 6 * M, size: M, offset: 2 * M },
  { slot: 4, gpa: 10 * M, size: M - P, offset: 3 * M },
];
const ANON_GPA = 16 * M;

const gmemSlot = (s: GmemSlot, flags: readonly ("GUEST_MEMFD" | "LOG_DIRTY_PAGES")[] = ["GUEST_MEMFD"]): Op => ({
  op: "set_memory_region",
  vm: "v0",
  slot: s.slot,
  flags: [...flags],
  guest_phys_addr: s.gpa,
  memory_size: s.size,
  userspace: null,
  guest_memfd: "g0",
  guest_memfd_offset: s.offset,
});

const SETUP: readonly Op[] = [
  { op: "create_vm", vm: "v0", type: 1 },
  { op: "mmap", map: "m0", file: "anon", offset: 0, length: 16 * P },
  { op: "create_gmem", vm: "v0", gmem: "g0", size: 4 * M, flags: ["MMAP"] },
  ...SLOTS.map((s) => gmemSlot(s)),
  { op: "set_memory_region", vm: "v0", slot: 3, flags: [], guest_phys_addr: ANON_GPA, memory_size: 4 * P, userspace: "m0" },
];

function ops(): fc.Arbitrary<Op> {
  // The first and last page of each slot, and a page inside.
  const gpa = pick(...SLOTS.flatMap((s) => [s.gpa, s.gpa + P, s.gpa + s.size - P]), ANON_GPA, ANON_GPA + 3 * P);
  const vcpu = fc.tuple(gpa, fc.boolean(), fc.boolean(), byte, pick(0, 1)).map(([g, w, priv, b, cpu]): Op => ({
    op: "vcpu_access",
    vm: "v0",
    vcpu: cpu,
    gpa: g,
    kind: w ? "write" : "read",
    private: priv,
    ...(w ? { byte: b } : {}),
  }));
  const convert = fc
    .tuple(pick(0, P, M - P, M, M + P, 2 * M, 3 * M), pick(P, M - P, M, 2 * M), pick<"private" | "shared">("private", "private", "shared"))
    .map(([o, l, to]): Op => ({ op: "gmem_convert", gmem: "g0", offset: o, size: l, to }));
  const punch = fc
    .tuple(pick(0, M, 2 * M, 3 * M), pick(P, M))
    .map(([o, l]): Op => ({ op: "gmem_fallocate", gmem: "g0", mode: ["PUNCH_HOLE", "KEEP_SIZE"], offset: o, len: l }));
  // A gmem slot deleted, re-created, or re-created with dirty logging (which forces 4 KiB mappings).
  const gmemUpdate = fc
    .tuple(pick(...SLOTS), pick<"delete" | "create" | "log">("delete", "create", "log"))
    .map(([s, how]): Op =>
      how === "delete"
        ? { op: "set_memory_region", vm: "v0", slot: s.slot, flags: [], guest_phys_addr: s.gpa, memory_size: 0, userspace: null }
        : gmemSlot(s, how === "log" ? ["GUEST_MEMFD", "LOG_DIRTY_PAGES"] : ["GUEST_MEMFD"]),
    );
  // The anonymous slot updated in one respect at a time.
  const anonUpdate = fc
    .tuple(
      pick<readonly ("LOG_DIRTY_PAGES" | "READONLY")[]>([], [], ["LOG_DIRTY_PAGES"], ["READONLY"], ["LOG_DIRTY_PAGES", "READONLY"]),
      pick(4 * P, 4 * P, 8 * P, 0),
      pick(0, 0, P),
      pick<{ pad1?: number; pad2?: number[]; ioctl?: "REGION" | "REGION2" }>(
        {},
        {},
        { pad1: 1 },
        { pad2: [0, 1] },
        { pad2: [1] },
        { ioctl: "REGION" },
        { ioctl: "REGION2" },
      ),
    )
    .map(([flags, size, hva, more]): Op => ({
      op: "set_memory_region",
      vm: "v0",
      slot: 3,
      flags: [...flags],
      guest_phys_addr: ANON_GPA,
      memory_size: size,
      userspace: "m0",
      userspace_offset: hva,
      ...more,
    }));
  const host = fc
    .tuple(pick(0, 3), fc.boolean(), byte)
    .map(([p, w, b]): Op => ({ op: "access", map: "m0", offset: p * P, kind: w ? "write" : "read", ...(w ? { byte: b } : {}) }));
  const zap = pick<Op>({ op: "madvise", map: "m0", offset: 0, len: 4 * P, advice: "DONTNEED" });
  return fc.oneof(
    { weight: 12, arbitrary: vcpu },
    { weight: 6, arbitrary: convert },
    { weight: 2, arbitrary: punch },
    { weight: 3, arbitrary: gmemUpdate },
    { weight: 4, arbitrary: anonUpdate },
    { weight: 2, arbitrary: host },
    { weight: 1, arbitrary: zap },
  );
}

const CONFIG: Config = { ...PRESETS["gmem-v8"], gmemFolio: "2M" };

export const KVM_EDGE_SUITES: readonly OpSuite[] = [
  opSuite(
    "kvm-edges",
    "private guest_memfd memory on 2 MiB folios behind slots aligned, offset by two pages, offset by a folio and a page short of " +
      "one, with conversions that mix a huge range; an anonymous slot updated in one respect at a time",
    "kvm",
    CONFIG,
    SETUP,
    ops(),
    160,
  ),
];
