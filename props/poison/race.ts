// Bits set on a live KVM_MEM_USERFAULT slot while vCPUs fault (the exclusion docs/RACES.md kept until issue 18's
// poison work): the VMM marks pages (a poisoned page, or one it must fetch again) and then does nothing, toggles
// USERFAULT off and on, or calls the proposed re-scan ioctl. The property, from the thread (shared/seeds 000,
// 2025-05-28/29): a set bit does not unmap what is mapped, so a vCPU may still read through an SPTE until the toggle
// or the re-scan; a fault that reads the bit after the VMM set it exits; once the toggle or the re-scan has returned,
// no access completes on a marked page. Linearizability against the model says all three; the one outcome no atomic
// order gives, an exit on a page another vCPU mapped meanwhile, is admitted as an alternative
// (model/alternatives.ts, userfault.exit-stale-miss): an extra exit for a marked page, never a read.
import fc from "fast-check";
import type { Op, OpOf } from "../../schema/ops.js";
import { kvmRaceSuite, type ConcurrentSuite } from "../concurrent/explore.js";
import type { RaceActor } from "../concurrent/harness.js";
import { POISON_CONFIG, POISON_CONFIG_ARM64 } from "./suite.js";

const PAGE = 4096;
const MiB = 1024 * 1024;
/** gfn 1 is mapped when the race starts, gfn 2 is not (a fault on it reads the bit). */
const HOT = [1, 2] as const;

const slot0 = (flags: readonly "USERFAULT"[]): Op => ({
  op: "set_memory_region",
  vm: "v0",
  slot: 0,
  flags: [...flags],
  guest_phys_addr: 0,
  memory_size: 4 * MiB,
  userspace: "m0",
  userspace_offset: 0,
});

/** A live USERFAULT slot over anonymous memory, the hot pages written on the host and gfn 1 mapped by the guest. */
const SETUP: readonly Op[] = [
  { op: "create_vm", vm: "v0" },
  { op: "mmap", map: "m0", file: "anon", offset: 0, length: 4 * MiB },
  slot0(["USERFAULT"]),
  ...HOT.map((g): Op => ({ op: "access", map: "m0", offset: g * PAGE, kind: "write", byte: 0xa0 + g })),
  { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: PAGE, kind: "read" },
];

/** Mostly gfn 2, the page a fault in flight can map after the VMM marked it. */
const gfn = fc.constantFrom(2, 2, 1);
const access = (vcpu: number): fc.Arbitrary<Op> =>
  fc.tuple(gfn, fc.boolean(), fc.integer({ min: 1, max: 255 })).map(([g, write, byte]): Op => ({
    op: "vcpu_access",
    vm: "v0",
    vcpu,
    gpa: g * PAGE,
    kind: write ? "write" : "read",
    ...(write ? { byte } : {}),
  }));

/** The VMM marks one or two pages, then leaves them, re-scans, or toggles USERFAULT off and on. */
const vmm: fc.Arbitrary<Op[]> = fc
  .tuple(fc.constantFrom([2], [2], [1], [1, 2], [2, 1]), fc.constantFrom("none", "rescan", "rescan", "rescan", "toggle"))
  .map(([gs, then]) => [
    ...gs.map((g): Op => ({ op: "userfault_set", vm: "v0", slot: 0, gfn_offset: g, npages: 1 })),
    ...(then === "rescan" ? [{ op: "userfault_rescan", vm: "v0", slot: 0 } as const] : then === "toggle" ? [slot0([]), slot0(["USERFAULT"])] : []),
  ]);

/**
 * Two vCPUs on both pages, except around a toggle: turning USERFAULT on publishes the flag before its zap, so until
 * the ioctl returns a vCPU may exit on one marked page and still read another through an old SPTE (docs/RACES.md, "A
 * USERFAULT enable seen by two vCPUs"; one vCPU on two pages is enough), a transient of the enable that no atomic
 * step explains, not of the bit. Around a toggle, one vCPU touches one page.
 */
const actors: fc.Arbitrary<RaceActor[]> = fc
  .record({ vcpu0: fc.array(access(0), { minLength: 1, maxLength: 3 }), vmm, vcpu1: fc.option(fc.array(access(1), { minLength: 1, maxLength: 2 }), { freq: 3 }) })
  .map(({ vcpu0, vmm: v, vcpu1 }) => {
    const toggles = v.some((op) => op.op === "set_memory_region");
    const gpa = (vcpu0[0] as OpOf<"vcpu_access">).gpa;
    return [
      { name: "vCPU0", steps: toggles ? vcpu0.map((op) => ({ ...(op as OpOf<"vcpu_access">), gpa })) : vcpu0 },
      { name: "VMM", steps: v },
      ...(vcpu1 === null || toggles ? [] : [{ name: "vCPU1", steps: vcpu1 }]),
    ];
  });

const race = (name: string, description: string, config: typeof POISON_CONFIG, runs: number): ConcurrentSuite =>
  kvmRaceSuite({ name, description, config, setup: SETUP, actors, runs });

const DESCRIPTION = "bits set on a live KVM_MEM_USERFAULT slot while two vCPUs fault, then nothing, the proposed re-scan ioctl, or a USERFAULT off/on toggle";

export const POISON_RACES: readonly ConcurrentSuite[] = [
  race("race-userfault-set-live", DESCRIPTION, POISON_CONFIG, 500),
  race("race-userfault-set-live-arm64", `${DESCRIPTION} (arm64)`, POISON_CONFIG_ARM64, 200),
];
