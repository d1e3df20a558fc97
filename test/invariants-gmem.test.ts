// Invariant strength for model/gmem/invariants.ts: each clause fails on a state built by real ops and then broken
// by one edit, holds on the near miss at its edge, and reports nonVacuous only when it was exercised for real.
import { describe, expect, it } from "vitest";
import { GMEM_STATE_INVARIANTS, GMEM_STEP_INVARIANTS } from "../model/gmem/invariants.js";
import type { GmemInode } from "../model/gmem/types.js";
import { step, type State } from "../model/index.js";
import type { Spte } from "../model/kvm/types.js";
import { assign, type RangeMap } from "../model/ranges.js";
import { PRESETS, type Config } from "../schema/config.js";
import type { Op } from "../schema/ops.js";
import type { Outcome } from "../schema/outcome.js";
import { build, stepFrom } from "./helpers/invariants.js";

const P = 4096;
const M = 1024 * 1024;
const V7: Config = PRESETS["gmem-v7"];
const V7_2M: Config = { ...V7, gmemFolio: "2M" };
const RFC: Config = { ...PRESETS.default, gmemDesign: "rfc-2024" };
const OK: Outcome = { result: "ok" };

const stateInv = (name: string) => GMEM_STATE_INVARIANTS.find((i) => i.name === name)!;
const stepInv = (name: string) => GMEM_STEP_INVARIANTS.find((i) => i.name === name)!;

const withInode = (s: State, id: number, patch: Partial<GmemInode>): State => ({
  ...s,
  gmem: { ...s.gmem, inodes: s.gmem.inodes.map((g, i) => (i === id ? { ...g, ...patch } : g)) },
});
const withStage2 = (s: State, as: number, s2: RangeMap<Spte>): State => ({
  ...s,
  kvm: { ...s.kvm, vms: s.kvm.vms.map((vm, i) => (i === 0 ? { ...vm, stage2: vm.stage2.map((m, a) => (a === as ? s2 : m)) } : vm)) },
});
const inode = (s: State, id: number): GmemInode => s.gmem.inodes[id]!;

const vm: Op = { op: "create_vm", vm: "v0", type: 1 };
const gmem = (name: string, size: number, flags: ("MMAP" | "INIT_SHARED")[] = ["MMAP"]): Op => ({ op: "create_gmem", vm: "v0", gmem: name, size, flags });
const slot = (n: number, gfn: number, size: number, g: string, offset = 0): Op => ({
  op: "set_memory_region", vm: "v0", slot: n, flags: ["GUEST_MEMFD"], guest_phys_addr: gfn * P, memory_size: size, userspace: null, guest_memfd: g, guest_memfd_offset: offset,
});
const convert = (offset: number, size: number, to: "private" | "shared"): Op => ({ op: "gmem_convert", gmem: "g0", offset, size, to });
const attrs = (gfn: number): Op => ({ op: "set_memory_attributes", vm: "v0", address: gfn * P, size: P, attributes: ["PRIVATE"] });
const punch = (offset: number, len: number, mode: ("PUNCH_HOLE" | "KEEP_SIZE")[] = ["PUNCH_HOLE", "KEEP_SIZE"]): Op => ({ op: "gmem_fallocate", gmem: "g0", mode, offset, len });
const vcpu = (gfn: number, kind: "read" | "write" = "read"): Op => ({ op: "vcpu_access", vm: "v0", vcpu: 0, gpa: gfn * P, kind, byte: 9 });

// v7, 4 KiB folios. g0 (#0): pages 2-3 shared and host-mapped through m1 (which starts at page 2), page 2 written,
// page 3 pinned, page 5 written by the guest (private, a stage-2 leaf). g1 (#1): INIT_SHARED, never touched.
const BEFORE_HOST = [vm, gmem("g0", 2 * M), gmem("g1", 16 * P, ["MMAP", "INIT_SHARED"]), slot(0, 0, 2 * M, "g0"),
  { op: "gmem_mmap", gmem: "g0", map: "m1", offset: 2 * P, length: 8 * P }, convert(2 * P, 2 * P, "shared")] satisfies Op[];
const BEFORE_PIN = [...BEFORE_HOST, { op: "access", map: "m1", offset: 0, kind: "write", byte: 3 }] satisfies Op[];
const BEFORE_GUEST = [...BEFORE_PIN, { op: "pin", map: "m1", offset: P }] satisfies Op[];
const BASE = () => build(V7, [...BEFORE_GUEST, vcpu(5, "write")]);

// v7, 2 MiB folios over 4 MiB: folio 0 split (page 511 shared, host-mapped), folio 1 unsplit, private, mapped at 2 MiB.
const HUGE_OPS = [vm, gmem("g0", 4 * M), slot(0, 0, 4 * M, "g0"), { op: "gmem_mmap", gmem: "g0", map: "m1", offset: 0, length: 4 * M },
  convert(511 * P, P, "shared"), { op: "access", map: "m1", offset: 511 * P, kind: "write", byte: 3 }, vcpu(0)] satisfies Op[];
const HUGE = () => build(V7_2M, [...HUGE_OPS, vcpu(512)]);

// The 2024 RFC: g0's page 0 bound at gfn 2048, pages 1-512 at gfn 512 (pgoff 1). Pages 0, 1 and 3 (gfn 514) are
// pinned, page 4 (gfn 515) holds data.
const RFC_STATE = () => build(RFC, [vm, gmem("g0", 4 * M), slot(0, 512, 2 * M, "g0", P), slot(1, 2048, P, "g0"),
  { op: "gmem_mmap", gmem: "g0", map: "m1", offset: 0, length: 4 * M },
  { op: "pin", map: "m1", offset: 0 }, { op: "pin", map: "m1", offset: P }, { op: "pin", map: "m1", offset: 3 * P },
  { op: "access", map: "m1", offset: 4 * P, kind: "write", byte: 7 }]);

describe("gmem-private-not-host-mapped", () => {
  const inv = stateInv("gmem-private-not-host-mapped");

  it("holds and is exercised when host PTEs end exactly where the private range starts", () => {
    expect(inode(BASE(), 0).shared).toEqual([{ start: 2, end: 4, value: true }]);
    expect(inv.check(BASE())).toEqual({ holds: true, nonVacuous: true });
  });

  it("breaks on a host PTE over a private page, naming the map, inode and file range", () => {
    const s = withInode(BASE(), 0, { shared: [{ start: 2, end: 3, value: true }] });
    expect(inv.check(s)).toEqual({ holds: false, nonVacuous: true, detail: "m1 maps private page(s) of guest_memfd #0 in [2, 4)" });
  });

  it("is not exercised without host PTEs", () => {
    expect(inv.check(build(V7, BEFORE_HOST))).toEqual({ holds: true, nonVacuous: false });
  });

  it("is not exercised when every guest_memfd page is shared", () => {
    const s = build(V7, [vm, gmem("g1", 16 * P, ["MMAP", "INIT_SHARED"]), { op: "gmem_mmap", gmem: "g1", map: "m2", offset: 0, length: 16 * P }, { op: "access", map: "m2", offset: 15 * P, kind: "read" }]);
    expect(inv.check(s)).toEqual({ holds: true, nonVacuous: false });
  });
});

describe("gmem-pinned-shared", () => {
  const inv = stateInv("gmem-pinned-shared");

  it("holds and is exercised when the pinned page is shared and the page before it private", () => {
    const s = step(BASE(), convert(2 * P, P, "private")).state;
    expect(inode(s, 0).shared).toEqual([{ start: 3, end: 4, value: true }]);
    expect(inv.check(s)).toEqual({ holds: true, nonVacuous: true });
  });

  it("breaks on a pinned private page, naming the page and inode", () => {
    const s = withInode(BASE(), 0, { shared: [{ start: 2, end: 3, value: true }] });
    expect(inv.check(s)).toEqual({ holds: false, nonVacuous: true, detail: "guest_memfd #0 page 3 is pinned but private" });
  });

  it("is not exercised without pins", () => {
    expect(inv.check(build(V7, BEFORE_GUEST.slice(0, -1)))).toEqual({ holds: true, nonVacuous: false });
  });
});

describe("gmem-convert-pins", () => {
  const inv = stepInv("gmem-convert-pins");
  const check = (a: ReturnType<typeof stepFrom>) => inv.check(a.pre, a.op, a.outcome, a.post);
  const pinned = () => stepFrom(BASE(), convert(2 * P, 2 * P, "private"));

  it("a refused conversion over a pinned page holds and is exercised", () => {
    expect(pinned().outcome).toEqual({ errno: "EAGAIN", error_offset: 3 * P });
    expect(check(pinned())).toEqual({ holds: true, nonVacuous: true });
  });

  it("breaks when a conversion to private succeeds with a page of its range pinned", () => {
    expect(check({ ...pinned(), outcome: OK })).toEqual({ holds: false, nonVacuous: true, detail: "gmem_convert succeeded with page 3 of guest_memfd #0 pinned" });
  });

  it("breaks when a failed conversion still makes a page private", () => {
    const post = withInode(pinned().post, 0, { shared: [{ start: 3, end: 4, value: true }] });
    expect(check({ ...pinned(), post })).toEqual({ holds: false, nonVacuous: true, detail: "gmem_convert failed but made page(s) of guest_memfd #0 private" });
  });

  it("a conversion ending right before a pinned page succeeds, not exercised", () => {
    const a = stepFrom(BASE(), convert(2 * P, P, "private"));
    expect(a.outcome).toEqual(OK);
    expect(check(a)).toEqual({ holds: true, nonVacuous: false });
  });

  it("a conversion to shared over a pinned page is not its business", () => {
    const a = stepFrom(BASE(), convert(0, 4 * P, "shared"));
    expect(a.outcome).toEqual(OK);
    expect(check(a)).toEqual({ holds: true, nonVacuous: false });
  });

  it("2024 RFC: a refused KVM_SET_MEMORY_ATTRIBUTES over a pinned page holds and is exercised", () => {
    const a = stepFrom(RFC_STATE(), attrs(512));
    expect(a.outcome).toEqual({ errno: "EINVAL" });
    expect(check(a)).toEqual({ holds: true, nonVacuous: true });
  });

  it("2024 RFC: breaks when it succeeds, naming the file page behind the slot's offset", () => {
    const a = stepFrom(RFC_STATE(), attrs(512));
    expect(check({ ...a, outcome: OK })).toEqual({ holds: false, nonVacuous: true, detail: "set_memory_attributes succeeded with page 1 of guest_memfd #0 pinned" });
  });

  it("2024 RFC: a conversion between two pinned pages succeeds, not exercised", () => {
    const a = stepFrom(RFC_STATE(), attrs(513));
    expect(a.outcome).toEqual(OK);
    expect(check(a)).toEqual({ holds: true, nonVacuous: false });
  });

  it("2024 RFC: a conversion ending exactly where a slot starts does not reach that slot's pins", () => {
    const a = stepFrom(RFC_STATE(), attrs(511));
    expect(a.outcome).toEqual(OK);
    expect(check(a)).toEqual({ holds: true, nonVacuous: false });
  });
});

describe("gmem-host-map-split", () => {
  const inv = stateInv("gmem-host-map-split");

  it("holds and is exercised when the host maps the last page of a split folio, right before an unsplit one", () => {
    expect(inode(HUGE(), 0).split).toEqual([{ start: 0, end: 512, value: true }]);
    expect(inv.check(HUGE())).toEqual({ holds: true, nonVacuous: true });
  });

  it("breaks when the folio under a host PTE is not split, naming the page", () => {
    expect(inv.check(withInode(HUGE(), 0, { split: [] }))).toEqual({
      holds: false, nonVacuous: true, detail: "host page table maps page 511 of an unsplit huge folio of guest_memfd #0",
    });
  });

  it("is not exercised with 4 KiB folios", () => {
    expect(inv.check(BASE())).toEqual({ holds: true, nonVacuous: false });
  });
});

describe("gmem-huge-stage2", () => {
  const inv = stateInv("gmem-huge-stage2");
  const g0 = { in: "gmem", inode: 0, delta: 0 } as const;
  const leaf = (level: 1 | 2): RangeMap<Spte> => [
    { start: 0, end: 1, value: { level: 0, writable: true, private: true, page: g0 } },
    { start: 512, end: 1024, value: { level, writable: true, private: true, page: g0 } },
  ];

  it("holds and is exercised for a 2 MiB leaf over exactly one unsplit private folio, a shared page just before it", () => {
    expect(HUGE().kvm.vms[0]!.stage2[0]).toEqual(leaf(1));
    expect(inv.check(HUGE())).toEqual({ holds: true, nonVacuous: true });
  });

  it("is not exercised by 4 KiB leaves", () => {
    expect(inv.check(build(V7_2M, HUGE_OPS))).toEqual({ holds: true, nonVacuous: false });
  });

  it("breaks on a leaf running past its folio", () => {
    expect(inv.check(withStage2(HUGE(), 0, leaf(2)))).toEqual({
      holds: false, nonVacuous: true, detail: "vm #0 maps gfn 512 at level 2 over guest_memfd pages [512, 262656) that are not one unsplit private folio",
    });
  });

  it("breaks on a leaf over a split folio", () => {
    const s = withInode(HUGE(), 0, { split: assign(inode(HUGE(), 0).split, 512, 1024, true) });
    expect(inv.check(s)).toMatchObject({ holds: false, detail: expect.stringContaining("gfn 512 at level 1 over guest_memfd pages [512, 1024)") });
  });

  it("breaks on a leaf over a folio that is no longer in the file", () => {
    const s = withInode(HUGE(), 0, { present: assign(inode(HUGE(), 0).present, 512, 1024, undefined) });
    expect(inv.check(s)).toMatchObject({ holds: false, detail: expect.stringContaining("gfn 512 at level 1") });
  });

  it("breaks on a leaf over a folio whose last page is shared", () => {
    const s = withInode(HUGE(), 0, { shared: assign(inode(HUGE(), 0).shared, 1023, 1024, true) });
    expect(inv.check(s)).toMatchObject({ holds: false, detail: expect.stringContaining("gfn 512 at level 1") });
  });
});

describe("gmem-stage2-backed", () => {
  const inv = stateInv("gmem-stage2-backed");

  it("holds and is exercised when the leaf's page is in the file", () => {
    expect(inv.check(BASE())).toEqual({ holds: true, nonVacuous: true });
  });

  it("is not exercised without stage-2 leaves", () => {
    expect(inv.check(build(V7, BEFORE_GUEST))).toEqual({ holds: true, nonVacuous: false });
  });

  it("breaks on a leaf over a punched page, naming the gfn and file range", () => {
    const s = withInode(BASE(), 0, { present: assign(inode(BASE(), 0).present, 5, 6, undefined) });
    expect(inv.check(s)).toEqual({ holds: false, nonVacuous: true, detail: "vm #0 maps gfn 5 to guest_memfd pages [5, 6) that are not in the file" });
  });

  it("checks a shared leaf of a GMEM_ONLY slot too", () => {
    const s = build(V7, [vm, gmem("g0", 2 * M, ["MMAP", "INIT_SHARED"]), slot(0, 0, 2 * M, "g0"), vcpu(0)]);
    expect(s.kvm.vms[0]!.stage2[0]![0]!.value.private).toBe(false);
    expect(inv.check(s)).toEqual({ holds: true, nonVacuous: true });
    expect(inv.check(withInode(s, 0, { present: [] })).holds).toBe(false);
  });

  it("checks each leaf against the file of the slot holding its gfn", () => {
    // Slot 0 sits above slot 1: the first slot of the address space is the wrong one for gfn 5.
    const s = build(V7, [vm, gmem("g0", 2 * M), gmem("g1", 2 * M), slot(0, 512, 2 * M, "g0"), slot(1, 0, 2 * M, "g1"), vcpu(5), vcpu(512)]);
    expect(inv.check(s)).toEqual({ holds: true, nonVacuous: true });
  });

  it("on arm64 checks the leaf of a guest_memfd slot without MMAP too (gmem_abort maps every such fault from the file)", () => {
    const s = build(PRESETS.arm64, [{ ...vm, type: 0 }, gmem("g0", 2 * M, []), slot(0, 0, 2 * M, "g0"), vcpu(0)]);
    expect(s.kvm.vms[0]!.stage2[0]![0]!.value.private).toBe(false);
    expect(inv.check(s)).toEqual({ holds: true, nonVacuous: true });
    expect(inv.check(withInode(s, 0, { present: [] })).holds).toBe(false);
  });

  it("checks a leaf of address space 1 against that space's slot", () => {
    // A default VM: one with private memory has no SMM address space (kvm_arch_nr_memslot_as_ids is 1).
    const s = build(V7, [{ ...vm, type: 0 }, gmem("g0", 2 * M), gmem("g1", 2 * M), slot(0, 0, 2 * M, "g0"), slot(1 << 16, 0, 2 * M, "g1"),
      { op: "gmem_fallocate", gmem: "g1", mode: ["KEEP_SIZE"], offset: 5 * P, len: P }]);
    // The model's vCPUs fault only in address space 0: the SMM leaf over g1's allocated page 5 is put in by hand.
    const smm = withStage2(s, 1, [{ start: 5, end: 6, value: { level: 0, writable: true, private: false, page: { in: "gmem", inode: 1, delta: 0 } } }]);
    expect(inv.check(smm)).toEqual({ holds: true, nonVacuous: true });
  });
});

describe("gmem-contents", () => {
  const inv = stepInv("gmem-contents");
  const check = (a: ReturnType<typeof stepFrom>) => inv.check(a.pre, a.op, a.outcome, a.post);

  it("a conversion keeping contents holds and is exercised (g1 holds none)", () => {
    const a = stepFrom(BASE(), convert(5 * P, P, "shared"));
    expect(a.outcome).toEqual(OK);
    expect(check(a)).toEqual({ holds: true, nonVacuous: true });
  });

  it("breaks when a conversion changes a page's contents, naming the inode", () => {
    const a = stepFrom(BASE(), convert(5 * P, P, "shared"));
    const post = withInode(a.post, 0, { data: new Map([...inode(a.post, 0).data].filter(([i]) => i !== 5)) });
    expect(check({ ...a, post })).toEqual({ holds: false, nonVacuous: true, detail: "gmem_convert changed the contents of guest_memfd #0" });
  });

  it("a failed conversion is not exercised", () => {
    const a = stepFrom(BASE(), convert(2 * P, 2 * P, "private"));
    expect(a.outcome).toMatchObject({ errno: "EAGAIN" });
    expect(check(a)).toEqual({ holds: true, nonVacuous: false });
  });

  it("a conversion of files holding no contents is not exercised", () => {
    const a = stepFrom(build(V7, [vm, gmem("g0", 2 * M)]), convert(0, P, "shared"));
    expect(a.outcome).toEqual(OK);
    expect(check(a)).toEqual({ holds: true, nonVacuous: false });
  });

  it("2024 RFC: KVM_SET_MEMORY_ATTRIBUTES is a conversion and must keep contents", () => {
    const a = stepFrom(RFC_STATE(), attrs(513));
    expect(check(a)).toEqual({ holds: true, nonVacuous: true });
    const post = withInode(a.post, 0, { data: new Map() });
    expect(check({ ...a, post })).toEqual({ holds: false, nonVacuous: true, detail: "set_memory_attributes changed the contents of guest_memfd #0" });
  });

  it("a PUNCH_HOLE freeing a present page holds and is exercised", () => {
    const a = stepFrom(BASE(), punch(5 * P, P));
    expect(a.outcome).toEqual(OK);
    expect(check(a)).toEqual({ holds: true, nonVacuous: true });
  });

  it("a PUNCH_HOLE between two written pages leaves them, holds", () => {
    const a = stepFrom(BASE(), punch(3 * P, 2 * P));
    expect([...inode(a.post, 0).data.keys()].sort()).toEqual([2, 5]);
    expect(check(a)).toEqual({ holds: true, nonVacuous: true });
  });

  it("a PUNCH_HOLE over absent pages is not exercised", () => {
    expect(check(stepFrom(BASE(), punch(6 * P, 2 * P)))).toEqual({ holds: true, nonVacuous: false });
  });

  it("a failed PUNCH_HOLE (no KEEP_SIZE) is not checked", () => {
    const a = stepFrom(BASE(), punch(5 * P, P, ["PUNCH_HOLE"]));
    expect(a.outcome).toEqual({ errno: "EOPNOTSUPP" });
    expect(check(a)).toEqual({ holds: true, nonVacuous: false });
  });

  it("breaks when contents survive at the first page of the hole", () => {
    const a = stepFrom(BASE(), punch(5 * P, P));
    const post = withInode(a.post, 0, { data: inode(BASE(), 0).data });
    expect(check({ ...a, post })).toEqual({ holds: false, nonVacuous: true, detail: "page 5 of guest_memfd #0 survived PUNCH_HOLE" });
  });

  it("breaks when PUNCH_HOLE drops contents outside the hole, in its file or another", () => {
    const a = stepFrom(BASE(), punch(5 * P, P));
    const dropped = new Map([...inode(a.post, 0).data].filter(([k]) => k !== 2));
    expect(check({ ...a, post: withInode(a.post, 0, { data: dropped }) })).toEqual({ holds: false, nonVacuous: true, detail: "PUNCH_HOLE changed contents of guest_memfd #0 outside [5, 6)" });
    const other = withInode(a.post, 1, { data: inode(a.post, 0).data });
    expect(check({ ...a, post: other })).toEqual({ holds: false, nonVacuous: true, detail: "PUNCH_HOLE changed contents of guest_memfd #1 outside [5, 6)" });
  });

  it("breaks when PUNCH_HOLE drops another file's page at an index inside the hole", () => {
    const a = stepFrom(BASE(), punch(5 * P, P));
    const other = withInode(a.post, 1, { data: new Map([[5, inode(BASE(), 0).data.get(5)!]]) });
    expect(check({ ...a, post: other })).toEqual({ holds: false, nonVacuous: true, detail: "PUNCH_HOLE changed contents of guest_memfd #1 outside [5, 6)" });
  });

  it("breaks when PUNCH_HOLE drops the page right after the hole", () => {
    const a = stepFrom(BASE(), punch(4 * P, P));
    const dropped = new Map([...inode(a.post, 0).data].filter(([k]) => k !== 5));
    expect(check({ ...a, post: withInode(a.post, 0, { data: dropped }) })).toEqual({ holds: false, nonVacuous: true, detail: "PUNCH_HOLE changed contents of guest_memfd #0 outside [4, 5)" });
  });

  it("breaks when a page stays present in the hole", () => {
    const a = stepFrom(BASE(), punch(5 * P, P));
    const post = withInode(a.post, 0, { present: inode(BASE(), 0).present });
    expect(check({ ...a, post })).toEqual({ holds: false, nonVacuous: true, detail: "page 5 of guest_memfd #0 survived PUNCH_HOLE" });
  });
});
