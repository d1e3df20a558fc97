// The progress property for exits under races, for every fault-exit design (docs/VARIANTS.md): each vCPU thread
// obeys its own exit (does what the exit asks, as a VMM that handles exits on the vCPU thread does) and re-enters the
// guest, while the other vCPU does the same on its page and a VMM thread works on other pages and on the slot. The
// retried access must complete: judged on what the implementation answered (`exit-progress`, a property of the whole
// run), and through linearizability against the model of the design. A design that breaks another property on
// purpose (eager-split keeps mappings over marked pages) runs without that invariant: its race judges progress.
// Bits are only cleared, never set under the live slot (docs/RACES.md, "What the suites stay away from").
import fc from "fast-check";
import type { BugId } from "../impl/bugs.js";
import { PAGE_SIZE } from "../model/consts.js";
import { INVARIANTS } from "../model/index.js";
import { PRESETS, type Config, type FaultExitDesign } from "../schema/config.js";
import type { Op, OpOf } from "../schema/ops.js";
import type { Outcome } from "../schema/outcome.js";
import type { Checks } from "./checker.js";
import { kvmRaceSuite, type ConcurrentSuite } from "./concurrent/explore.js";
import type { RaceActor, RaceFailure, RunProperty } from "./concurrent/harness.js";
import type { RaceOp } from "./concurrent/history.js";
import { EXIT_PROGRESS } from "./progress.js";

const MiB = 1024 * 1024;
const HOT = [0, 1, 2, 3] as const;
const kinds = fc.constantFrom("read" as const, "write" as const);
const SLOT0: OpOf<"set_memory_region"> = { op: "set_memory_region", vm: "v0", slot: 0, flags: ["USERFAULT"], guest_phys_addr: 0, memory_size: 4 * MiB, userspace: "m0", userspace_offset: 0 };

const ok = (o: Outcome | undefined): boolean => o !== undefined && "result" in o && o.result === "ok";

/**
 * Every vCPU actor's steps are an access, the VMM's answer, and the same access again: the retry must complete.
 * Non-vacuous when some first access exited (the VMM had something to do).
 */
export const EXIT_PROGRESS_RUN: RunProperty = {
  name: EXIT_PROGRESS,
  judge(ops: readonly RaceOp[]): RaceFailure | boolean {
    let exited = false;
    for (const actor of new Set(ops.filter((r) => r.actor.startsWith("vCPU")).map((r) => r.actor))) {
      const mine = ops.filter((r) => r.actor === actor).sort((a, b) => a.index - b.index);
      const first = mine[0]!;
      const retry = mine.at(-1)!;
      if (mine.length < 2 || retry.op.op !== "vcpu_access") continue;
      if (!ok(first.impl)) exited = true;
      if (ok(retry.impl)) continue;
      const answer = mine.slice(1, -1).map((r) => r.op.op).join(", ");
      const detail = `${actor} did what its exit asked (${answer}) and the retried access did not complete`;
      return { property: EXIT_PROGRESS, step: retry.index, expected: "the access completes", actual: retry.impl, detail, actor };
    }
    return exited;
  },
};

/** The same access before and after the VMM's answer. */
const obey = (access: Op, answer: readonly Op[]): Op[] => [access, ...answer, access];

const vcpuAccess = (vcpu: number, gfn: number, kind: "read" | "write"): Op => ({
  op: "vcpu_access",
  vm: "v0",
  vcpu,
  gpa: gfn * PAGE_SIZE,
  kind,
  ...(kind === "write" ? { byte: 0x40 + (gfn % 64) } : {}),
});

const clearBit = (gfn: number): Op => ({ op: "userfault_clear", vm: "v0", slot: 0, gfn_offset: gfn, npages: 1 });

/** KVM Userfault (v3, and the designs that keep its exits): a vCPU's access, the bit cleared, the retry. */
export const obeyAndRetry = (vcpu: number, gfn: number, kind: "read" | "write"): Op[] => obey(vcpuAccess(vcpu, gfn, kind), [clearBit(gfn)]);

export const PROGRESS_RACE_SETUP: readonly Op[] = [
  { op: "create_vm", vm: "v0", type: 0 },
  { op: "mmap", map: "m0", file: "anon", offset: 0, length: 4 * MiB },
  ...HOT.map((g): Op => ({ op: "access", map: "m0", offset: g * PAGE_SIZE, kind: "write", byte: 0xa0 + g })),
  SLOT0,
  { op: "userfault_set", vm: "v0", slot: 0, gfn_offset: 0, npages: HOT.length },
];

/** Two vCPUs obey their USERFAULT exits while the VMM clears other bits and turns KVM_MEM_USERFAULT off. */
const userfaultActors: fc.Arbitrary<RaceActor[]> = fc
  .record({
    k0: kinds,
    k1: fc.option(kinds, { freq: 3 }),
    vmm: fc.array(fc.oneof(fc.constantFrom(2, 3).map(clearBit), fc.constant<Op>({ ...SLOT0, flags: [] })), { minLength: 1, maxLength: 2 }),
  })
  .map(({ k0, k1, vmm }) => [
    { name: "vCPU0", steps: obeyAndRetry(0, 0, k0) },
    { name: "VMM", steps: vmm },
    ...(k1 === null ? [] : [{ name: "vCPU1", steps: obeyAndRetry(1, 1, k1) }]),
  ]);

/**
 * eager-split: hugetlbfs memory, gfn 0..511 mapped by one 2 MiB SPTE, bits set on gfn 0..3 and 512, and the
 * KVM_MEM_USERFAULT 0->1 toggle in the race: the design demotes the huge mapping instead of zapping it, so gfn 0 may
 * be read without an exit (userfault-enable-unmaps, broken on purpose), and gfn 512 exits. One vCPU: the enable
 * publishes the flag before its zap (docs/RACES.md), which two vCPUs could tell apart.
 */
const HUGE_SLOT0: OpOf<"set_memory_region"> = { ...SLOT0, flags: [], userspace: "m1" };
export const EAGER_SPLIT_SETUP: readonly Op[] = [
  { op: "create_vm", vm: "v0", type: 0 },
  { op: "memfd", file: "f0", size: 4 * MiB, hugetlb: true },
  { op: "mmap", map: "m1", file: "f0", offset: 0, length: 4 * MiB, shared: true },
  ...[0, 512].map((g): Op => ({ op: "access", map: "m1", offset: g * PAGE_SIZE, kind: "write", byte: 0xa0 + (g % 64) })),
  HUGE_SLOT0,
  { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 8 * PAGE_SIZE, kind: "read" },
  { op: "userfault_set", vm: "v0", slot: 0, gfn_offset: 0, npages: HOT.length },
  { op: "userfault_set", vm: "v0", slot: 0, gfn_offset: 512, npages: 1 },
];

const eagerSplitActors: fc.Arbitrary<RaceActor[]> = fc
  .record({
    // gfn 512 twice as often: its exit needs the toggle first; gfn 0 shows the demoted mapping taking the read.
    gfn: fc.constantFrom(0, 512, 512),
    kind: kinds,
    after: fc.array(fc.constantFrom(clearBit(2), { ...HUGE_SLOT0 } as Op), { maxLength: 1 }),
  })
  .map(({ gfn, kind, after }) => [
    { name: "vCPU0", steps: obeyAndRetry(0, gfn, kind) },
    { name: "VMM", steps: [{ ...HUGE_SLOT0, flags: ["USERFAULT"] } as Op, ...after] },
  ]);

/**
 * exit-on-missing: bit 3 is KVM_MEM_EXIT_ON_MISSING; gfn 0 is missing and gfn 1 the zero page (present, read-only:
 * fast GUP asks for FOLL_WRITE), so either access exits. The VMM's answer is to fill the page (a write through its
 * mapping: a present, writable PTE); meanwhile a VMM thread drops and fills other pages and turns the flag off.
 */
export const EXIT_ON_MISSING_SETUP: readonly Op[] = [
  { op: "create_vm", vm: "v0", type: 0 },
  { op: "mmap", map: "m0", file: "anon", offset: 0, length: 4 * MiB },
  { op: "access", map: "m0", offset: PAGE_SIZE, kind: "read" },
  SLOT0,
];

const fill = (gfn: number): Op => ({ op: "access", map: "m0", offset: gfn * PAGE_SIZE, kind: "write", byte: 0x60 + gfn });
const dontneed = (map: string, gfn: number): Op => ({ op: "madvise", map, offset: gfn * PAGE_SIZE, len: PAGE_SIZE, advice: "DONTNEED" });

const exitOnMissingActors: fc.Arbitrary<RaceActor[]> = fc
  .record({
    k0: kinds,
    k1: fc.option(kinds, { freq: 3 }),
    vmm: fc.array(fc.oneof(fc.constantFrom(2, 3).map((g) => dontneed("m0", g)), fc.constantFrom(2, 3).map(fill), fc.constant<Op>({ ...SLOT0, flags: [] })), {
      minLength: 1,
      maxLength: 2,
    }),
  })
  .map(({ k0, k1, vmm }) => [
    { name: "vCPU0", steps: obey(vcpuAccess(0, 0, k0), [fill(0)]) },
    { name: "VMM", steps: vmm },
    ...(k1 === null ? [] : [{ name: "vCPU1", steps: obey(vcpuAccess(1, 1, k1), [fill(1)]) }]),
  ]);

/**
 * arm64-memory-fault-info (arm64): each vCPU's page is in a read-only anonymous mapping of its own slot, so its write
 * fails GUP, which the design turns into a KVM_EXIT_MEMORY_FAULT for the gfn. The VMM's answer is to map the memory
 * writable again (munmap, mmap); meanwhile a VMM thread drops pages of either mapping (MADV_DONTNEED).
 */
const OWN = [
  { map: "m0", slot: 0, gfn: 0 },
  { map: "m2", slot: 1, gfn: 512 },
] as const;
const ownMap = (map: string, prot?: "r"): Op => ({ op: "mmap", map, file: "anon", offset: 0, length: 2 * MiB, ...(prot === undefined ? {} : { prot }) });
export const READ_ONLY_SETUP: readonly Op[] = [
  { op: "create_vm", vm: "v0", type: 0 },
  ...OWN.map((o) => ownMap(o.map, "r")),
  ...OWN.map((o): Op => ({ ...SLOT0, slot: o.slot, flags: [], guest_phys_addr: o.gfn * PAGE_SIZE, memory_size: 2 * MiB, userspace: o.map })),
];

const readOnlyActors: fc.Arbitrary<RaceActor[]> = fc
  .record({
    two: fc.boolean(),
    vmm: fc.array(fc.constantFrom(...OWN.flatMap((o) => [0, 1].map((page) => dontneed(o.map, page)))), { minLength: 1, maxLength: 2 }),
  })
  .map(({ two, vmm }) => [
    ...OWN.slice(0, two ? 2 : 1).map((o, i) => ({ name: `vCPU${i}`, steps: obey(vcpuAccess(i, o.gfn, "write"), [{ op: "munmap", map: o.map }, ownMap(o.map)]) })),
    { name: "VMM", steps: vmm },
  ]);

/** Every check but the invariants a design breaks on purpose. */
const without = (broken: readonly string[]): Checks => ({ refinement: true, invariants: [...INVARIANTS.map((i) => i.name).filter((n) => !broken.includes(n)), EXIT_PROGRESS] });

interface Shape {
  readonly name: string;
  readonly design: FaultExitDesign;
  readonly base: Config;
  readonly what: string;
  readonly setup: readonly Op[];
  readonly actors: fc.Arbitrary<RaceActor[]>;
  readonly runs: number;
  readonly checks?: Checks;
}

const raceSuite = (r: Shape): ConcurrentSuite =>
  kvmRaceSuite({
    name: r.name,
    description: `${r.what} (${r.design}, ${r.base.arch}): the retried access completes`,
    config: { ...r.base, faultExit: r.design },
    setup: r.setup,
    actors: r.actors,
    runs: r.runs,
    property: EXIT_PROGRESS_RUN,
    ...(r.checks === undefined ? {} : { checks: r.checks }),
  });

const USERFAULT_RACE = "each vCPU obeys its USERFAULT exit (clears the bit) and retries while the other vCPU and a VMM thread run";

/** One race per fault-exit design; the first two are KVM Userfault v3's own. */
export const PROGRESS_RACES: readonly ConcurrentSuite[] = [
  raceSuite({ name: "race-exit-progress", design: "userfault-v3", base: PRESETS.default, what: USERFAULT_RACE, setup: PROGRESS_RACE_SETUP, actors: userfaultActors, runs: 60 }),
  raceSuite({ name: "race-exit-progress-arm64", design: "userfault-v3", base: PRESETS.arm64, what: USERFAULT_RACE, setup: PROGRESS_RACE_SETUP, actors: userfaultActors, runs: 40 }),
  raceSuite({
    name: "race-exit-progress-arm64-userfault-v1",
    design: "userfault-v1",
    base: PRESETS.arm64,
    what: `${USERFAULT_RACE}; turning USERFAULT off zaps the slot under the retry`,
    setup: PROGRESS_RACE_SETUP,
    actors: userfaultActors,
    runs: 30,
  }),
  raceSuite({
    name: "race-exit-progress-memory-fault-rwx",
    design: "memory-fault-rwx",
    base: PRESETS.default,
    what: `${USERFAULT_RACE}; every exit carries READ or WRITE`,
    setup: PROGRESS_RACE_SETUP,
    actors: userfaultActors,
    runs: 30,
  }),
  raceSuite({
    name: "race-exit-progress-eager-split",
    design: "eager-split",
    base: PRESETS.default,
    what: "vCPU 0 obeys its USERFAULT exit on hugetlbfs memory while the VMM turns KVM_MEM_USERFAULT on (demoting the 2 MiB mapping)",
    setup: EAGER_SPLIT_SETUP,
    actors: eagerSplitActors,
    runs: 40,
    checks: without(["userfault-enable-unmaps"]),
  }),
  raceSuite({
    name: "race-exit-progress-exit-on-missing",
    design: "exit-on-missing",
    base: PRESETS.default,
    what: "each vCPU obeys its exit-on-missing exit (the VMM fills the page) and retries while a VMM thread drops and fills other pages",
    setup: EXIT_ON_MISSING_SETUP,
    actors: exitOnMissingActors,
    runs: 40,
  }),
  raceSuite({
    name: "race-exit-progress-arm64-memory-fault-info",
    design: "arm64-memory-fault-info",
    base: PRESETS.arm64,
    what: "each vCPU obeys the exit of its write to a read-only mapping (the VMM maps it writable) while a VMM thread drops pages",
    setup: READ_ONLY_SETUP,
    actors: readOnlyActors,
    runs: 30,
  }),
];

/** Each race's prove scope (props/prove/scopes.ts): vCPU 0's access, answer and retry against one VMM operation. */
export const PROGRESS_SCOPES: Readonly<Record<string, { readonly what: string; readonly actors: Readonly<Record<string, readonly Op[]>> }>> = {
  "race-exit-progress": { what: "vCPU 0 obeys its USERFAULT exit on gfn 0 and retries while the VMM clears gfn 2's bit", actors: { vCPU0: obeyAndRetry(0, 0, "read"), VMM: [clearBit(2)] } },
  "race-exit-progress-arm64": {
    what: "vCPU 0 obeys its USERFAULT exit on gfn 0 and retries while the VMM clears gfn 2's bit (arm64)",
    actors: { vCPU0: obeyAndRetry(0, 0, "read"), VMM: [clearBit(2)] },
  },
  "race-exit-progress-arm64-userfault-v1": {
    what: "vCPU 0 obeys its USERFAULT exit on gfn 0 and retries while the VMM turns USERFAULT off, zapping the slot (userfault-v1, arm64)",
    actors: { vCPU0: obeyAndRetry(0, 0, "read"), VMM: [{ ...SLOT0, flags: [] }] },
  },
  "race-exit-progress-memory-fault-rwx": {
    what: "vCPU 0 obeys its USERFAULT exit (with READ) on gfn 0 and retries while the VMM clears gfn 2's bit (memory-fault-rwx)",
    actors: { vCPU0: obeyAndRetry(0, 0, "read"), VMM: [clearBit(2)] },
  },
  "race-exit-progress-eager-split": {
    what: "vCPU 0 reads gfn 512, obeys its exit and retries while the VMM turns USERFAULT on, demoting the 2 MiB mapping (eager-split)",
    actors: { vCPU0: obeyAndRetry(0, 512, "read"), VMM: [{ ...HUGE_SLOT0, flags: ["USERFAULT"] }] },
  },
  "race-exit-progress-exit-on-missing": {
    what: "vCPU 0 reads missing gfn 0, the VMM fills it, vCPU 0 retries while a VMM thread turns the flag off (exit-on-missing)",
    actors: { vCPU0: obey(vcpuAccess(0, 0, "read"), [fill(0)]), VMM: [{ ...SLOT0, flags: [] }] },
  },
  "race-exit-progress-arm64-memory-fault-info": {
    what: "vCPU 0 writes read-only gfn 0, the VMM maps it writable, vCPU 0 retries while a VMM thread drops the page (arm64-memory-fault-info)",
    actors: { vCPU0: obey(vcpuAccess(0, 0, "write"), [{ op: "munmap", map: "m0" }, ownMap("m0")]), VMM: [dontneed("m0", 0)] },
  },
};

/** The seeded bug each race must find: a retry that takes the same exit again (impl/bugs.ts). */
export const PROGRESS_BUGS: Readonly<Record<string, BugId>> = {
  "race-exit-progress": "userfault-exit-cached",
  "race-exit-progress-arm64": "userfault-exit-cached",
  "race-exit-progress-arm64-userfault-v1": "userfault-exit-cached",
  "race-exit-progress-memory-fault-rwx": "userfault-exit-cached",
  "race-exit-progress-eager-split": "userfault-exit-cached",
  "race-exit-progress-exit-on-missing": "error-pfn-exit-cached",
  "race-exit-progress-arm64-memory-fault-info": "error-pfn-exit-cached",
};
