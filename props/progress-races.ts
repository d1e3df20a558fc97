// The progress property for exits under races: each vCPU thread obeys its own USERFAULT exit (clears the page's bit,
// as a VMM that handles exits on the vCPU thread does) and re-enters the guest, while the other vCPU does the same on
// its page and a VMM thread clears other bits and turns KVM_MEM_USERFAULT off. Whatever the order, the model says the
// retried access completes, so linearizability fails on a retry that takes the same exit again (a stuck vCPU).
// Bits are only cleared, never set under the live slot (docs/RACES.md, "What the suites stay away from").
import fc from "fast-check";
import { PAGE_SIZE } from "../model/consts.js";
import { PRESETS, type Config } from "../schema/config.js";
import type { Op, OpOf } from "../schema/ops.js";
import { kvmRaceSuite, type ConcurrentSuite } from "./concurrent/explore.js";
import type { RaceActor } from "./concurrent/harness.js";

const MiB = 1024 * 1024;
const HOT = [0, 1, 2, 3] as const;
const SLOT0: OpOf<"set_memory_region"> = { op: "set_memory_region", vm: "v0", slot: 0, flags: ["USERFAULT"], guest_phys_addr: 0, memory_size: 4 * MiB, userspace: "m0", userspace_offset: 0 };

export const PROGRESS_RACE_SETUP: readonly Op[] = [
  { op: "create_vm", vm: "v0", type: 0 },
  { op: "mmap", map: "m0", file: "anon", offset: 0, length: 4 * MiB },
  ...HOT.map((g): Op => ({ op: "access", map: "m0", offset: g * PAGE_SIZE, kind: "write", byte: 0xa0 + g })),
  SLOT0,
  { op: "userfault_set", vm: "v0", slot: 0, gfn_offset: 0, npages: HOT.length },
];

const clearBit = (gfn: number): Op => ({ op: "userfault_clear", vm: "v0", slot: 0, gfn_offset: gfn, npages: 1 });

/** A vCPU's access to its page, the VMM's answer to the exit it takes, and the retry. */
export const obeyAndRetry = (vcpu: number, gfn: number, kind: "read" | "write"): Op[] => {
  const access: Op = { op: "vcpu_access", vm: "v0", vcpu, gpa: gfn * PAGE_SIZE, kind, ...(kind === "write" ? { byte: 0x40 + gfn } : {}) };
  return [access, clearBit(gfn), access];
};

const actors: fc.Arbitrary<RaceActor[]> = fc
  .record({
    k0: fc.constantFrom("read" as const, "write" as const),
    k1: fc.option(fc.constantFrom("read" as const, "write" as const), { freq: 3 }),
    vmm: fc.array(fc.oneof(fc.constantFrom(2, 3).map(clearBit), fc.constant<Op>({ ...SLOT0, flags: [] })), { minLength: 1, maxLength: 2 }),
  })
  .map(({ k0, k1, vmm }) => [
    { name: "vCPU0", steps: obeyAndRetry(0, 0, k0) },
    { name: "VMM", steps: vmm },
    ...(k1 === null ? [] : [{ name: "vCPU1", steps: obeyAndRetry(1, 1, k1) }]),
  ]);

const raceSuite = (name: string, config: Config, runs: number): ConcurrentSuite =>
  kvmRaceSuite({
    name,
    description: `each vCPU obeys its USERFAULT exit and retries while the other vCPU and a VMM thread run (${config.arch}): the retry never takes the same exit`,
    config,
    setup: PROGRESS_RACE_SETUP,
    actors,
    runs,
  });

export const PROGRESS_RACES: readonly ConcurrentSuite[] = [raceSuite("race-exit-progress", PRESETS.default, 60), raceSuite("race-exit-progress-arm64", PRESETS.arm64, 40)];
