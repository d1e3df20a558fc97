// Outcomes and states the kernel may give besides step()'s are admitted only with a cause running at the same
// time, and only when that operation could cause it in the kernel (model/alternatives.ts).
import { describe, expect, it } from "vitest";
import { alsoReached, initial, step, type State } from "../model/index.js";
import { explain } from "../props/concurrent/history.js";
import { PRESETS } from "../schema/config.js";
import type { Op, OpOf } from "../schema/ops.js";
import { SEGV_MAPERR } from "../schema/outcome.js";
import { memslot } from "./helpers/ops.js";

const MiB = 1024 * 1024;
const SETUP: Op[] = [
  { op: "create_vm", vm: "v0", type: 1 },
  { op: "create_gmem", vm: "v0", gmem: "g0", size: 4 * MiB, flags: ["MMAP", "INIT_SHARED"] },
  { op: "gmem_mmap", gmem: "g0", map: "m5", offset: 0, length: 4 * MiB },
  { op: "write_alias", map: "m5", offset: 4096, byte: 7 },
];
const convert: Op = { op: "gmem_convert", gmem: "g0", offset: 0, size: 2 * 4096, to: "private" };
const busyAt = (page: number) => ({ errno: "EAGAIN" as const, error_offset: page * 4096 });

function setup(): State {
  return SETUP.reduce((s, op) => step(s, op).state, initial(PRESETS["gmem-v7"]));
}

describe("transient references in a v7 conversion", () => {
  it("alone, the conversion succeeds and nothing else explains an EAGAIN", () => {
    const s = setup();
    expect(step(s, convert).outcome).toEqual({ result: "ok" });
    expect(explain(s, convert, busyAt(1))).toBeUndefined();
  });

  it("a host fault on page 1 in flight explains EAGAIN at page 1, not at page 0", () => {
    const s = setup();
    const fault: Op = { op: "access", map: "m5", offset: 4096, kind: "read" };
    const r = explain(s, convert, busyAt(1), [fault]);
    expect(r?.fired).toContain("gmem.convert-transient-ref");
    expect(explain(s, convert, busyAt(0), [fault])).toBeUndefined();
  });

  it("the failed conversion changes nothing but the host mappings it unmapped first", () => {
    const s = setup();
    const r = explain(s, convert, busyAt(1), [{ op: "read_alias", map: "m5", offset: 4096 }])!;
    expect(r.state.gmem).toEqual(s.gmem);
  });
});

describe("only an operation that reaches the folio explains the EAGAIN", () => {
  const read1: Op = { op: "access", map: "m5", offset: 4096, kind: "read" };
  const fired = (s: State, concurrent: Op[]) => explain(s, convert, busyAt(1), concurrent)?.fired;

  it("not an access through a mapping already unmapped (SEGV_MAPERR before any fault), though an alias access still faults", () => {
    const alias: Op = { op: "read_alias", map: "m5", offset: 4096 };
    const hole = step(setup(), { op: "munmap", map: "m5", offset: 4096, len: 4096 }).state;
    expect(step(hole, read1).outcome).toEqual(SEGV_MAPERR);
    expect(fired(hole, [read1])).toBeUndefined();
    expect(fired(hole, [alias])).toContain("gmem.ref-alias");
    const gone = step(setup(), { op: "munmap", map: "m5" }).state;
    expect(fired(gone, [read1])).toBeUndefined();
    expect(fired(gone, [alias])).toBeUndefined();
  });

  it("not an access to a page already private (kvm_gmem_fault_user_mapping SIGBUSes before kvm_gmem_get_folio)", () => {
    const s = step(setup(), { op: "gmem_convert", gmem: "g0", offset: 4096, size: 4096, to: "private" }).state;
    expect(fired(s, [read1])).toBeUndefined();
    expect(fired(s, [{ op: "pin", map: "m5", offset: 4096 }])).toBeUndefined();
  });

  it("a pin in flight on the page does", () => {
    expect(fired(setup(), [{ op: "pin", map: "m5", offset: 4096 }])).toContain("gmem.ref-pin");
    expect(fired(setup(), [read1])).toContain("gmem.ref-host-fault");
  });

  describe("a vCPU access", () => {
    const slot = (extra: Partial<OpOf<"set_memory_region">>): Op => ({
      op: "set_memory_region", vm: "v0", slot: 0, flags: [], guest_phys_addr: 0, memory_size: 2 * MiB, userspace: null, ...extra,
    });
    const gmemSlot = slot({ flags: ["GUEST_MEMFD"], guest_memfd: "g0", guest_memfd_offset: 0 });
    const vcpu = (priv: boolean, gpa = 4096): Op => ({ op: "vcpu_access", vm: "v0", vcpu: 0, gpa, kind: "read", private: priv });

    it("through guest_memfd (kvm_gmem_get_pfn) does, also where the model's SPTE would let it complete without a fault", () => {
      const s = step(setup(), gmemSlot).state;
      expect(fired(s, [vcpu(false)])).toContain("gmem.ref-get-pfn");
      const mapped = step(s, vcpu(false)).state;
      expect(fired(mapped, [vcpu(false)])).toContain("gmem.ref-get-pfn");
    });

    it("that exits first (its private bit differs from the page's attribute) does not", () => {
      const s = step(setup(), gmemSlot).state;
      expect(step(s, vcpu(true)).outcome).toMatchObject({ result: "exit", exit: "memory_fault" });
      expect(fired(s, [vcpu(true)])).toBeUndefined();
    });

    it("through a slot whose userspace address is the guest_memfd mapping (GUP of the hva) does", () => {
      const s = step(setup(), slot({ userspace: "m5", userspace_offset: 0 })).state;
      expect(fired(s, [vcpu(false)])).toContain("gmem.ref-hva");
      expect(fired(s, [vcpu(false, 0)])).toBeUndefined();
    });
  });
});

describe("a write in the window of a dirty-logging enable (dirtylog.enable-stale-slot)", () => {
  const unlogged = memslot({});
  const logged = memslot({ flags: ["LOG_DIRTY_PAGES"] });
  const write: Op = { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 4096, kind: "write", byte: 7 };
  const base: Op[] = [{ op: "create_vm", vm: "v0" }, { op: "mmap", map: "m0", file: "anon", offset: 0, length: 4 * MiB }];
  const run = (ops: readonly Op[]): State => ops.reduce((s, op) => step(s, op).state, initial(PRESETS.arm64));
  const before = run([...base, unlogged]);
  const enabled = step(before, logged).state;
  const bit = (s: State): boolean | undefined => s.kvm.vms[0]!.dirty.get(0)?.some((sp) => sp.start <= 1 && 1 < sp.end);

  it("is offered, unlogged and write-protected, only while the update that turned logging on overlaps the write", () => {
    expect(bit(step(enabled, write).state)).toBe(true);
    const [stale, ...more] = alsoReached(enabled, write, [logged], before);
    expect(more).toEqual([]);
    expect(stale!.fired).toContain("dirtylog.enable-stale-slot");
    expect(stale!.outcome).toEqual({ result: "ok" });
    expect(bit(stale!.state)).toBe(false);
    expect(stale!.state.kvm.vms[0]!.stage2[0]!.find((sp) => sp.start <= 1 && 1 < sp.end)?.value.writable).toBe(false);
    expect(alsoReached(enabled, write, [], before)).toEqual([]);
  });

  it("not where logging was already on when the segment began, nor for a read, nor for another slot's update", () => {
    expect(alsoReached(enabled, write, [logged], enabled)).toEqual([]);
    expect(alsoReached(enabled, { ...write, kind: "read" } as Op, [logged], before)).toEqual([]);
    expect(alsoReached(enabled, write, [{ ...logged, slot: 1 } as Op], before)).toEqual([]);
  });
});
