// The concurrent userfaultfd suite: a thread faulting on a MINOR|MISSING-registered shmem mapping races the
// monitor's resolution (alias write, CONTINUE / COPY / WAKE) and the page cache changing under it (punch-hole,
// MADV_DONTNEED). The race harness checks invariants at every yield point and linearizability against the
// model, whose wakeup retries the woken thread in the same step.
import fc from "fast-check";
import { PAGE_SIZE } from "../../model/consts.js";
import { PRESETS } from "../../schema/config.js";
import type { Op } from "../../schema/ops.js";
import { runConcurrentSuite, type ConcurrentSuite } from "../concurrent/explore.js";
import type { RaceActor } from "../concurrent/harness.js";
import { pctSteps } from "../concurrent/run-lengths.js";

const P = PAGE_SIZE;
const page = fc.constantFrom(0, 1);
const byte = fc.integer({ min: 1, max: 255 });

const SETUP: readonly Op[] = [
  { op: "memfd", file: "f0", size: 2 * P },
  { op: "mmap", map: "m0", file: "f0", offset: 0, length: 2 * P, shared: true },
  { op: "uffd_open", uffd: "u0", features: [] },
  { op: "uffd_register", uffd: "u0", map: "m0", offset: 0, len: 2 * P, mode: ["MISSING", "MINOR"] },
];

/** A thread of the program: its accesses (each may sleep), then what became of each. */
const faulting = fc.array(fc.tuple(page, fc.boolean(), byte), { minLength: 1, maxLength: 2 }).map((as): Op[] => [
  ...as.map(([p, write, b], i): Op => ({ op: "access", map: "m0", offset: p * P + 8, kind: write ? "write" : "read", id: `t${i}`, ...(write ? { byte: b } : {}) })),
  ...as.map((_, i): Op => ({ op: "wake_check", id: `t${i}` })),
]);

/** The monitor: fill through the alias, then resolve one page (one page at a time: a wakeup follows each fill). */
const monitor = fc.array(
  fc.oneof(
    fc.tuple(page, byte).map(([p, b]): Op => ({ op: "write_alias", map: "m0", offset: p * P, byte: b })),
    page.map((p): Op => ({ op: "uffdio_continue", uffd: "u0", map: "m0", offset: p * P, len: P })),
    fc.tuple(page, byte).map(([p, b]): Op => ({ op: "uffdio_copy", uffd: "u0", map: "m0", offset: p * P, len: P, byte: b })),
    page.map((p): Op => ({ op: "uffdio_wake", uffd: "u0", map: "m0", offset: p * P, len: P })),
  ),
  { minLength: 1, maxLength: 3 },
);

/** The page cache changing under the fault: punch-hole, MADV_DONTNEED, a write(2). */
const churn = fc.array(
  fc.oneof(
    page.map((p): Op => ({ op: "file_fallocate", file: "f0", mode: ["PUNCH_HOLE", "KEEP_SIZE"], offset: p * P, len: P })),
    page.map((p): Op => ({ op: "madvise", map: "m0", offset: p * P, len: P, advice: "DONTNEED" })),
    fc.tuple(page, byte).map(([p, b]): Op => ({ op: "pwrite", file: "f0", offset: p * P + 8, byte: b, len: 1 })),
  ),
  { minLength: 0, maxLength: 2 },
);

const actors: fc.Arbitrary<RaceActor[]> = fc.tuple(faulting, monitor, churn).map(([t, m, c]) => [
  { name: "thread", steps: t },
  { name: "monitor", steps: m },
  ...(c.length === 0 ? [] : [{ name: "churn", steps: c }]),
]);

export const UFFD_RACE: ConcurrentSuite = {
  name: "race-uffd-shmem",
  description: "a thread faulting on MINOR|MISSING shmem races alias writes, CONTINUE / COPY / WAKE, punch-hole and MADV_DONTNEED",
  kind: "concurrent",
  area: "uffd",
  config: PRESETS["kernel-6.18"],
  setup: SETUP,
  actors,
  runs: 1200,
  steps: pctSteps("race-uffd-shmem"),
  depth: 3,
  run: (opts) => runConcurrentSuite(UFFD_RACE, opts),
};

/**
 * The host fault path under userfaultfd's ioctls and the race harness: two threads fault the same pages of a
 * private anonymous mapping and of private (COW) and shared mappings of one shmem file, while a third zaps or
 * writes them. Every fault re-checks its PTE under the page table lock before it installs one.
 */
const HOST_SETUP: readonly Op[] = [
  { op: "mmap", map: "m0", file: "anon", offset: 0, length: 2 * P },
  { op: "memfd", file: "f0", size: 2 * P },
  { op: "mmap", map: "m1", file: "f0", offset: 0, length: 2 * P, shared: false },
  { op: "mmap", map: "m2", file: "f0", offset: 0, length: 2 * P, shared: true },
];

const hostAccess = fc
  .tuple(fc.constantFrom("m0", "m0", "m1", "m2"), page, fc.boolean(), byte)
  .map(([m, p, write, b]): Op => ({ op: "access", map: m, offset: p * P + 8, kind: write ? "write" : "read", ...(write ? { byte: b } : {}) }));

const hostChurn = fc.oneof(
  fc.tuple(fc.constantFrom("m0", "m1", "m2"), page).map(([m, p]): Op => ({ op: "madvise", map: m, offset: p * P, len: P, advice: "DONTNEED" })),
  fc.tuple(page, byte).map(([p, b]): Op => ({ op: "write_alias", map: "m2", offset: p * P + 8, byte: b })),
);

const hostActors: fc.Arbitrary<RaceActor[]> = fc
  .tuple(fc.array(hostAccess, { minLength: 1, maxLength: 3 }), fc.array(hostAccess, { minLength: 1, maxLength: 3 }), fc.array(hostChurn, { maxLength: 2 }))
  .map(([a, b, c]) => [{ name: "thread0", steps: a }, { name: "thread1", steps: b }, ...(c.length === 0 ? [] : [{ name: "churn", steps: c }])]);

export const HOST_FAULT_RACE: ConcurrentSuite = {
  name: "race-host-fault",
  description: "two threads fault the same anonymous and shmem pages (private COW and shared) while a third zaps or writes them",
  kind: "concurrent",
  area: "uffd",
  config: PRESETS["kernel-6.18"],
  setup: HOST_SETUP,
  actors: hostActors,
  runs: 600,
  steps: pctSteps("race-host-fault"),
  depth: 3,
  run: (opts) => runConcurrentSuite(HOST_FAULT_RACE, opts),
};
