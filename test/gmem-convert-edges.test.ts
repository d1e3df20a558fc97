// Edges of guest_memfd conversion, pins and host unmapping that the errno cases miss: mappings at a file offset,
// ranges next to pins and mappings, the 2024 RFC's per-folio checks, and the transient EAGAINs of a v7 conversion.
import { describe, expect, it } from "vitest";
import { alternatives, initial, step, type State } from "../model/index.js";
import { runRace, SETUP, type RaceActor, type RaceRun } from "../props/concurrent/harness.js";
import { PRESETS, type Config } from "../schema/config.js";
import type { Op, OpOf } from "../schema/ops.js";
import { firstFailure } from "./helpers/interleavings.js";
import { levelAt, runBoth as run } from "./helpers/run.js";

const MiB = 1024 * 1024;
const PAGE = 4096;
const V7 = PRESETS["gmem-v7"];
const RFC_2M: Config = { ...PRESETS.default, gmemDesign: "rfc-2024", gmemFolio: "2M" };

const vm: Op = { op: "create_vm", vm: "v0", type: 1 };
const gmem = (flags: ("MMAP" | "INIT_SHARED")[], name = "g0"): Op => ({ op: "create_gmem", vm: "v0", gmem: name, size: 4 * MiB, flags });
const bind = (gmemName = "g0", slot = 0, gpa = 0, userspace: string | null = null): Op => ({
  op: "set_memory_region", vm: "v0", slot, flags: ["GUEST_MEMFD"], guest_phys_addr: gpa, memory_size: 4 * MiB, userspace, guest_memfd: gmemName, guest_memfd_offset: 0,
});
const mmapG = (map: string, offset = 0, length = 4 * MiB, name = "g0"): Op => ({ op: "gmem_mmap", gmem: name, map, offset, length });
const convert = (offset: number, size: number, to: "private" | "shared" = "private", name = "g0"): OpOf<"gmem_convert"> => ({ op: "gmem_convert", gmem: name, offset, size, to });
const write = (map: string, page: number, byte = 7): Op => ({ op: "access", map, offset: page * PAGE, kind: "write", byte });
const read = (map: string, page: number): Op => ({ op: "access", map, offset: page * PAGE, kind: "read" });
const pin = (page: number, map = "m5"): Op => ({ op: "pin", map, offset: page * PAGE });
const unpin = (page: number, map = "m5"): Op => ({ op: "unpin", map, offset: page * PAGE });
const dontneed = (page: number, map = "m5"): Op => ({ op: "madvise", map, offset: page * PAGE, len: PAGE, advice: "DONTNEED" });
const attrs = (page: number, pages: number): Op => ({ op: "set_memory_attributes", vm: "v0", address: page * PAGE, size: pages * PAGE, attributes: ["PRIVATE"] });
const vcpuRead = (gpa: number): Op => ({ op: "vcpu_access", vm: "v0", vcpu: 0, gpa, kind: "read" });

/** A software-protected VM with a shared-at-start guest_memfd mapped whole at m5 (v7, guest_memfd owns attributes). */
const SHARED: Op[] = [vm, gmem(["MMAP", "INIT_SHARED"]), mmapG("m5")];
const ptePages = (s: State, map: string): number[] => s.mm.maps.get(map)!.ptes.flatMap((p) => Array.from({ length: p.end - p.start }, (_, i) => p.start + i));

describe("v7 conversion and host mappings", () => {
  it("to private unmaps only the converted pages of a mapping that starts at a file offset", async () => {
    // m6 shows file pages 256..263: its page 0 is file page 256, its page 4 file page 260.
    const { outcomes, state } = await run(V7, [...SHARED, mmapG("m6", MiB, 8 * PAGE), write("m6", 0, 1), write("m6", 4, 2), convert(MiB, 4 * PAGE), read("m6", 4), read("m6", 0)]);
    expect(outcomes.slice(-3)).toEqual([{ result: "ok" }, { result: "ok", value: 2 }, { result: "SIGBUS", code: "BUS_ADRERR" }]);
    expect(ptePages(state, "m6")).toEqual([4]);
  });

  it("a refused conversion to private has still unmapped the range: KVM's shared mappings through those host pages go too", async () => {
    // The memslot's userspace address is the guest_memfd mapping itself; pages 1 and 2 are host- and guest-mapped.
    const mapped = [...SHARED, bind("g0", 0, 0, "m5"), write("m5", 1), write("m5", 2), vcpuRead(PAGE), vcpuRead(2 * PAGE), pin(3), dontneed(3)];
    const before = (await run(V7, mapped)).state;
    expect([levelAt(before, 1), levelAt(before, 2)]).toEqual([0, 0]);
    const { outcomes, state } = await run(V7, [...mapped, convert(0, 4 * PAGE)]);
    expect(outcomes.at(-1)).toEqual({ errno: "EAGAIN", error_offset: 3 * PAGE });
    expect(ptePages(state, "m5")).toEqual([]);
    expect([levelAt(state, 1), levelAt(state, 2)]).toEqual([undefined, undefined]);
  });

  it("a refused conversion to private drops KVM's shared mapping of a page the host never mapped (the notifier covers the whole window)", async () => {
    // zap_page_range_single runs the mmu notifier over the mapping's whole window, whether or not a PTE is there.
    const mapped = [...SHARED, bind("g0", 0, 0, "m5"), vcpuRead(2 * PAGE), write("m5", 0), pin(3), dontneed(3)];
    expect(levelAt((await run(V7, mapped)).state, 2)).toBe(0);
    const { outcomes, state } = await run(V7, [...mapped, convert(0, 4 * PAGE)]);
    expect(outcomes.at(-1)).toEqual({ errno: "EAGAIN", error_offset: 3 * PAGE });
    expect(levelAt(state, 2)).toBeUndefined();
  });

  it("to shared leaves the host mapping of a page of the range that was already shared", async () => {
    const { outcomes, fired, state } = await run(V7, [...SHARED, write("m5", 0, 3), convert(PAGE, PAGE), convert(0, 2 * PAGE, "shared")]);
    expect(outcomes.at(-1)).toEqual({ result: "ok" });
    expect(fired.at(-1)).not.toContain("gmem.convert-unmap");
    expect(ptePages(state, "m5")).toEqual([0]);
  });

  it("to shared is not held up by a pin in the range", async () => {
    const { outcomes } = await run(V7, [...SHARED, pin(0), convert(PAGE, PAGE), convert(0, 2 * PAGE, "shared")]);
    expect(outcomes.at(-1)).toEqual({ result: "ok" });
  });

  it("a pin just before the range does not hold up a conversion to private", async () => {
    const { outcomes } = await run(V7, [...SHARED, pin(3), convert(4 * PAGE, 4 * PAGE)]);
    expect(outcomes.at(-1)).toEqual({ result: "ok" });
  });

  it("with 4 KiB folios conversions neither split nor merge", async () => {
    const { fired } = await run(V7, [...SHARED, convert(0, PAGE), convert(0, PAGE, "shared")]);
    expect(fired.at(-2)).not.toContain("gmem.folio-merge");
    expect(fired.at(-1)).not.toContain("gmem.folio-split");
  });
});

describe("pin and unpin", () => {
  it("the last unpin leaves the page without pins: conversion to private goes on", async () => {
    const { outcomes, state } = await run(V7, [...SHARED, pin(0), unpin(0), convert(0, PAGE)]);
    expect(outcomes.slice(-2)).toEqual([{ result: "ok" }, { result: "ok" }]);
    expect(state.gmem.inodes[0]!.pins).toEqual([]);
  });

  it("a page munmapped out of the mapping can be neither pinned nor unpinned through it, its pin stays", async () => {
    const { outcomes, fired } = await run(V7, [...SHARED, pin(1), { op: "munmap", map: "m5", offset: PAGE, len: PAGE }, unpin(1), pin(1), convert(PAGE, PAGE)]);
    expect(outcomes.slice(-3)).toEqual([{ errno: "EINVAL" }, { errno: "EFAULT" }, { errno: "EAGAIN", error_offset: PAGE }]);
    expect(fired.at(-2)).toContain("pin.efault");
  });

  it("a pin faults the page in for write: a userfaultfd write-protected page stops it", async () => {
    const { outcomes, fired } = await run(V7, [
      ...SHARED,
      write("m5", 0),
      { op: "uffd_open", uffd: "u0", features: [] },
      { op: "uffd_register", uffd: "u0", map: "m5", offset: 0, len: 4 * MiB, mode: ["WP"] },
      { op: "uffdio_writeprotect", uffd: "u0", map: "m5", offset: 0, len: PAGE, mode: ["WP"] },
      pin(0),
    ]);
    expect(outcomes.at(-1)).toEqual({ errno: "EFAULT" });
    expect(fired.at(-1)).toContain("uffd.fault-wp");
  });

  it("unpin through an address with no mapping is EINVAL", async () => {
    const { outcomes } = await run(V7, [...SHARED, unpin(0, "m9")]);
    expect(outcomes.at(-1)).toEqual({ errno: "EINVAL" });
  });
});

describe("2024 RFC: conversion checks each folio only over the range", () => {
  // 2 MiB folios: the range [1, 2) sits inside folio 0; the host maps pages 0 and 5 of the same folio.
  const setup: Op[] = [vm, gmem(["MMAP"]), bind(), mmapG("m5"), write("m5", 0), write("m5", 5)];

  it("host mappings of other pages of the folio do not refuse it", async () => {
    const { outcomes, state } = await run(RFC_2M, [...setup, attrs(1, 1)]);
    expect(outcomes.at(-1)).toEqual({ result: "ok" });
    expect(state.kvm.vms[0]!.attributes).toEqual([{ start: 1, end: 2, value: true }]);
  });

  it("pins on the pages either side of the range do not refuse it", async () => {
    const { outcomes } = await run(RFC_2M, [...setup, pin(0), pin(2), dontneed(2), attrs(1, 1)]);
    expect(outcomes.at(-1)).toEqual({ result: "ok" });
  });

  it("a refused conversion still names the faultability change it rolled back", async () => {
    const { outcomes, fired } = await run(RFC_2M, [...setup, attrs(0, 2)]);
    expect(outcomes.at(-1)).toEqual({ errno: "EINVAL" });
    expect(fired.at(-1)).toEqual(expect.arrayContaining(["gmem.rfc-mapped", "gmem.rfc-set-faultable"]));
  });
});

describe("2024 RFC: a VM with several memslots", () => {
  const RFC: Config = { ...PRESETS.default, gmemDesign: "rfc-2024" };
  // g0 bound at gpa 0, g1 at gpa 8 MiB, plain anonymous memory at gpa 16 MiB.
  const setup: Op[] = [
    vm,
    gmem(["MMAP"]),
    gmem(["MMAP"], "g1"),
    bind(),
    bind("g1", 1, 8 * MiB),
    { op: "mmap", map: "m0", file: "anon", offset: 0, length: 4 * MiB },
    { op: "set_memory_region", vm: "v0", slot: 2, flags: [], guest_phys_addr: 16 * MiB, memory_size: 4 * MiB, userspace: "m0" },
    mmapG("m5"),
    mmapG("m6", 0, 4 * MiB, "g1"),
  ];

  it("only the guest_memfd slots the range covers lose faultability", async () => {
    const { outcomes } = await run(RFC, [...setup, write("m6", 0, 4), attrs(0, 4), read("m6", 0), read("m5", 0)]);
    expect(outcomes.slice(-3)).toEqual([{ result: "ok" }, { result: "ok", value: 4 }, { result: "SIGBUS", code: "BUS_ADRERR" }]);
  });

  it("PRIVATE over a slot whose guest_memfd was released is not checked (kvm_gmem_release unbound it)", async () => {
    // The mapping held the file: once it and the fd are gone, the slot's range is no guest_memfd's any more.
    const { outcomes } = await run(RFC, [...setup, { op: "munmap", map: "m5", offset: 0 }, { op: "close", gmem: "g0" }, attrs(0, 4)]);
    expect(outcomes.at(-1)).toEqual({ result: "ok" });
  });

  it("PRIVATE over a slot without guest_memfd changes no faultability", async () => {
    const { outcomes, state } = await run(RFC, [...setup, attrs(4096, 4), read("m5", 0)]);
    expect(outcomes.slice(-2)).toEqual([{ result: "ok" }, { result: "ok", value: 0 }]);
    expect(state.kvm.vms[0]!.attributes).toEqual([{ start: 4096, end: 4100, value: true }]);
  });
});

describe("2024 RFC: a slot that ends where the range begins", () => {
  it("is left out: pins on its guest_memfd across its end do not refuse the conversion", async () => {
    const RFC: Config = { ...PRESETS.default, gmemDesign: "rfc-2024" };
    const slot = (n: number, gpa: number, pages: number, name: string, offset: number): Op => ({
      op: "set_memory_region", vm: "v0", slot: n, flags: ["GUEST_MEMFD"], guest_phys_addr: gpa, memory_size: pages * PAGE, userspace: null, guest_memfd: name, guest_memfd_offset: offset,
    });
    // g1's pages 0-1 back gpa pages 0-1 (slot 1), its pages 2-3 gpa 64 MiB (slot 3); g0 backs gpa from page 2 on.
    const { outcomes } = await run(RFC, [
      vm, gmem(["MMAP"]), gmem(["MMAP"], "g1"),
      slot(1, 0, 2, "g1", 0), slot(3, 64 * MiB, 2, "g1", 2 * PAGE), slot(0, 2 * PAGE, 1024, "g0", 0),
      mmapG("m6", 0, 4 * MiB, "g1"), pin(1, "m6"), pin(2, "m6"),
      attrs(2, 1), read("m6", 1),
    ]);
    expect(outcomes.slice(-2)).toEqual([{ result: "ok" }, { result: "ok", value: 0 }]);
  });
});

describe("2024 RFC: a one-page slot at the start of a 2 MiB folio, the range just past it", () => {
  it("leaves the slot out: its unsplit folio is not split when the next page turns shared", async () => {
    // kvm_gmem_try_set_faultable_vm visits only the memslots overlapping [start, end) (kvm_for_each_memslot_in_gfn_range).
    const onePage: Op = { op: "set_memory_region", vm: "v0", slot: 0, flags: ["GUEST_MEMFD"], guest_phys_addr: 0, memory_size: PAGE, userspace: null, guest_memfd: "g0", guest_memfd_offset: 0 };
    const shared: Op = { op: "set_memory_attributes", vm: "v0", address: PAGE, size: PAGE, attributes: [] };
    const { outcomes, fired, state } = await run(RFC_2M, [vm, gmem(["MMAP"]), onePage, attrs(0, 1), vcpuRead(0), attrs(1, 1), shared]);
    expect(outcomes.at(-1)).toEqual({ result: "ok" });
    expect(fired.at(-1)).not.toContain("gmem.folio-split");
    expect(state.gmem.inodes[0]!.present).toEqual([{ start: 0, end: 512, value: true }]);
    expect(state.gmem.inodes[0]!.split).toEqual([]);
  });
});

describe("transient EAGAIN of a v7 conversion to private (what the linearizability check may accept)", () => {
  const at = (ops: readonly Op[], config = V7): State => ops.reduce((s, op) => step(s, op).state, initial(config));
  const offsets = (s: State, op: Op, concurrent: readonly Op[]): unknown[] => [...alternatives(s, op, concurrent)].map((r) => r.outcome);
  const bound = (): State => at([...SHARED, bind()]);

  it("a host fault in flight on a page of the range: EAGAIN at that page", () => {
    expect(offsets(bound(), convert(0, 4 * PAGE), [read("m5", 2)])).toEqual([{ errno: "EAGAIN", error_offset: 2 * PAGE }]);
  });

  it("only pages of the range count, whatever else runs alongside", () => {
    expect(offsets(bound(), convert(4 * PAGE, 4 * PAGE), [read("m5", 9), read("m5", 6), read("m5", 8)])).toEqual([{ errno: "EAGAIN", error_offset: 6 * PAGE }]);
  });

  it("no transient EAGAIN past a pinned page: the pin is found first", () => {
    const pinned = at([...SHARED, pin(3)]);
    expect(offsets(pinned, convert(0, 8 * PAGE), [read("m5", 3), read("m5", 5), read("m5", 1)])).toEqual([{ errno: "EAGAIN", error_offset: PAGE }]);
  });

  it("a vCPU fault in flight on a page of the range, through a memslot at a guest address", () => {
    const moved = at([...SHARED, bind("g0", 0, 8 * MiB)]);
    expect(offsets(moved, convert(0, 4 * PAGE), [vcpuRead(8 * MiB + 3 * PAGE), vcpuRead(8 * MiB + 9 * PAGE), vcpuRead(64 * MiB)])).toEqual([{ errno: "EAGAIN", error_offset: 3 * PAGE }]);
  });

  it("faults on another guest_memfd's pages, and operations that take no folio reference, do not count", () => {
    const two = at([...SHARED, gmem(["MMAP", "INIT_SHARED"], "g1"), mmapG("m6", 0, 4 * MiB, "g1")]);
    expect(offsets(two, convert(0, 4 * PAGE), [read("m6", 1), { op: "gmem_fallocate", gmem: "g0", mode: ["KEEP_SIZE"], offset: 0, len: PAGE }])).toEqual([]);
  });

  it("none for a conversion to shared or one that is a no-op", () => {
    expect(offsets(bound(), convert(0, 4 * PAGE, "shared"), [read("m5", 1)])).toEqual([]);
    const priv = at([...SHARED, convert(0, 4 * PAGE)]);
    expect(offsets(priv, convert(0, 4 * PAGE), [read("m5", 1)])).toEqual([]);
  });
});

const everyInterleaving = (config: Config, actors: readonly RaceActor[]) => firstFailure(config, actors, 2000);

describe("a v7 conversion to private against a host fault through a mapping at a file offset", () => {
  it("every interleaving passes: a PTE the fault installs after the unmap is found by the reference check", async () => {
    const r = await everyInterleaving(V7, [
      { name: SETUP, steps: [...SHARED, mmapG("m6", MiB, 8 * PAGE)] },
      { name: "host", steps: [read("m6", 1)] },
      { name: "VMM", steps: [convert(MiB, 4 * PAGE)] },
    ]);
    expect(r.failure?.failure).toBeUndefined();
    expect(r.runs).toBeGreaterThan(2);
  });
});

describe("a 2024 RFC conversion to private and a host fault on its page, under the race scheduler", () => {
  const RFC: Config = { ...PRESETS.default, gmemDesign: "rfc-2024" };
  const setup: RaceActor = { name: SETUP, steps: [vm, gmem(["MMAP"]), bind(), mmapG("m5")] };
  const host: RaceActor = { name: "host", steps: [read("m5", 1)] };
  const vmm: RaceActor = { name: "VMM", steps: [attrs(1, 1)] };
  const outcomes = (r: RaceRun): Record<string, unknown> => Object.fromEntries(r.steps.filter((st) => st.returned !== undefined && st.actor !== SETUP).map((st) => [st.actor, st.returned]));

  it("the fault first: the page is mapped and the conversion refused", async () => {
    const r = await runRace(RFC, [setup, host, vmm], { kind: "choices", choices: [] });
    expect(r.failure).toBeUndefined();
    expect(outcomes(r)).toEqual({ host: { result: "ok", value: 0 }, VMM: { errno: "EINVAL" } });
  });

  it("the conversion first: the fault SIGBUSes", async () => {
    const r = await runRace(RFC, [setup, vmm, host], { kind: "choices", choices: [] });
    expect(r.failure).toBeUndefined();
    expect(outcomes(r)).toEqual({ host: { result: "SIGBUS", code: "BUS_ADRERR" }, VMM: { result: "ok" } });
  });
});
