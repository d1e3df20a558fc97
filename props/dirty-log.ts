// Dirty logging's suites: KVM_GET_DIRTY_LOG / KVM_CLEAR_DIRTY_LOG (with and without manual protect and
// INITIALLY_SET) mixed with guest and KVM writes, dirty-logging and USERFAULT toggles and huge mappings over hugetlbfs
// (the pre-copy shattering and its recovery), and two races of the harvest against writes in flight.
import fc from "fast-check";
import { PAGE_SIZE } from "../model/consts.js";
import { PRESETS, type Config } from "../schema/config.js";
import type { DirtyLogManualName, MemslotFlagName, Op } from "../schema/ops.js";
import { kvmRaceSuite, type ConcurrentSuite } from "./concurrent/explore.js";
import type { RaceActor } from "./concurrent/harness.js";
import { opArbitrary } from "./generators.js";
import { HUGETLB, regionOp, setupOf, type Layout, type LayoutSlot } from "./layouts.js";
import { runSequentialSuite } from "./run.js";
import type { SequentialSuite } from "./suites.js";

const MiB = 1024 * 1024;

/**
 * HUGETLB's memory with three slots: 8 MiB at gpa 0 that starts without logging (huge mappings to shatter), 6 MiB
 * logged from the start, and 100 logged pages, not a multiple of 64, so CLEAR's "except at the slot's end" applies.
 */
const DIRTY: Layout = {
  name: "dirty",
  description: "2 MiB hugetlbfs memory: an unlogged huge-mappable slot, a logged one, and a logged 100-page slot",
  vmType: 0,
  prelude: HUGETLB.prelude,
  maps: HUGETLB.maps,
  slots: [
    { slot: 0, gpa: 0, size: 8 * MiB, userspace: "m1", userspaceOffset: 0, flags: [] },
    { slot: 1, gpa: 8 * MiB, size: 6 * MiB, userspace: "m1", userspaceOffset: 8 * MiB, flags: ["LOG_DIRTY_PAGES"] },
    { slot: 2, gpa: 32 * MiB, size: 100 * PAGE_SIZE, userspace: "m1", userspaceOffset: 16 * MiB, flags: ["LOG_DIRTY_PAGES"] },
  ],
  altGpas: [64 * MiB],
};

const pagesOf = (s: LayoutSlot): number => s.size / PAGE_SIZE;

/** CLEAR's first_page and num_pages at both sides of each of its bounds, and ordinary whole-word ranges. */
function clearOp(s: LayoutSlot): fc.Arbitrary<Op> {
  const n = pagesOf(s);
  const tail = n - Math.floor(n / 64) * 64 || 64;
  const firsts = [0, 0, 64, 1, 63, n - tail, n - tail + 64, n, n + 64];
  const range = fc.constantFrom(...firsts).chain((first) =>
    fc.tuple(fc.constant(first), fc.constantFrom(64, 64, 128, n - first, n - first - 1, n - first + 1, 63, 65, 0).filter((k) => k >= 0)),
  );
  const pages = fc.option(fc.uniqueArray(fc.nat({ max: 127 }), { minLength: 1, maxLength: 3 }), { freq: 3 });
  return fc.tuple(range, pages).map(([[first, num], p]): Op => ({
    op: "clear_dirty_log",
    vm: "v0",
    slot: s.slot,
    first_page: first,
    num_pages: num,
    ...(p === null ? {} : { pages: p }),
  }));
}

/** The dirty-log calls, the writes they must see, and refusals of the capability (never a change of its value). */
function dirtyOps(l: Layout, config: Config, cap: readonly DirtyLogManualName[]): fc.Arbitrary<Op> {
  // Slot 0 twice as often: it starts unlogged with huge mappings, so turning logging on meets them.
  const slot = fc.constantFrom(l.slots[0]!, ...l.slots);
  // Ids with no slot (ENOENT), in address space 1 (x86 only), past KVM_USER_MEM_SLOTS and past the address spaces.
  const otherSlot = fc.constantFrom(3, 65536, config.kernel.userMemSlots, 2 * 65536, 65535);
  const get = fc.oneof({ weight: 6, arbitrary: slot.map((s) => s.slot) }, { weight: 1, arbitrary: otherSlot }).map((n): Op => ({ op: "get_dirty_log", vm: "v0", slot: n }));
  const clear = fc.oneof(
    { weight: 6, arbitrary: slot.chain(clearOp) },
    { weight: 1, arbitrary: otherSlot.map((n): Op => ({ op: "clear_dirty_log", vm: "v0", slot: n, first_page: 0, num_pages: 64 })) },
  );
  const hot = slot.chain((s) => fc.constantFrom(0, 1, 2, 63, 64, 511, 512, pagesOf(s) - 1).filter((p) => p < pagesOf(s)).map((p) => s.gpa + p * PAGE_SIZE));
  const write = fc
    .tuple(hot, fc.boolean(), fc.integer({ min: 1, max: 255 }), fc.nat({ max: config.vcpus - 1 }))
    .map(([gpa, kvm, byte, vcpu]): Op => ({ op: kvm ? "kvm_access" : "vcpu_access", vm: "v0", vcpu, gpa, kind: "write", byte }));
  const read = hot.map((gpa): Op => ({ op: "vcpu_access", vm: "v0", vcpu: 0, gpa, kind: "read" }));
  // Logging and USERFAULT on the same slot in every combination: pre-copy handing over to post-copy and back.
  const logging = fc
    .tuple(slot, fc.constantFrom<MemslotFlagName[]>(["LOG_DIRTY_PAGES"], ["LOG_DIRTY_PAGES"], ["LOG_DIRTY_PAGES", "USERFAULT"], ["USERFAULT"], []))
    .map(([s, flags]) => regionOp(s, { flags }));
  const badCap = fc.constantFrom<Op>(
    { op: "enable_cap", vm: "v0", cap: "MANUAL_DIRTY_LOG_PROTECT2", args0: [...cap], flags: 1 },
    { op: "enable_cap", vm: "v0", cap: "MANUAL_DIRTY_LOG_PROTECT2", args0: ["INITIALLY_SET"] },
    { op: "enable_cap", vm: "v0", cap: "MANUAL_DIRTY_LOG_PROTECT2", args0: ["ENABLE", 4] },
    { op: "enable_cap", vm: "v0", cap: "MANUAL_DIRTY_LOG_PROTECT2", args0: [...cap] },
  );
  return fc.oneof(
    { weight: 6, arbitrary: get },
    { weight: cap.length > 0 ? 6 : 2, arbitrary: clear },
    { weight: 10, arbitrary: write },
    { weight: 4, arbitrary: read },
    { weight: 5, arbitrary: logging },
    { weight: 1, arbitrary: badCap },
  );
}

const enableCap = (cap: readonly DirtyLogManualName[]): Op[] =>
  cap.length === 0 ? [] : [{ op: "enable_cap", vm: "v0", cap: "MANUAL_DIRTY_LOG_PROTECT2", args0: [...cap] }];

function dirtySuite(name: string, description: string, config: Config, cap: readonly DirtyLogManualName[], runs: number): SequentialSuite {
  // Pre-copy's start: the guest has written slot 0 through 2 MiB mappings, then the VMM turns logging on there.
  const setup: Op[] = [
    { op: "create_vm", vm: "v0", type: 0 },
    ...enableCap(cap),
    ...setupOf(DIRTY, 0).slice(1),
    ...[0, 512, 1024].map((p): Op => ({ op: "vcpu_access", vm: "v0", vcpu: 0, gpa: p * PAGE_SIZE, kind: "write", byte: 0x11 })),
    regionOp(DIRTY.slots[0]!, { flags: ["LOG_DIRTY_PAGES"] }),
  ];
  const s: SequentialSuite = {
    name,
    description,
    kind: "sequential",
    area: "kvm",
    config,
    layout: DIRTY,
    setup,
    runs,
    maxCommands: 60,
    arbitrary: (l, c) => fc.oneof({ weight: 1, arbitrary: opArbitrary(l, c) }, { weight: 1, arbitrary: dirtyOps(l, c, cap) }),
    run: (opts) => runSequentialSuite(s, opts),
  };
  return s;
}

export const DIRTY_LOG_SUITES: readonly SequentialSuite[] = [
  dirtySuite("dirty-log-x86", "KVM_GET_DIRTY_LOG harvesting (no manual protect) against guest and KVM writes, logging and USERFAULT toggles on huge mappings (x86)", PRESETS.default, [], 60),
  dirtySuite(
    "dirty-log-manual-x86",
    "manual protect with INITIALLY_SET: GET leaves the bits, CLEAR (both sides of its bounds) write-protects, huge mappings lazily (x86)",
    PRESETS.default,
    ["ENABLE", "INITIALLY_SET"],
    60,
  ),
  dirtySuite("dirty-log-manual-arm64", "manual protect without INITIALLY_SET on arm64: CLEAR write-protects whole spans, no recovery", PRESETS.arm64, ["ENABLE"], 40),
];

// The races: slot 0 of 4 KiB anonymous memory logged from the start, pages 0 and 1 already dirty and writable.
const RACE_SETUP = (cap: readonly DirtyLogManualName[]): Op[] => [
  { op: "create_vm", vm: "v0", type: 0 },
  ...enableCap(cap),
  { op: "mmap", map: "m0", file: "anon", offset: 0, length: 4 * MiB },
  { op: "set_memory_region", vm: "v0", slot: 0, flags: ["LOG_DIRTY_PAGES"], guest_phys_addr: 0, memory_size: 4 * MiB, userspace: "m0", userspace_offset: 0 },
  ...[0, 1, 2, 3].map((g): Op => ({ op: "access", map: "m0", offset: g * PAGE_SIZE, kind: "write", byte: 0xa0 + g })),
  ...[0, 1].map((g): Op => ({ op: "vcpu_access", vm: "v0", vcpu: 0, gpa: g * PAGE_SIZE, kind: "write", byte: 0xb0 + g })),
];

const HOT = [0, 1, 2, 3].map((g) => g * PAGE_SIZE);

function raceActors(manual: boolean): fc.Arbitrary<RaceActor[]> {
  const write = (op: "vcpu_access" | "kvm_access", vcpu: number): fc.Arbitrary<Op> =>
    fc.tuple(fc.constantFrom(...HOT), fc.integer({ min: 1, max: 255 })).map(([gpa, byte]): Op => ({ op, vm: "v0", vcpu, gpa, kind: "write", byte }));
  const harvest: fc.Arbitrary<Op> = manual
    ? fc.constantFrom<Op>({ op: "get_dirty_log", vm: "v0", slot: 0 }, { op: "clear_dirty_log", vm: "v0", slot: 0, first_page: 0, num_pages: 64 })
    : fc.constant<Op>({ op: "get_dirty_log", vm: "v0", slot: 0 });
  return fc
    .record({
      vcpu: fc.array(write("vcpu_access", 0), { minLength: 1, maxLength: 2 }),
      vmm: fc.array(harvest, { minLength: 1, maxLength: 2 }),
      kvm: fc.option(fc.array(write("kvm_access", 1), { minLength: 1, maxLength: 2 }), { freq: 3 }),
    })
    .map(({ vcpu, vmm, kvm }) => [
      { name: "vCPU0", steps: vcpu },
      { name: "VMM", steps: [...vmm, { op: "get_dirty_log", vm: "v0", slot: 0 } as const] },
      ...(kvm === null ? [] : [{ name: "KVM", steps: kvm }]),
    ]);
}

const raceSuite = (name: string, description: string, cap: readonly DirtyLogManualName[], runs: number): ConcurrentSuite =>
  kvmRaceSuite({ name, description, config: PRESETS.default, setup: RACE_SETUP(cap), actors: raceActors(cap.length > 0), runs });

export const DIRTY_LOG_RACES: readonly ConcurrentSuite[] = [
  raceSuite("race-dirty-log", "KVM_GET_DIRTY_LOG harvesting while a vCPU write faults and KVM writes guest memory itself: no write may go unreported", [], 100),
  raceSuite("race-dirty-log-manual", "KVM_GET_DIRTY_LOG and KVM_CLEAR_DIRTY_LOG under manual protect against vCPU and KVM writes", ["ENABLE"], 60),
];
