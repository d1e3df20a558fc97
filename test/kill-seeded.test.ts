// Each seeded bug's shrunk counterexample, replayed deterministically: with the bug, the property that caught it
// fails (on its own when `only`); without it, every check passes.
// Milliseconds each, so mutation testing (vitest.mutation.config.ts) kills with them every mutant of model/ that
// weakens an invariant, and every mutant of impl/ that breaks these scenarios. The scenarios are the steps past
// each suite's setup (the races: the actors and the schedule), as `faultline mutants` shrank them. Where a bug leaves a
// PTE or SPTE on a page its owner no longer holds, the pointer invariants (ptes-map-their-page,
// stage2-maps-current-page) fail first, at the step the stale pointer appears; the invariant that caught it before
// them is shown alone where it can be.
import { describe, expect, it } from "vitest";
import { type BugId } from "../impl/bugs.js";
import { ALL_CHECKS, Checker, PropertyFailure, type Checks } from "../props/checker.js";
import { runRace, SETUP, type RaceActor } from "../props/concurrent/harness.js";
import { suiteNamed } from "../props/registry.js";
import type { Config } from "../schema/config.js";
import type { Op } from "../schema/ops.js";

interface Case {
  readonly bug: BugId;
  readonly suite: string;
  readonly property: string;
  /** The property's check alone (the others would stop the scenario earlier). */
  readonly only?: true;
  readonly steps?: readonly Op[];
  readonly actors?: readonly RaceActor[];
  readonly schedule?: readonly number[];
}

const CASES: readonly Case[] = [
  { bug: "userfault-enable-no-zap", suite: "kvm-anon-x86", property: "refinement.state",
    steps: [
      { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 1, kind: "read" },
      { op: "set_memory_region", vm: "v0", slot: 0, flags: ["USERFAULT"], guest_phys_addr: 0, memory_size: 4194304, userspace: "m0", userspace_offset: 0 },
    ] },
  { bug: "userfault-huge", suite: "kvm-hugetlb-x86", property: "userfault-4k",
    steps: [
      { op: "set_memory_region", vm: "v0", slot: 1, flags: ["USERFAULT"], guest_phys_addr: 8388608, memory_size: 6291456, userspace: "m1", userspace_offset: 8388608 },
      { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 8388608, kind: "read" },
    ] },
  { bug: "userfault-bitmap-ignored", suite: "kvm-anon-x86", property: "userfault-exits",
    steps: [
      { op: "set_memory_region", vm: "v0", slot: 1, flags: ["LOG_DIRTY_PAGES", "USERFAULT"], guest_phys_addr: 4194304, memory_size: 4194304, userspace: "m0", userspace_offset: 4194304 },
      { op: "userfault_set", vm: "v0", slot: 1, gfn_offset: 1023, npages: 1 },
      { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 8384513, kind: "read" },
    ] },
  { bug: "memslot-overlap-off-by-one", suite: "kvm-anon-x86", property: "memslots-disjoint",
    steps: [
      { op: "set_memory_region", vm: "v0", slot: 32763, flags: [], guest_phys_addr: 67108864, memory_size: 4096, userspace: "m0", userspace_offset: 0 },
      { op: "set_memory_region", vm: "v0", slot: 0, flags: [], guest_phys_addr: 67108864, memory_size: 4194304, userspace: "m0", userspace_offset: 0 },
    ] },
  { bug: "attr-no-zap", suite: "kvm-gmem-x86", property: "stage2-in-slot",
    steps: [
      { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 0, kind: "read" },
      { op: "set_memory_attributes", vm: "v0", address: 0, size: 4096, attributes: ["PRIVATE"] },
    ] },
  { bug: "delete-no-zap", suite: "kvm-anon-x86", property: "stage2-in-slot",
    steps: [
      { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 0, kind: "read" },
      { op: "set_memory_region", vm: "v0", slot: 0, flags: [], guest_phys_addr: 0, memory_size: 0, userspace: "m0", userspace_offset: 0 },
    ] },
  { bug: "munmap-no-notify", suite: "kvm-anon-x86", property: "stage2-maps-current-page",
    steps: [
      { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 0, kind: "read" },
      { op: "munmap", map: "m0", offset: 0, len: 2097152 },
    ] },
  { bug: "anon-write-to-old-page", suite: "kvm-anon-x86", property: "stage2-maps-current-page",
    steps: [
      { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 0, kind: "write", byte: 1 },
    ] },
  { bug: "anon-write-to-old-page", suite: "kvm-anon-x86", property: "writes-stick", only: true,
    steps: [
      { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 0, kind: "write", byte: 1 },
    ] },
  { bug: "zap-frees-contents", suite: "kvm-anon-x86", property: "zap-keeps-contents",
    steps: [
      { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 4194304, kind: "write", byte: 1 },
      { op: "set_memory_region", vm: "v0", slot: 1, flags: [], guest_phys_addr: 16777216, memory_size: 4194304, userspace: "m0", userspace_offset: 4194304 },
    ] },
  { bug: "userfault-enable-zap-early", suite: "race-userfault-enable", property: "refinement.state",
    actors: [{ name: "vCPU0", steps: [{ op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 0, kind: "read" }] }, { name: "VMM", steps: [{ op: "userfault_set", vm: "v0", slot: 0, gfn_offset: 0, npages: 1 }, { op: "set_memory_region", vm: "v0", slot: 0, flags: ["USERFAULT"], guest_phys_addr: 0, memory_size: 4194304, userspace: "m0", userspace_offset: 0 }] }],
    schedule: [0, 0, 1] },
  { bug: "userfault-double-fetch", suite: "race-userfault-clear", property: "linearizability",
    actors: [{ name: "vCPU0", steps: [{ op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 4096, kind: "read" }] }, { name: "VMM", steps: [{ op: "userfault_clear", vm: "v0", slot: 0, gfn_offset: 1, npages: 1 }] }],
    schedule: [0, 0, 0, 0, 1] },
  { bug: "memslot-lookup-outside-srcu", suite: "race-memslot-delete-move", property: "stage2-in-slot",
    actors: [{ name: "vCPU0", steps: [{ op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 0, kind: "read" }] }, { name: "VMM", steps: [{ op: "set_memory_region", vm: "v0", slot: 0, flags: [], guest_phys_addr: 0, memory_size: 0, userspace: "m0", userspace_offset: 0 }] }],
    schedule: [0, 0, 1] },
  { bug: "memslot-invalidate-no-sync", suite: "race-memslot-delete-move", property: "stage2-in-slot",
    actors: [{ name: "vCPU0", steps: [{ op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 0, kind: "read" }] }, { name: "VMM", steps: [{ op: "set_memory_region", vm: "v0", slot: 0, flags: [], guest_phys_addr: 0, memory_size: 0, userspace: "m0", userspace_offset: 0 }] }],
    schedule: [0, 0, 1] },
  { bug: "attr-store-before-invalidate", suite: "race-attributes", property: "stage2-in-slot",
    actors: [{ name: "vCPU0", steps: [{ op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 4096, kind: "read", private: false }] }, { name: "VMM", steps: [{ op: "set_memory_attributes", vm: "v0", address: 4096, size: 4096, attributes: ["PRIVATE"] }] }],
    schedule: [] },
  { bug: "fault-no-invalidate-recheck", suite: "race-attributes", property: "stage2-in-slot",
    actors: [{ name: "vCPU0", steps: [{ op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 4096, kind: "read", private: false }] }, { name: "VMM", steps: [{ op: "set_memory_attributes", vm: "v0", address: 4096, size: 4096, attributes: ["PRIVATE"] }] }],
    schedule: [0, 0, 0, 0, 1] },
  { bug: "gmem-host-fault-unlocked", suite: "race-gmem-convert-host", property: "gmem-private-not-host-mapped",
    actors: [{ name: "host", steps: [{ op: "pin", map: "m5", offset: 0 }] }, { name: "VMM", steps: [{ op: "gmem_convert", gmem: "g0", offset: 0, size: 4096, to: "private" }] }],
    schedule: [0, 0, 1] },
  { bug: "gmem-convert-check-before-unmap", suite: "gmem-v8", property: "refinement.outcome",
    steps: [
      { op: "access", map: "m5", offset: 1, kind: "read" },
      { op: "gmem_convert", gmem: "g0", offset: 0, size: 8388608, to: "private" },
    ] },
  { bug: "gmem-convert-commit-before-check", suite: "gmem-v8", property: "gmem-pinned-shared",
    steps: [
      { op: "pin", map: "m5", offset: 0 },
      { op: "gmem_convert", gmem: "g0", offset: 0, size: 4096, to: "private" },
    ] },
  { bug: "gmem-convert-no-unmap", suite: "gmem-v8", property: "gmem-private-not-host-mapped",
    steps: [
      { op: "access", map: "m5", offset: 1, kind: "read" },
      { op: "gmem_convert", gmem: "g0", offset: 0, size: 8388608, to: "private" },
    ] },
  { bug: "gmem-convert-no-zap", suite: "gmem-v8", property: "stage2-in-slot",
    steps: [
      { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 18878464, kind: "read" },
      { op: "gmem_convert", gmem: "g2", offset: 2101248, size: 2093056, to: "shared" },
    ] },
  { bug: "gmem-convert-scrubs", suite: "gmem-v8", property: "gmem-contents",
    steps: [
      { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 10481664, kind: "write", byte: 1, private: true },
      { op: "gmem_convert", gmem: "g1", offset: 2093056, size: 8192, to: "shared" },
    ] },
  { bug: "gmem-punch-no-zap", suite: "gmem-v8", property: "gmem-stage2-backed",
    steps: [
      { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 18874368, kind: "read" },
      { op: "gmem_fallocate", gmem: "g2", mode: ["PUNCH_HOLE", "KEEP_SIZE"], offset: 2093056, len: 8192 },
    ] },
  { bug: "gmem-merge-mapped", suite: "gmem-v8-2m", property: "refinement.state",
    steps: [
      { op: "access", map: "m5", offset: 1, kind: "read" },
      { op: "gmem_convert", gmem: "g0", offset: 0, size: 4096, to: "private" },
    ] },
  { bug: "gmem-huge-ignores-split", suite: "gmem-v8-2m", property: "stage2-in-slot",
    steps: [
      { op: "gmem_convert", gmem: "g2", offset: 8192, size: 4096, to: "shared" },
      { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 16777216, kind: "read" },
    ] },
  { bug: "uffd-minor-ignored", suite: "uffd-shmem", property: "uffd-no-early-map",
    steps: [
      { op: "access", map: "m2", offset: 0, kind: "read" },
      { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 5, kind: "read" },
    ] },
  { bug: "uffd-no-must-wait", suite: "race-uffd-shmem", property: "refinement.state",
    actors: [{ name: "thread", steps: [{ op: "access", map: "m0", offset: 8, kind: "read", id: "t0" }] }, { name: "monitor", steps: [{ op: "uffdio_copy", uffd: "u0", map: "m0", offset: 0, len: 4096, byte: 1 }] }],
    schedule: [0, 0, 1] },
  { bug: "uffd-wake-short", suite: "uffd-anon", property: "uffd-no-lost-wakeup",
    steps: [
      { op: "access", map: "m0", offset: 28673, kind: "read" },
      { op: "uffdio_poison", uffd: "u0", map: "m0", offset: 28672, len: 4096 },
    ] },
  { bug: "uffd-continue-fresh-page", suite: "uffd-shmem", property: "ptes-map-their-page",
    steps: [
      { op: "read_alias", map: "m1", offset: 8193 },
      { op: "uffdio_continue", uffd: "u0", map: "m0", offset: 8192, len: 4096 },
      { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 8197, kind: "write", byte: 1 },
    ] },
  { bug: "uffd-continue-fresh-page", suite: "uffd-shmem", property: "writes-stick", only: true,
    steps: [
      { op: "read_alias", map: "m1", offset: 8193 },
      { op: "uffdio_continue", uffd: "u0", map: "m0", offset: 8192, len: 4096 },
      { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 8197, kind: "write", byte: 1 },
    ] },
  { bug: "uffd-continue-clears-page", suite: "uffd-shmem", property: "uffd-keeps-contents",
    steps: [
      { op: "write_alias", map: "m1", offset: 8193, byte: 1 },
      { op: "uffdio_continue", uffd: "u0", map: "m0", offset: 8192, len: 4096 },
    ] },
  { bug: "uffd-move-keeps-src", suite: "refusals-vocab", property: "ptes-map-their-page",
    steps: [
      { op: "uffdio_move", uffd: "u0", map: "m0", offset: 4096, src: "m1", src_offset: 0, len: 4096 },
    ] },
  { bug: "alias-write-first-page-only", suite: "uffd-shmem", property: "alias-writes-stick",
    steps: [
      { op: "write_alias", map: "m0", offset: 1, byte: 1, len: 4104 },
    ] },
  { bug: "fault-no-pte-recheck", suite: "race-host-fault", property: "refinement.state",
    actors: [{ name: "thread0", steps: [{ op: "access", map: "m0", offset: 8, kind: "write", byte: 1 }] }, { name: "thread1", steps: [{ op: "access", map: "m0", offset: 8, kind: "read" }] }],
    schedule: [1, 1] },
  { bug: "munmap-no-notify", suite: "kvm-anon-x86", property: "reads-last-write", only: true,
    steps: [
      { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 4198400, kind: "read", private: false },
      { op: "munmap", map: "m0", offset: 4194304, len: 2097152 },
      { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 4198400, kind: "read" },
    ] },
  { bug: "gmem-convert-commit-before-check", suite: "gmem-v8", property: "gmem-convert-pins", only: true,
    steps: [
      { op: "pin", map: "m5", offset: 0 },
      { op: "gmem_convert", gmem: "g0", offset: 0, size: 4096, to: "private" },
    ] },
  { bug: "gmem-merge-mapped", suite: "gmem-v8-2m", property: "gmem-host-map-split", only: true,
    steps: [
      { op: "access", map: "m5", offset: 1, kind: "read" },
      { op: "gmem_convert", gmem: "g0", offset: 2093056, size: 4096, to: "private" },
    ] },
  { bug: "gmem-huge-ignores-split", suite: "gmem-v8-2m", property: "gmem-huge-stage2", only: true,
    steps: [
      { op: "gmem_convert", gmem: "g2", offset: 8192, size: 4096, to: "shared" },
      { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 16777216, kind: "read" },
    ] },
  { bug: "uffd-continue-fresh-page", suite: "uffd-shmem", property: "uffd-woken-read", only: true,
    steps: [
      { op: "write_alias", map: "m2", offset: 20480, byte: 1, len: 8192 },
      { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 20485, kind: "read" },
      { op: "uffdio_continue", uffd: "u0", map: "m0", offset: 20480, len: 4096 },
    ] },
  { bug: "uffd-wake-short", suite: "uffd-anon", property: "uffd-no-lost-wakeup", only: true,
    steps: [
      { op: "access", map: "m0", offset: 28673, kind: "read" },
      { op: "uffdio_poison", uffd: "u0", map: "m0", offset: 28672, len: 4096 },
    ] },

  { bug: "exit-private-flag-dropped", suite: "kvm-anon-x86", property: "refinement.outcome",
    steps: [
      { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 0, kind: "read", private: true },
    ] },
  { bug: "mmio-ro-write-as-read", suite: "kvm-anon-x86", property: "refinement.outcome",
    steps: [
      { op: "set_memory_region", vm: "v0", slot: 0, flags: [], guest_phys_addr: 0, memory_size: 0, userspace: "m0", userspace_offset: 0 },
      { op: "set_memory_region", vm: "v0", slot: 0, flags: ["READONLY"], guest_phys_addr: 0, memory_size: 4194304, userspace: "m0", userspace_offset: 0 },
      { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 0, kind: "write", byte: 1, private: false },
    ] },
  { bug: "fault-seq-after-faultin", suite: "race-gmem-convert-vcpu", property: "stage2-in-slot",
    actors: [{ name: "vCPU0", steps: [{ op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 0, kind: "read", private: false }] }, { name: "VMM", steps: [{ op: "gmem_convert", gmem: "g0", offset: 0, size: 4096, to: "private" }] }],
    schedule: [1, 0, 1] },
  { bug: "userfault-bitmap-unchecked", suite: "refusals-kvm", property: "refinement.outcome",
    steps: [
      { op: "set_memory_region", vm: "v0", slot: 0, flags: ["USERFAULT"], guest_phys_addr: 0, memory_size: 4194304, userspace: "m0", userspace_offset: 0, userfault_bitmap: 140737488355328 },
    ] },
  { bug: "gmem-convert-unlocked", suite: "race-gmem-convert-host", property: "gmem-private-not-host-mapped",
    actors: [{ name: "host", steps: [{ op: "pin", map: "m5", offset: 0 }] }, { name: "VMM", steps: [{ op: "gmem_convert", gmem: "g0", offset: 0, size: 4096, to: "private" }] }],
    schedule: [1, 1, 1, 1] },
  { bug: "gmem-rfc-no-folio-lock", suite: "race-gmem-rfc-2024", property: "gmem-private-not-host-mapped",
    actors: [{ name: "host", steps: [{ op: "access", map: "m5", offset: 0, kind: "read" }] }, { name: "VMM", steps: [{ op: "set_memory_attributes", vm: "v0", address: 0, size: 4096, attributes: ["PRIVATE"] }] }],
    schedule: [0, 0, 0, 1, 0, 0, 1] },
  { bug: "gmem-punch-folio-unlocked", suite: "race-gmem-punch", property: "ptes-map-their-page",
    actors: [{ name: "VMM", steps: [{ op: "gmem_fallocate", gmem: "g0", mode: ["PUNCH_HOLE", "KEEP_SIZE"], offset: 0, len: 4096 }] }, { name: "host", steps: [{ op: "access", map: "m5", offset: 0, kind: "read" }, { op: "access", map: "m5", offset: 0, kind: "read" }] }],
    schedule: [1, 0, 0, 1, 1] },

];

type Embedded = { readonly config: Config; readonly setup: readonly Op[] };

/** Runs the case on its suite's configuration and setup; the failing property, if any. */
async function run(c: Case, bugs: readonly BugId[], checks: Checks): Promise<string | undefined> {
  const suite = suiteNamed(c.suite) as unknown as Embedded;
  const config = { ...suite.config, bugs: [...bugs] };
  if (c.actors !== undefined) {
    const r = await runRace(config, [{ name: SETUP, steps: suite.setup }, ...c.actors], { kind: "choices", choices: c.schedule ?? [] }, { checks });
    return r.failure?.property;
  }
  const checker = new Checker(config, checks);
  try {
    await checker.applyAll([...suite.setup, ...c.steps!]);
    return undefined;
  } catch (e) {
    if (!(e instanceof PropertyFailure)) throw e;
    return e.failure.property;
  }
}

describe("each seeded bug's shrunk counterexample", () => {
  for (const c of CASES) {
    it(`${c.bug}: ${c.property}${c.only === true ? " alone" : ""} fails with the bug and holds without it`, async () => {
      const checks: Checks = c.only === true ? { refinement: false, invariants: [c.property] } : ALL_CHECKS;
      expect(await run(c, [c.bug], checks)).toBe(c.property);
      expect(await run(c, [], ALL_CHECKS)).toBeUndefined();
    });
  }
});
