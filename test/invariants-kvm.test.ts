// Invariant strength for model/invariants.ts (the KVM and host-memory invariants, and accessTarget through them):
// each clause fails on a state built by real ops and then broken by one edit, holds on the near miss at its edge,
// and reports nonVacuous only when it was exercised for real.
import { describe, expect, it } from "vitest";
import { step, type State } from "../model/index.js";
import { STATE_INVARIANTS, STEP_INVARIANTS } from "../model/invariants.js";
import type { Memslot, Spte, Vm } from "../model/kvm/types.js";
import type { MemFile, PagePointer } from "../model/mm/types.js";
import { assign, type RangeMap } from "../model/ranges.js";
import { PRESETS, type Config } from "../schema/config.js";
import type { Op, OpOf } from "../schema/ops.js";
import type { Outcome } from "../schema/outcome.js";
import { build, stepFrom, withFile, withMap } from "./helpers/invariants.js";

const P = 4096;
const M = 1024 * 1024;
const X86: Config = PRESETS.default;
const V7: Config = PRESETS["gmem-v7"];
const ARM: Config = PRESETS.arm64;
const OK: Outcome = { result: "ok" };

const stateInv = (name: string) => STATE_INVARIANTS.find((i) => i.name === name)!;
const stepInv = (name: string) => STEP_INVARIANTS.find((i) => i.name === name)!;
const checkStep = (name: string) => (a: ReturnType<typeof stepFrom>) => stepInv(name).check(a.pre, a.op, a.outcome, a.post);

const withVm = (s: State, id: number, patch: Partial<Vm>): State => ({
  ...s,
  kvm: { ...s.kvm, vms: s.kvm.vms.map((vm, i) => (i === id ? { ...vm, ...patch } : vm)) },
});
const withSlot = (s: State, vm: number, slot: number, patch: Partial<Memslot>): State =>
  withVm(s, vm, { slots: s.kvm.vms[vm]!.slots.map((sl) => (sl.slot === slot ? { ...sl, ...patch } : sl)) });
const withStage2 = (s: State, as: number, s2: RangeMap<Spte>): State => withVm(s, 0, { stage2: s.kvm.vms[0]!.stage2.map((m, a) => (a === as ? s2 : m)) });
const withGmemData = (s: State, id: number, data: MemFile["data"]): State => ({ ...s, gmem: { ...s.gmem, inodes: s.gmem.inodes.map((g, i) => (i === id ? { ...g, data } : g)) } });
/** What a leaf points at: m1's private page at its gfn, hugetlbfs f0 from gfn 512, guest_memfd 0 from gfn 0, the zero page. */
const M1: PagePointer = { in: "anon", map: "m1", delta: 0 };
const F0_AT_512: PagePointer = { in: "file", file: 0, delta: -512 };
const G0: PagePointer = { in: "gmem", inode: 0, delta: 0 };
const leaf = (start: number, end: number, level: 0 | 1 = 0, priv = false, page: PagePointer = M1): RangeMap<Spte> => [{ start, end, value: { level, writable: true, private: priv, page } }];

const vm = (type = 0, name = "v0"): Op => ({ op: "create_vm", vm: name, type });
const anon = (map: string, length = 4 * M): Op => ({ op: "mmap", map, file: "anon", offset: 0, length });
const region = (slot: number, gfn: number, size: number, map: string, over: Partial<OpOf<"set_memory_region">> = {}): OpOf<"set_memory_region"> => ({
  op: "set_memory_region", vm: "v0", slot, flags: [], guest_phys_addr: gfn * P, memory_size: size, userspace: map, userspace_offset: 0, ...over,
});
const gmemRegion = (slot: number, gfn: number, size: number, map: string, offset = 0): OpOf<"set_memory_region"> =>
  region(slot, gfn, size, map, { flags: ["GUEST_MEMFD"], guest_memfd: "g0", guest_memfd_offset: offset });
const gmem = (size: number, flags: ("MMAP" | "INIT_SHARED")[] = [], name = "g0"): Op => ({ op: "create_gmem", vm: "v0", gmem: name, size, flags });
// Byte 5 of the page: an access that lands on the wrong offset reads 0.
const vcpu = (gfn: number, kind: "read" | "write" | "exec" = "read", extra: Partial<OpOf<"vcpu_access">> = {}): OpOf<"vcpu_access"> => ({
  op: "vcpu_access", vm: "v0", vcpu: 0, gpa: gfn * P + 5, kind, ...(kind === "write" ? { byte: 4 } : {}), ...extra,
});
const host = (map: string, page: number, kind: "read" | "write" = "read", byte = 6): OpOf<"access"> => ({ op: "access", map, offset: page * P + 5, kind, ...(kind === "write" ? { byte } : {}) });
const privatize = (gfn: number, attributes: "PRIVATE"[] = ["PRIVATE"]): Op => ({ op: "set_memory_attributes", vm: "v0", address: gfn * P, size: P, attributes });

// x86, default VM: slot 0 (USERFAULT, no bit set) is anonymous m1 at gfn [0, 512), slot 1 is hugetlbfs m0 at
// [512, 1024). Written through the guest: gfn 511 (a 4 KiB leaf, the last page of slot 0) and gfn 517 (a 2 MiB leaf
// filling slot 1).
const SLOT_OPS = [vm(), { op: "memfd", file: "f0", size: 4 * M, hugetlb: true }, { op: "mmap", map: "m0", file: "f0", offset: 0, length: 4 * M, shared: true },
  anon("m1"), region(0, 0, 2 * M, "m1", { flags: ["USERFAULT"] }), region(1, 512, 2 * M, "m0")] satisfies Op[];
const SLOTS = () => build(X86, [...SLOT_OPS, vcpu(517, "write"), vcpu(511, "write")]);

describe("memslots-disjoint", () => {
  const inv = stateInv("memslots-disjoint");
  // v1's slot 0 lies above its slot 1: each operand of the overlap test meets its edge in one of the two VMs.
  const TWO = () => build(X86, [...SLOT_OPS, vm(0, "v1"), { ...region(0, 512, 2 * M, "m1"), vm: "v1" }, { ...region(1, 0, 2 * M, "m1", { userspace_offset: 2 * M }), vm: "v1" }]);

  it("holds and is exercised for adjacent slots, in either order", () => {
    expect(inv.check(SLOTS())).toEqual({ holds: true, nonVacuous: true });
    expect(inv.check(TWO())).toEqual({ holds: true, nonVacuous: true });
  });

  it("breaks when a slot reaches one page into the one below it, naming the VM and both slots", () => {
    expect(inv.check(withSlot(SLOTS(), 0, 1, { baseGfn: 511 }))).toEqual({ holds: false, nonVacuous: true, detail: "v0: slots 0 and 1 overlap" });
  });

  it("breaks when a slot reaches one page into the one above it", () => {
    expect(inv.check(withSlot(TWO(), 1, 0, { baseGfn: 511 }))).toEqual({ holds: false, nonVacuous: true, detail: "v1: slots 0 and 1 overlap" });
  });

  it("names a VM whose fd name is gone by its index", () => {
    const s = withSlot(TWO(), 1, 0, { baseGfn: 511 });
    expect(inv.check({ ...s, kvm: { ...s.kvm, names: new Map([["v0", 0]]) } })).toMatchObject({ holds: false, detail: "vm#1: slots 0 and 1 overlap" });
  });

  it("a single slot is not a pair: not exercised", () => {
    expect(inv.check(build(X86, [vm(), anon("m1"), region(0, 0, 2 * M, "m1")]))).toEqual({ holds: true, nonVacuous: false });
  });

  it("slots of different address spaces may overlap: not exercised", () => {
    expect(inv.check(build(X86, [vm(), anon("m1"), region(0, 0, 2 * M, "m1"), region(1 << 16, 0, 2 * M, "m1")]))).toEqual({ holds: true, nonVacuous: false });
  });
});

describe("stage2-in-slot", () => {
  const inv = stateInv("stage2-in-slot");

  it("holds and is exercised for a 2 MiB leaf filling its slot and a 4 KiB leaf on the last page of the one below", () => {
    expect(SLOTS().kvm.vms[0]!.stage2[0]).toEqual([...leaf(511, 512), ...leaf(512, 1024, 1, false, F0_AT_512)]);
    expect(inv.check(SLOTS())).toEqual({ holds: true, nonVacuous: true });
  });

  it("is not exercised without leaves", () => {
    expect(inv.check(build(X86, SLOT_OPS))).toEqual({ holds: true, nonVacuous: false });
  });

  it("breaks when a huge leaf runs one page past its slot", () => {
    expect(inv.check(withSlot(SLOTS(), 0, 1, { npages: 511 }))).toEqual({ holds: false, nonVacuous: true, detail: "v0: as 0 gfn 512 (512 pages) is mapped outside any memslot" });
  });

  it("breaks on the first page of a 4 KiB span past the last slot", () => {
    expect(inv.check(withStage2(SLOTS(), 0, leaf(1023, 1025)))).toEqual({ holds: false, nonVacuous: true, detail: "v0: as 0 gfn 1024 (1 pages) is mapped outside any memslot" });
  });

  it("looks for the slot in the leaf's own address space", () => {
    expect(inv.check(withStage2(SLOTS(), 1, leaf(511, 512)))).toEqual({ holds: false, nonVacuous: true, detail: "v0: as 1 gfn 511 (1 pages) is mapped outside any memslot" });
  });

  // A software-protected VM: gfn 0 shared (through m1), gfn 1 PRIVATE (guest_memfd).
  const PRIV = () => build(X86, [vm(1), anon("m1"), gmem(2 * M), gmemRegion(0, 0, 2 * M, "m1"), privatize(1), vcpu(0, "write"), vcpu(1, "write")]);

  it("holds and is exercised on a VM with private memory when each leaf agrees with its attribute", () => {
    expect(PRIV().kvm.vms[0]!.stage2[0]).toEqual([...leaf(0, 1), ...leaf(1, 2, 0, true, G0)]);
    expect(inv.check(PRIV())).toEqual({ holds: true, nonVacuous: true });
  });

  it("breaks on a private leaf over a shared gfn", () => {
    expect(inv.check(withVm(PRIV(), 0, { attributes: [] }))).toEqual({ holds: false, nonVacuous: true, detail: "v0: gfn 1 is mapped private against its attributes" });
  });

  it("breaks on a shared leaf over a private gfn", () => {
    expect(inv.check(withVm(PRIV(), 0, { attributes: [{ start: 0, end: 2, value: true }] }))).toEqual({ holds: false, nonVacuous: true, detail: "v0: gfn 0 is mapped shared against its attributes" });
  });

  // v7 with 2 MiB folios: a private 2 MiB leaf at gfn 512; pages 511 and 1024 on either side of it are shared.
  const convert = (page: number, to: "private" | "shared"): Op => ({ op: "gmem_convert", gmem: "g0", offset: page * P, size: P, to });
  const HUGE = () => build({ ...V7, gmemFolio: "2M" }, [vm(1), gmem(6 * M, ["MMAP"]), gmemRegion(0, 0, 6 * M, "m1"), convert(511, "shared"), convert(1024, "shared"), vcpu(512)]);
  const sharedPage = (page: number): State => {
    const s = HUGE();
    return { ...s, gmem: { ...s.gmem, inodes: [{ ...s.gmem.inodes[0]!, shared: assign(s.gmem.inodes[0]!.shared, page, page + 1, true) }] } };
  };

  it("holds for a private 2 MiB leaf with shared pages right outside it", () => {
    expect(HUGE().kvm.vms[0]!.stage2[0]).toEqual(leaf(512, 1024, 1, true, G0));
    expect(inv.check(HUGE())).toEqual({ holds: true, nonVacuous: true });
  });

  it("breaks when the first or the last page under a private 2 MiB leaf is shared", () => {
    const broken = { holds: false, nonVacuous: true, detail: "v0: gfn 512 is mapped private against its attributes" };
    expect(inv.check(sharedPage(512))).toEqual(broken);
    expect(inv.check(sharedPage(1023))).toEqual(broken);
  });

  it("does not check attributes on a VM without private memory (arm64 maps a gmem-private page shared)", () => {
    const s = build(ARM, [vm(), anon("m1"), gmem(2 * M, ["MMAP"]), gmemRegion(0, 0, 2 * M, "m1"), vcpu(5)]);
    expect(s.gmem.inodes[0]!.shared).toEqual([]);
    expect(inv.check(s)).toEqual({ holds: true, nonVacuous: true });
  });
});

describe("userfault-4k", () => {
  const inv = stateInv("userfault-4k");

  it("holds and is exercised for a 4 KiB leaf on the USERFAULT slot's last page, a 2 MiB leaf of another slot right after", () => {
    expect(inv.check(SLOTS())).toEqual({ holds: true, nonVacuous: true });
  });

  it("breaks on a 2 MiB leaf in a USERFAULT slot, naming slot, gfn and level", () => {
    expect(inv.check(withSlot(SLOTS(), 0, 1, { flags: ["USERFAULT"] }))).toEqual({ holds: false, nonVacuous: true, detail: "v0: slot 1 has USERFAULT but maps gfn 512 at level 1" });
  });

  it("is not exercised by a USERFAULT slot without leaves", () => {
    expect(inv.check(build(X86, SLOT_OPS))).toEqual({ holds: true, nonVacuous: false });
  });

  it("is not exercised when no slot has USERFAULT, whatever the leaves", () => {
    expect(inv.check(withSlot(SLOTS(), 0, 0, { flags: [] }))).toEqual({ holds: true, nonVacuous: false });
  });
});

// Host memory: f0's page 2 holds 7 at byte 5 and m0 maps f0 from page 2 (shared); m1 is anonymous, page 1 holds 6.
const HOST_OPS = [{ op: "memfd", file: "f0", size: 8 * P }, { op: "pwrite", file: "f0", offset: 2 * P + 5, byte: 7, len: 1 },
  { op: "mmap", map: "m0", file: "f0", offset: 2 * P, length: 4 * P, shared: true }, anon("m1", 4 * P), host("m1", 1, "write")] satisfies Op[];
const HOST = () => build(X86, HOST_OPS);
const after = (s: State, op: Op): State => step(s, op).state;

// A gfn, read and written by the guest, in each way accessTarget resolves one (byte 4 at byte 5 of the page).
const GUEST = {
  // A default VM's plain slot over anonymous memory, and a hugetlbfs slot.
  hva: { config: X86, ops: [...SLOT_OPS, vcpu(511, "write")], gfn: 511 },
  hugetlbfs: { config: X86, ops: [...SLOT_OPS, vcpu(517, "write")], gfn: 517 },
  // GMEM_ONLY (v7, INIT_SHARED) bound at gfn 512 from file page 2: gfn 515 is file page 5.
  gmemOnly: { config: V7, ops: [vm(), anon("m1"), gmem(4 * M, ["MMAP", "INIT_SHARED"]), gmemRegion(0, 512, 2 * M, "m1", 2 * P), vcpu(515, "write")], gfn: 515 },
  // A PRIVATE gfn of a software-protected VM, and a shared one of the same guest_memfd slot (through m1).
  private: { config: X86, ops: [vm(1), anon("m1"), gmem(2 * M), gmemRegion(0, 0, 2 * M, "m1"), privatize(1), vcpu(1, "write")], gfn: 1 },
  sharedBesidePrivate: { config: X86, ops: [vm(1), anon("m1"), gmem(2 * M), gmemRegion(0, 0, 2 * M, "m1"), privatize(1), vcpu(0, "write")], gfn: 0 },
  // arm64 faults every gfn of a guest_memfd slot from guest_memfd, and the others from the host. The read faults
  // again after a zap (late USERFAULT, no bit set): a stage-2 hit there crashes the model (see the report).
  arm64Gmem: { config: ARM, ops: [vm(), anon("m1"), gmem(2 * M), gmemRegion(0, 0, 2 * M, "m1"), vcpu(5, "write")], gfn: 5,
    zap: [{ ...gmemRegion(0, 0, 2 * M, "m1"), flags: ["GUEST_MEMFD", "USERFAULT"] }] },
  arm64Host: { config: ARM, ops: [vm(), anon("m1"), region(0, 0, 2 * M, "m1"), vcpu(5, "write")], gfn: 5 },
} satisfies Record<string, { config: Config; ops: Op[]; gfn: number; zap?: Op[] }>;

describe("reads-last-write", () => {
  const check = checkStep("reads-last-write");

  it("a host read through a fresh mapping of a file holds and is exercised (no PTE: the file page behind it)", () => {
    const a = stepFrom(HOST(), host("m0", 0));
    expect(a.outcome).toEqual({ result: "ok", value: 7 });
    expect(check(a)).toEqual({ holds: true, nonVacuous: true });
    expect(check(stepFrom(a.post, host("m0", 0)))).toEqual({ holds: true, nonVacuous: true });
  });

  it("a host read of a written anonymous page holds; of an untouched one it holds but is not exercised", () => {
    expect(check(stepFrom(HOST(), host("m1", 1)))).toEqual({ holds: true, nonVacuous: true });
    expect(check(stepFrom(HOST(), host("m1", 2)))).toEqual({ holds: true, nonVacuous: false });
  });

  it("a zero-page PTE (UFFDIO_ZEROPAGE into a private file mapping) reads 0 although the file page holds 7", () => {
    const s = build(X86, [...HOST_OPS, { op: "mmap", map: "m2", file: "f0", offset: 2 * P, length: 4 * P, shared: false }, { op: "uffd_open", uffd: "u0", features: [] },
      { op: "uffd_register", uffd: "u0", map: "m2", offset: 0, len: 4 * P, mode: ["MISSING"] }, { op: "uffdio_zeropage", uffd: "u0", map: "m2", offset: 0, len: P }]);
    const a = stepFrom(s, host("m2", 0));
    expect(a.outcome).toEqual({ result: "ok", value: 0 });
    expect(check(a)).toEqual({ holds: true, nonVacuous: false });
  });

  it("a private (COW) page backs its address even without a PTE (one edit drops the PTE)", () => {
    const s = build(X86, [...HOST_OPS, { op: "mmap", map: "m2", file: "f0", offset: 2 * P, length: 4 * P, shared: false }, host("m2", 1, "write", 8)]);
    const pre = withMap(s, "m2", { ptes: [] });
    expect(stepInv("reads-last-write").check(pre, host("m2", 1), { result: "ok", value: 8 }, pre)).toEqual({ holds: true, nonVacuous: true });
  });

  it("a host read through a fresh guest_memfd mapping reads the file page behind it", () => {
    const s = build(V7, [vm(), gmem(2 * M, ["MMAP", "INIT_SHARED"]), { op: "gmem_mmap", gmem: "g0", map: "m2", offset: P, length: 4 * P }, host("m2", 0, "write"),
      { op: "gmem_mmap", gmem: "g0", map: "m3", offset: 0, length: 4 * P }]);
    const a = stepFrom(s, host("m3", 1));
    expect(a.outcome).toEqual({ result: "ok", value: 6 });
    expect(check(a)).toEqual({ holds: true, nonVacuous: true });
  });

  for (const [name, g] of Object.entries(GUEST)) {
    it(`a guest read (${name}) holds and is exercised`, () => {
      const a = stepFrom(build(g.config, [...g.ops, ...("zap" in g ? g.zap : [])]), vcpu(g.gfn));
      expect(a.outcome).toEqual({ result: "ok", value: 4 });
      expect(check(a)).toEqual({ holds: true, nonVacuous: true });
    });
  }

  it("an instruction fetch is a read", () => {
    const a = stepFrom(build(X86, GUEST.hva.ops), vcpu(511, "exec"));
    expect(a.outcome).toEqual({ result: "ok", value: 4 });
    expect(check({ ...a, outcome: { result: "ok", value: 3 } })).toEqual({ holds: false, nonVacuous: true, detail: "vcpu_access read 3 where 4 was stored" });
  });

  it("a default VM ignores the access's private bit: the read goes through the host", () => {
    const s = build(X86, [vm(), anon("m1"), gmem(2 * M), gmemRegion(0, 0, 2 * M, "m1"), vcpu(5, "write", { private: true })]);
    const a = stepFrom(s, vcpu(5, "read", { private: true }));
    expect(a.outcome).toEqual({ result: "ok", value: 4 });
    expect(check(a)).toEqual({ holds: true, nonVacuous: true });
  });

  it("breaks on a read returning another byte, or none", () => {
    const a = stepFrom(HOST(), host("m0", 0));
    expect(check({ ...a, outcome: { result: "ok", value: 5 } })).toEqual({ holds: false, nonVacuous: true, detail: "access read 5 where 7 was stored" });
    expect(check({ ...a, outcome: OK })).toEqual({ holds: false, nonVacuous: true, detail: "access read undefined where 7 was stored" });
  });

  it("breaks on a read succeeding where nothing backs the address", () => {
    const none = { holds: false, nonVacuous: true };
    expect(check({ ...stepFrom(HOST(), host("m9", 0)), outcome: { result: "ok", value: 0 } })).toEqual({ ...none, detail: "access read succeeded but no page backs that address" });
    const guest = build(X86, GUEST.hva.ops);
    for (const op of [vcpu(1024), { ...vcpu(511), vm: "v9" }]) {
      expect(check({ ...stepFrom(guest, op), outcome: { result: "ok", value: 0 } })).toEqual({ ...none, detail: "vcpu_access read succeeded but no page backs that address" });
    }
    const unmapped = after(guest, { op: "munmap", map: "m1" });
    expect(check({ ...stepFrom(unmapped, vcpu(7)), outcome: { result: "ok", value: 0 } })).toEqual({ ...none, detail: "vcpu_access read succeeded but no page backs that address" });
  });

  it("writes and failed reads are not its business", () => {
    expect(check(stepFrom(HOST(), host("m1", 1, "write", 2)))).toEqual({ holds: true, nonVacuous: false });
    const guest = build(X86, GUEST.hva.ops);
    expect(check(stepFrom(guest, vcpu(511, "write", { byte: 2 })))).toEqual({ holds: true, nonVacuous: false });
    const mmio = stepFrom(guest, vcpu(1024));
    expect(mmio.outcome).toMatchObject({ result: "exit", exit: "mmio" });
    expect(check(mmio)).toEqual({ holds: true, nonVacuous: false });
  });
});

describe("writes-stick", () => {
  const check = checkStep("writes-stick");

  it("host writes to anonymous and file pages hold and are exercised", () => {
    expect(check(stepFrom(HOST(), host("m1", 2, "write")))).toEqual({ holds: true, nonVacuous: true });
    expect(check(stepFrom(HOST(), host("m0", 0, "write", 9)))).toEqual({ holds: true, nonVacuous: true });
  });

  it("a write without a byte stores 0 over the 6 there", () => {
    const a = stepFrom(HOST(), { op: "access", map: "m1", offset: P + 5, kind: "write" });
    expect(check(a)).toEqual({ holds: true, nonVacuous: true });
  });

  for (const [name, g] of Object.entries(GUEST)) {
    it(`a guest write (${name}) holds and is exercised`, () => {
      const ops = g.ops.slice(0, -1);
      const a = stepFrom(build(g.config, ops), g.ops.at(-1)!);
      expect(a.outcome).toEqual(OK);
      expect(check(a)).toEqual({ holds: true, nonVacuous: true });
    });
  }

  it("breaks when the page does not hold the byte written", () => {
    const a = stepFrom(HOST(), host("m1", 2, "write"));
    expect(check({ ...a, post: withMap(a.post, "m1", { anonData: HOST().mm.maps.get("m1")!.anonData }) })).toEqual({ holds: false, nonVacuous: true, detail: "access wrote 6 but the page holds 0" });
    const g = stepFrom(build(V7, GUEST.gmemOnly.ops.slice(0, -1)), vcpu(515, "write"));
    expect(check({ ...g, post: withGmemData(g.post, 0, new Map()) })).toEqual({ holds: false, nonVacuous: true, detail: "vcpu_access wrote 4 but the page holds 0" });
  });

  it("breaks on a write succeeding where nothing backs the address", () => {
    expect(check({ ...stepFrom(HOST(), host("m9", 0, "write")), outcome: OK })).toEqual({ holds: false, nonVacuous: true, detail: "access succeeded but reaches no page" });
  });

  it("reads and failed writes are not its business", () => {
    expect(check(stepFrom(HOST(), host("m1", 1)))).toEqual({ holds: true, nonVacuous: false });
    const mmio = stepFrom(build(X86, GUEST.hva.ops), vcpu(1024, "write"));
    expect(mmio.outcome).toMatchObject({ result: "exit", exit: "mmio" });
    expect(check(mmio)).toEqual({ holds: true, nonVacuous: false });
  });
});

describe("zap-keeps-contents", () => {
  const check = checkStep("zap-keeps-contents");
  const zap = region(0, 0, 2 * M, "m0", { flags: ["USERFAULT"] });
  // Contents in exactly one place each: m0's private page (m1 holds none), f0 (f1 holds none), g0 (g1 holds none).
  const ANON = () => build(X86, [vm(), anon("m0"), anon("m1"), region(0, 0, 2 * M, "m0"), vcpu(3, "write")]);
  const FILE = () => build(X86, [vm(), { op: "memfd", file: "f0", size: 2 * M }, { op: "memfd", file: "f1", size: P }, { op: "mmap", map: "m0", file: "f0", offset: 0, length: 2 * M, shared: true },
    region(0, 0, 2 * M, "m0"), vcpu(3, "write")]);
  const GMEM = () => build(X86, [vm(1), anon("m0"), gmem(2 * M), gmem(2 * M, [], "g1"), gmemRegion(0, 0, 2 * M, "m0"), privatize(3), vcpu(3, "write")]);
  const toShared = privatize(3, []);

  it("a zap keeping contents held in one place holds and is exercised", () => {
    for (const [s, op] of [[ANON(), zap], [FILE(), zap], [GMEM(), toShared]] as const) {
      const a = stepFrom(s, op);
      expect(a.post.kvm.vms[0]!.stage2[0]).toEqual([]);
      expect(check(a)).toEqual({ holds: true, nonVacuous: true });
    }
  });

  it("a zap of one VM's mappings is exercised while another VM's stay", () => {
    const two = build(X86, [vm(), anon("m0"), region(0, 0, 2 * M, "m0"), vcpu(3, "write"), vm(0, "v1"), { ...region(0, 0, 2 * M, "m0"), vm: "v1" }, { ...vcpu(3), vm: "v1" }]);
    const a = stepFrom(two, zap);
    expect(a.post.kvm.vms.map((v) => v.stage2[0]!.length)).toEqual([0, 1]);
    expect(check(a)).toEqual({ holds: true, nonVacuous: true });
  });

  it("a zap of pages holding no contents is not exercised, whether or not empty files exist", () => {
    const bare = [vm(), anon("m0"), region(0, 0, 2 * M, "m0"), vcpu(3)];
    expect(check(stepFrom(build(X86, bare), zap))).toEqual({ holds: true, nonVacuous: false });
    const empties = build(X86, [...bare, { op: "memfd", file: "f0", size: P }, gmem(2 * M)]);
    expect(check(stepFrom(empties, zap))).toEqual({ holds: true, nonVacuous: false });
  });

  it("a control op that zaps nothing is not exercised", () => {
    for (const op of [region(1, 512, 2 * M, "m1"), vm(0, "v1"), { op: "check_extension", cap: "USERFAULT" } satisfies Op]) {
      expect(check(stepFrom(ANON(), op))).toEqual({ holds: true, nonVacuous: false });
    }
  });

  it("an access changing contents is not a control op", () => {
    expect(check(stepFrom(ANON(), vcpu(3, "write", { byte: 2 })))).toEqual({ holds: true, nonVacuous: false });
  });

  it("breaks when any control op, even a failed one, changes contents", () => {
    const ops: Op[] = [zap, privatize(3), { op: "userfault_set", vm: "v0", slot: 0, gfn_offset: 0, npages: 1 }, { op: "userfault_clear", vm: "v0", slot: 0, gfn_offset: 0, npages: 1 },
      { op: "check_extension", cap: "USERFAULT" }, vm(0, "v1")];
    for (const op of ops) {
      const a = stepFrom(ANON(), op);
      expect(check({ ...a, post: withMap(a.post, "m0", { anonData: new Map() }) })).toEqual({ holds: false, nonVacuous: true, detail: `${op.op} changed page contents` });
    }
  });

  it("breaks when a zap changes a file's or a guest_memfd's contents", () => {
    const f = stepFrom(FILE(), zap);
    expect(check({ ...f, post: withFile(f.post, 0, { data: new Map() }) })).toMatchObject({ holds: false, detail: "set_memory_region changed page contents" });
    const g = stepFrom(GMEM(), toShared);
    expect(check({ ...g, post: withGmemData(g.post, 0, new Map()) })).toMatchObject({ holds: false, detail: "set_memory_attributes changed page contents" });
  });
});

describe("userfault-exits", () => {
  const check = checkStep("userfault-exits");
  const bits = (op: "userfault_set" | "userfault_clear", gfn: number, npages: number): Op => ({ op, vm: "v0", slot: 0, gfn_offset: gfn, npages });
  // USERFAULT on slot 0; gfn 1 mapped read-only and gfn 2 writable before their bits (1-3) were set.
  const UF = () => build(X86, [vm(), anon("m0"), region(0, 0, 2 * M, "m0", { flags: ["USERFAULT"] }), vcpu(1), vcpu(2, "write"), bits("userfault_set", 1, 3)]);

  it("an exit on a set bit holds and is exercised", () => {
    const a = stepFrom(UF(), vcpu(3));
    expect(a.outcome).toMatchObject({ result: "exit", flags: ["USERFAULT"] });
    expect(check(a)).toEqual({ holds: true, nonVacuous: true });
  });

  it("breaks when an access to an unmapped page with its bit set completes", () => {
    expect(check({ ...stepFrom(UF(), vcpu(3)), outcome: { result: "ok", value: 0 } })).toEqual({ holds: false, nonVacuous: true, detail: "vcpu_access to gfn 3 completed although its userfault bit is set" });
  });

  it("a read of a page mapped read-only before its bit was set completes, exercised", () => {
    expect(UF().kvm.vms[0]!.stage2[0]![0]).toEqual({ start: 1, end: 2, value: { level: 0, writable: false, private: false, page: { in: "zero" } } });
    const a = stepFrom(UF(), vcpu(1));
    expect(a.outcome).toEqual({ result: "ok", value: 0 });
    expect(check(a)).toEqual({ holds: true, nonVacuous: true });
  });

  it("a write to that read-only page must exit", () => {
    const a = stepFrom(UF(), vcpu(1, "write"));
    expect(a.outcome).toMatchObject({ result: "exit", flags: ["USERFAULT"] });
    expect(check(a)).toEqual({ holds: true, nonVacuous: true });
    expect(check({ ...a, outcome: OK })).toEqual({ holds: false, nonVacuous: true, detail: "vcpu_access to gfn 1 completed although its userfault bit is set" });
  });

  it("a write to a page mapped writable before its bit was set completes", () => {
    const a = stepFrom(UF(), vcpu(2, "write"));
    expect(a.outcome).toEqual(OK);
    expect(check(a)).toEqual({ holds: true, nonVacuous: true });
  });

  it("is not exercised by a clear bit, a bit left set after USERFAULT went off, no slot, no VM, or another op", () => {
    expect(check(stepFrom(UF(), vcpu(4)))).toEqual({ holds: true, nonVacuous: false });
    const off = after(UF(), region(0, 0, 2 * M, "m0"));
    const a = stepFrom(off, vcpu(3));
    expect(a.outcome).toEqual({ result: "ok", value: 0 });
    expect(check(a)).toEqual({ holds: true, nonVacuous: false });
    expect(check({ ...stepFrom(UF(), vcpu(512)), outcome: OK })).toEqual({ holds: true, nonVacuous: false });
    expect(check({ ...stepFrom(UF(), { ...vcpu(3), vm: "v9" }), outcome: OK })).toEqual({ holds: true, nonVacuous: false });
    expect(check(stepFrom(UF(), host("m0", 3)))).toEqual({ holds: true, nonVacuous: false });
  });
});
