// Races written for the real kernel, beside the race suites of `faultline check`: a vCPU faulting on an anonymous
// slot registered MISSING with userfaultfd, served by a handler thread, while the VMM updates the memslots. On a
// kernel they block for real: the vCPU sleeps in handle_userfault until a fill wakes it, and a memslot update
// waits in synchronize_srcu for that vCPU (docs/CONFORMANCE.md D6), which sequential conformance cannot run. And
// dirty logging's harvest against vCPU stores, without KVM's own writes (race-dirty-log's, which the helper cannot make).
import fc from "fast-check";
import { PRESETS, type Config } from "../schema/config.js";
import type { MemslotFlagName, Op } from "../schema/ops.js";
import type { Actor } from "./races.js";

export interface KernelRace {
  readonly name: string;
  readonly description: string;
  readonly config: Config;
  readonly setup: readonly Op[];
  readonly actors: fc.Arbitrary<Actor[]>;
}

const PAGE = 4096;
const MiB = 1024 * 1024;
const page = fc.constantFrom(0, 1);
const byte = fc.integer({ min: 1, max: 255 });

/** Slot 0: 2 MiB of m0 at gpa 0. */
const slot0 = (flags: MemslotFlagName[]): Op => ({
  op: "set_memory_region",
  vm: "v0",
  slot: 0,
  flags,
  guest_phys_addr: 0,
  memory_size: 2 * MiB,
  userspace: "m0",
  userspace_offset: 0,
});

const VCPU_SETUP: readonly Op[] = [
  { op: "create_vm", vm: "v0" },
  { op: "mmap", map: "m0", file: "anon", offset: 0, length: 2 * MiB },
  slot0([]),
  { op: "uffd_open", uffd: "u0", features: [] },
  { op: "uffd_register", uffd: "u0", map: "m0", offset: 0, len: 2 * PAGE, mode: ["MISSING"] },
];

/** A vCPU's one guest access on a registered page, then what became of its thread. */
const vcpu = (n: number): fc.Arbitrary<Actor> =>
  fc.tuple(page, fc.boolean(), byte).map(([p, write, b]) => ({
    name: `vCPU${n}`,
    steps: [
      { op: "vcpu_access", vm: "v0", vcpu: n, gpa: p * PAGE + 8, kind: write ? "write" : "read", ...(write ? { byte: b } : {}) },
      { op: "wake_check", id: `v0.vcpu${n}` },
    ],
  }));

/** The handler: fills (COPY, ZEROPAGE) and wakes, one page at a time. */
const handler: fc.Arbitrary<Actor> = fc
  .array(
    fc.oneof(
      fc.tuple(page, byte).map(([p, b]): Op => ({ op: "uffdio_copy", uffd: "u0", map: "m0", offset: p * PAGE, len: PAGE, byte: b })),
      page.map((p): Op => ({ op: "uffdio_zeropage", uffd: "u0", map: "m0", offset: p * PAGE, len: PAGE })),
      page.map((p): Op => ({ op: "uffdio_wake", uffd: "u0", map: "m0", offset: p * PAGE, len: PAGE })),
    ),
    { minLength: 1, maxLength: 3 },
  )
  .map((steps) => ({ name: "handler", steps }));

/** Slot 1 at 16 MiB over the third page of m0 (memory_size 0: DELETE). */
const slot1 = (memory_size: number): Op => ({
  op: "set_memory_region",
  vm: "v0",
  slot: 1,
  flags: [],
  guest_phys_addr: 16 * MiB,
  memory_size,
  userspace: "m0",
  userspace_offset: 2 * PAGE,
});

/** The VMM: a second slot created and deleted over the same memory, or slot 0's dirty logging toggled. */
const vmm: fc.Arbitrary<Actor> = fc
  .array(
    fc.constantFrom<Op>(
      slot1(PAGE),
      slot1(0),
      slot0(["LOG_DIRTY_PAGES"]),
    ),
    { minLength: 1, maxLength: 2 },
  )
  .map((steps) => ({ name: "VMM", steps }));

/** A host thread faulting the same pages, then its fate. */
const hostThread: fc.Arbitrary<Actor> = fc.tuple(page, fc.boolean(), byte).map(([p, write, b]) => ({
  name: "thread",
  steps: [
    { op: "access", map: "m0", offset: p * PAGE + 8, kind: write ? "write" : "read", id: "t0", ...(write ? { byte: b } : {}) },
    { op: "wake_check", id: "t0" },
  ],
}));

/**
 * Dirty logging on slot 0 (manual protect or not): pages 0 to 3 written by the host first (their PTEs writable, so
 * a read fault may map them writable too), pages 0 and 1 by vCPU0 (mapped writable, marked).
 */
const dirtySetup = (manual: boolean): Op[] => [
  { op: "create_vm", vm: "v0" },
  ...(manual ? [{ op: "enable_cap", vm: "v0", cap: "MANUAL_DIRTY_LOG_PROTECT2", args0: ["ENABLE"] } satisfies Op] : []),
  { op: "mmap", map: "m0", file: "anon", offset: 0, length: 2 * MiB },
  slot0(["LOG_DIRTY_PAGES"]),
  ...[0, 1, 2, 3].map((p): Op => ({ op: "access", map: "m0", offset: p * PAGE, kind: "write", byte: 0xa0 + p })),
  ...[0, 1].map((p): Op => ({ op: "vcpu_access", vm: "v0", vcpu: 0, gpa: p * PAGE, kind: "write", byte: 0xb0 + p })),
];

/** A vCPU's loads and stores on the four pages. */
const dirtyGuest = (n: number): fc.Arbitrary<Actor> =>
  fc
    .array(
      fc.tuple(fc.constantFrom(0, 1, 2, 3), fc.boolean(), byte).map(([p, write, b]): Op => ({
        op: "vcpu_access",
        vm: "v0",
        vcpu: n,
        gpa: p * PAGE,
        kind: write ? "write" : "read",
        ...(write ? { byte: b } : {}),
      })),
      { minLength: 1, maxLength: 3 },
    )
    .map((steps) => ({ name: `vCPU${n}`, steps }));

const GET: Op = { op: "get_dirty_log", vm: "v0", slot: 0 };
const CLEAR_FIRST_WORD: Op = { op: "clear_dirty_log", vm: "v0", slot: 0, first_page: 0, num_pages: 64 };

/** The VMM harvests (GET, or GET and CLEAR of the first word under manual protect), then a last GET reports. */
const harvester = (manual: boolean): fc.Arbitrary<Actor> =>
  fc
    .array(manual ? fc.constantFrom<Op>(GET, CLEAR_FIRST_WORD) : fc.constant(GET), { minLength: 1, maxLength: 2 })
    .map((steps) => ({ name: "VMM", steps: [...steps, GET] }));

const dirtyRace = (manual: boolean): KernelRace => ({
  name: manual ? "kernel-dirty-log-manual" : "kernel-dirty-log",
  description: manual
    ? "KVM_GET_DIRTY_LOG and KVM_CLEAR_DIRTY_LOG under manual protect while vCPUs load and store on the logged pages"
    : "KVM_GET_DIRTY_LOG harvesting while vCPUs load and store on the logged pages: no write may go unreported",
  config: PRESETS["kernel-6.18"],
  setup: dirtySetup(manual),
  actors: fc
    .tuple(dirtyGuest(0), harvester(manual), fc.option(dirtyGuest(1), { freq: 2 }))
    .map(([v0, vmm, v1]) => [v0, vmm, ...(v1 === null ? [] : [v1])]),
});

export const KERNEL_RACES: readonly KernelRace[] = [
  {
    name: "kernel-vcpu-uffd-missing",
    description: "vCPUs fault on MISSING-registered anonymous memory behind a slot, a handler fills and wakes, the VMM updates memslots",
    config: PRESETS["kernel-6.18"],
    setup: VCPU_SETUP,
    actors: fc
      .tuple(vcpu(0), handler, fc.option(vmm, { freq: 2 }), fc.option(vcpu(1), { freq: 3 }))
      .map(([v0, hd, vm, v1]) => [v0, hd, ...(vm === null ? [] : [vm]), ...(v1 === null ? [] : [v1])]),
  },
  {
    name: "kernel-host-uffd-missing",
    description:
      "a host thread and a vCPU fault the same MISSING-registered anonymous page, a handler fills it (COPY or ZEROPAGE) or wakes",
    config: PRESETS["kernel-6.18"],
    setup: VCPU_SETUP,
    actors: fc.tuple(hostThread, vcpu(0), handler).map((as) => as),
  },
  dirtyRace(false),
  dirtyRace(true),
];
