// Edge examples for the resolving userfaultfd ioctls, the fault rules and the sleeping threads, run through model
// and impl together: hugetlbfs COPY / CONTINUE / POISON / WRITEPROTECT, pages cached past i_size, WRITEPROTECT's
// wakeup, what wake_check reports, and the lost-wakeup window between queueing and must_wait.
import { describe, expect, it } from "vitest";
import { SETUP, type RaceActor } from "../props/concurrent/harness.js";
import { PRESETS, type Config } from "../schema/config.js";
import type { Op, UffdFeatureName, UffdModeName } from "../schema/ops.js";
import { interleavings } from "./helpers/interleavings.js";
import { memslot } from "./helpers/ops.js";
import { runBoth } from "./helpers/run.js";

const P = 4096;
const H = 2 * 1024 * 1024;
const K618 = PRESETS["kernel-6.18"];
const RICH = PRESETS.default;

const open = (features: UffdFeatureName[] = [], uffd = "u0"): Op => ({ op: "uffd_open", uffd, features });
const reg = (mode: UffdModeName[], len: number, map = "m0", offset = 0): Op => ({ op: "uffd_register", uffd: "u0", map, offset, len, mode });
const copy = (offset: number, len: number, byte = 9, map = "m0", mode?: ("WP" | "DONTWAKE")[]): Op => ({ op: "uffdio_copy", uffd: "u0", map, offset, len, byte, ...(mode ? { mode } : {}) });
const cont = (offset: number, len: number, map = "m0"): Op => ({ op: "uffdio_continue", uffd: "u0", map, offset, len });
const poison = (offset: number, len: number, map = "m0"): Op => ({ op: "uffdio_poison", uffd: "u0", map, offset, len });
const wprot = (mode: ("WP" | "DONTWAKE")[], offset: number, len: number, map = "m0"): Op => ({ op: "uffdio_writeprotect", uffd: "u0", map, offset, len, mode });
const wake = (offset: number, len: number): Op => ({ op: "uffdio_wake", uffd: "u0", map: "m0", offset, len });
const read = (offset: number, id?: string, map = "m0"): Op => ({ op: "access", map, offset, kind: "read", ...(id ? { id } : {}) });
const write = (offset: number, id?: string, byte = 1): Op => ({ op: "access", map: "m0", offset, kind: "write", byte, ...(id ? { id } : {}) });
const check = (id: string): Op => ({ op: "wake_check", id });
const blocked = (address_offset: number, flags: ("WRITE" | "MINOR" | "WP")[] = [], uffd = "u0") => ({ result: "blocked", fault: { uffd, flags, address_offset } });

const anon = (pages = 4, prot?: "r"): Op[] => [{ op: "mmap", map: "m0", file: "anon", offset: 0, length: pages * P, ...(prot ? { prot } : {}) }];
/** A hugetlbfs file of `size` bytes behind a `length`-byte mapping `map`. */
const huge = (size: number, length: number, shared = true, map = "m0"): Op[] => [
  { op: "memfd", file: "f0", size, hugetlb: true },
  { op: "mmap", map, file: "f0", offset: 0, length, shared },
];
const falloc = (offset: number, len: number): Op => ({ op: "file_fallocate", file: "f0", mode: ["KEEP_SIZE"], offset, len });

async function outcomes(config: Config, ops: readonly Op[]) {
  return (await runBoth(config, ops)).outcomes;
}

describe("mfill_atomic page installation", () => {
  it("COPY into a read-only VMA maps the new page read-only (no VM_WRITE)", async () => {
    const r = await runBoth(K618, [...anon(4, "r"), open(), reg(["MISSING"], 4 * P), copy(0, P, 9), read(0), write(0)]);
    expect(r.outcomes.slice(-3)).toEqual([{ result: "ok", copy: P }, { result: "ok", value: 9 }, { result: "SIGSEGV", code: "SEGV_ACCERR" }]);
    expect(r.state.mm.maps.get("m0")!.ptes).toEqual([expect.objectContaining({ start: 0, end: 1, value: expect.objectContaining({ writable: false }) })]);
  });

  it("COPY into shmem at a page cached past i_size is EFAULT: the i_size check comes before the page cache insert", async () => {
    const ops: Op[] = [{ op: "memfd", file: "f0", size: 2 * P }, { op: "mmap", map: "m0", file: "f0", offset: 0, length: 4 * P, shared: true }, falloc(2 * P, P), open(), reg(["MISSING"], 4 * P), copy(2 * P, P)];
    expect((await outcomes(K618, ops)).at(-1)).toEqual({ errno: "EFAULT", copy: -14 });
  });

  it("a MINOR fault in a mapping at a file offset looks up the file page behind it", async () => {
    const ops: Op[] = [
      { op: "memfd", file: "f0", size: 4 * P },
      { op: "mmap", map: "m0", file: "f0", offset: 2 * P, length: 2 * P, shared: true },
      open(),
      reg(["MISSING", "MINOR"], 2 * P),
      { op: "pwrite", file: "f0", offset: 2 * P, byte: 7, len: P },
      read(0, "a0"),
      read(P, "a1"),
    ];
    expect((await outcomes(K618, ops)).slice(-2)).toEqual([blocked(0, ["MINOR"]), blocked(P, [])]);
  });
});

describe("guest_memfd fills (mm-2026)", () => {
  const gmem: Op[] = [
    { op: "create_vm", vm: "v0" },
    { op: "create_gmem", vm: "v0", gmem: "g0", size: 2 * P, flags: ["MMAP", "INIT_SHARED"] },
    { op: "gmem_mmap", gmem: "g0", map: "m0", offset: 0, length: 4 * P },
    open(),
  ];

  it("POISON past i_size is EFAULT (mfill_file_over_size)", async () => {
    expect((await outcomes(RICH, [...gmem, reg(["MISSING"], 4 * P), poison(2 * P, P)])).at(-1)).toEqual({ errno: "EFAULT", updated: -14 });
  });

  it("COPY onto a page converted to private inside i_size gets no folio: ENOMEM", async () => {
    const ops: Op[] = [{ op: "create_vm", vm: "v0", type: 1 }, ...gmem.slice(1), reg(["MISSING"], 4 * P), { op: "gmem_convert", gmem: "g0", offset: 0, size: P, to: "private" }, copy(0, P)];
    expect((await outcomes(PRESETS["gmem-v7"], ops)).slice(-2)).toEqual([{ result: "ok" }, { errno: "ENOMEM", copy: -12 }]);
  });

  it("faults on guest_memfd fire the guest_memfd rule, on shmem the page-cache rules, on anonymous memory the anon rule", async () => {
    const g = await runBoth(RICH, [...gmem, reg(["MISSING", "MINOR"], 4 * P), { op: "write_alias", map: "m0", offset: 0, byte: 3 }, read(0, "a0"), read(P, "a1")]);
    expect(g.outcomes.slice(-2)).toEqual([blocked(0, ["MINOR"]), blocked(P)]);
    for (const f of g.fired.slice(-2)) expect(f).toEqual(expect.arrayContaining(["uffd.fault-gmem", "uffd.fault-sleep"]));
    const shm: Op[] = [{ op: "memfd", file: "f0", size: 4 * P }, { op: "mmap", map: "m0", file: "f0", offset: 0, length: 4 * P, shared: true }];
    const s = await runBoth(K618, [...shm, open(), reg(["MISSING", "MINOR"], 4 * P), { op: "write_alias", map: "m0", offset: 0, byte: 3 }, read(0, "a0"), read(P, "a1")]);
    expect(s.fired.at(-2)).toContain("uffd.fault-minor");
    expect(s.fired.at(-1)).toContain("uffd.fault-missing-file");
    const a = await runBoth(K618, [...anon(), open(), reg(["MISSING"], 4 * P), read(0, "a0")]);
    expect(a.fired.at(-1)).toEqual(expect.arrayContaining(["uffd.fault-missing-anon", "uffd.fault-sleep"]));
  });
});

describe("hugetlbfs fills", () => {
  it("shared: a huge page cached past i_size is EEXIST for COPY (page cache first) and EFAULT for CONTINUE (i_size after the lookup)", async () => {
    const ops: Op[] = [...huge(H, 2 * H), falloc(H, H), open(), reg(["MISSING", "MINOR"], 2 * H), copy(H, H), cont(H, H)];
    expect((await outcomes(K618, ops)).slice(-2)).toEqual([{ errno: "EEXIST", copy: -17 }, { errno: "EFAULT", mapped: -14 }]);
  });

  it("shared: COPY fills a whole huge page of the page cache; a second COPY or a CONTINUE there is EEXIST; COPY past i_size is EFAULT", async () => {
    const ops: Op[] = [...huge(H, 2 * H), open(), reg(["MISSING", "MINOR"], 2 * H), copy(0, H, 3), read(5 * P), copy(0, H), cont(0, H), copy(H, H)];
    const r = await runBoth(K618, ops);
    expect(r.outcomes.slice(-5)).toEqual([{ result: "ok", copy: H }, { result: "ok", value: 3 }, { errno: "EEXIST", copy: -17 }, { errno: "EEXIST", mapped: -17 }, { errno: "EFAULT", copy: -14 }]);
    expect(r.state.mm.maps.get("m0")!.ptes).toEqual([expect.objectContaining({ start: 0, end: H / P })]);
  });

  it("shared: CONTINUE maps a fallocated huge page; POISON marks a whole huge page, once", async () => {
    const ops: Op[] = [...huge(2 * H, 2 * H), falloc(0, H), open(["POISON"]), reg(["MISSING", "MINOR"], 2 * H), cont(0, H), read(7 * P), cont(0, H), poison(H, H), poison(H, H), read(H + 9 * P)];
    const r = await runBoth(K618, ops);
    expect(r.outcomes.slice(-6)).toEqual([
      { result: "ok", mapped: H },
      { result: "ok", value: 0 },
      { errno: "EEXIST", mapped: -17 },
      { result: "ok", updated: H },
      { errno: "EEXIST", updated: -17 },
      { result: "SIGBUS", code: "BUS_ADRERR" },
    ]);
    expect(r.state.mm.maps.get("m0")!.markers).toEqual([{ start: H / P, end: (2 * H) / P, value: "poison" }]);
  });

  it("POISON of a huge page past i_size succeeds: hugetlb_mfill_atomic_pte installs the marker before any i_size check", async () => {
    const ops: Op[] = [...huge(H, 2 * H), open(["POISON"]), reg(["MISSING"], 2 * H), poison(H, H), read(H + P)];
    expect((await outcomes(K618, ops)).slice(-2)).toEqual([{ result: "ok", updated: H }, { result: "SIGBUS", code: "BUS_ADRERR" }]);
  });

  it("private: COPY installs an anonymous huge page; COPY again is EEXIST; CONTINUE without a page-cache page is EFAULT", async () => {
    const ops: Op[] = [...huge(2 * H, 2 * H, false), open(), reg(["MISSING", "MINOR"], 2 * H), copy(0, H, 4), read(3 * P), copy(0, H), cont(0, H), poison(H, H), read(H)];
    const r = await runBoth(K618, ops);
    expect(r.outcomes.slice(-6)).toEqual([
      { result: "ok", copy: H },
      { result: "ok", value: 4 },
      { errno: "EEXIST", copy: -17 },
      { errno: "EFAULT", mapped: -14 },
      { result: "ok", updated: H },
      { result: "SIGBUS", code: "BUS_ADRERR" },
    ]);
    const m = r.state.mm.maps.get("m0")!;
    expect(m.anon).toEqual([{ start: 0, end: H / P, value: true }]);
  });

  it("WRITEPROTECT needs a huge-aligned start and length, and is fine at a huge page past the first", async () => {
    const ops: Op[] = [...huge(2 * H, 2 * H), open(["WP_HUGETLBFS_SHMEM"]), reg(["MISSING", "WP"], 2 * H), wprot(["WP"], H, H), wprot(["WP"], 0, H), wprot(["WP"], P, H), wprot([], 0, 2 * H)];
    expect((await outcomes(K618, ops)).slice(-4)).toEqual([{ result: "ok" }, { result: "ok" }, { errno: "EINVAL" }, { result: "ok" }]);
  });
});

describe("UFFDIO_WRITEPROTECT wakes the range it resolves", () => {
  // Two write-protected pages, a writer asleep on each.
  const setup: Op[] = [...anon(), open(), reg(["MISSING", "WP"], 4 * P), copy(0, 2 * P, 9, "m0", ["WP"]), write(0, "a0"), write(P, "a1")];

  it("a resolve with DONTWAKE leaves the writer asleep; a later resolve wakes only its own range; WAKE then finishes the first", async () => {
    const r = await runBoth(K618, [...setup, wprot(["DONTWAKE"], 0, P), check("a0"), wprot([], P, P), check("a1"), check("a0"), wake(0, P), check("a0")]);
    expect(r.outcomes.slice(-9)).toEqual([
      blocked(0, ["WRITE", "WP"]),
      blocked(P, ["WRITE", "WP"]),
      { result: "ok" },
      blocked(0, ["WRITE", "WP"]),
      { result: "ok" },
      { result: "completed" },
      blocked(0, ["WRITE", "WP"]),
      { result: "ok" },
      { result: "completed" },
    ]);
    expect(r.fired.at(-2)).toEqual(["uffd.wake", "uffd.wake-retry", "mm.access"]);
  });

  it("a plain resolve wakes the writer at once", async () => {
    expect((await outcomes(K618, [...setup, wprot([], 0, P), check("a0"), check("a1")])).slice(-2)).toEqual([{ result: "completed" }, blocked(P, ["WRITE", "WP"])]);
  });

  it("WAKE with nobody asleep fires only the wake rule", async () => {
    expect((await runBoth(K618, [...anon(), open(), wake(0, P)])).fired.at(-1)).toEqual(["uffd.wake"]);
  });
});

describe("wake_check", () => {
  it("a woken thread whose retry hits a poison marker reports the SIGBUS", async () => {
    const ops: Op[] = [...anon(), open(["POISON"]), reg(["MISSING"], 4 * P), read(0, "a0"), poison(0, P), check("a0")];
    expect((await outcomes(K618, ops)).slice(-2)).toEqual([{ result: "ok", updated: P }, { result: "SIGBUS", code: "BUS_ADRERR" }]);
  });

  it("a sleeper on a uffd whose name was opened again reports it unnamed", async () => {
    const ops: Op[] = [...anon(), open(), reg(["MISSING"], 4 * P), read(0, "a0"), check("a0"), open(), check("a0")];
    expect((await outcomes(K618, ops)).slice(-3)).toEqual([blocked(0), { result: "ok", features: expect.any(Array), ioctls: ["REGISTER", "UNREGISTER", "API"] }, blocked(0, [], "unnamed")]);
  });
});

describe("a wakeup between handle_userfault's queueing and must_wait", () => {
  // s0 sleeps from the setup; a0 faults on page 0 while the VMM wakes page 0 (nothing resolved), then COPYs pages
  // 0 and 1. The WAKE takes a0's waiter off the queue before a0 sleeps: a0 must retry (it was woken), or the COPY
  // finds nobody to wake. Either way the COPY, which returns after a0's access, wakes both threads.
  const actors: RaceActor[] = [
    { name: SETUP, steps: [...anon(), open(), reg(["MISSING"], 4 * P), read(P, "s0")] },
    { name: "T", steps: [read(0, "a0")] },
    { name: "VMM", steps: [wake(0, P), copy(0, 2 * P, 5)] },
  ];

  it("is never lost, and leaves the other sleepers queued", async () => {
    // Choices [0, 0, 1]: T runs to its must_wait re-check, then the VMM's WAKE runs; every interleaving from there.
    let runs = 0;
    for await (const run of interleavings(K618, actors, 200, [0, 0, 1])) {
      if (runs === 0) {
        const labels = run.steps.map((s) => `${s.actor}:${s.label}`);
        expect(labels.slice(labels.indexOf("T:handle_userfault:must_wait"), labels.indexOf("T:handle_userfault:must_wait") + 2)).toEqual(["T:handle_userfault:must_wait", "VMM:return"]);
      }
      runs++;
      expect(run.failure, JSON.stringify(run.failure)).toBeUndefined();
    }
    expect(runs).toBeGreaterThan(2);
  });
});

describe("a woken vCPU's retry runs inside the wakeup", () => {
  // vCPU 0 sleeps in KVM's GUP of page 0; the VMM COPYs page 0, which wakes the vCPU; a third thread DONTNEEDs
  // page 0, an mmu notifier invalidation that can stall between its start and end. In the model the wakeup and the
  // retry are one step, so the vCPU has read the page in every order. A retry that others could preempt lets the
  // DONTNEED zap the page under it (the vCPU sleeps again); one that ignored the invalidation still in progress
  // would spin in RET_PF_RETRY instead of waiting for its end.
  const actors: RaceActor[] = [
    {
      name: SETUP,
      steps: [{ op: "create_vm", vm: "v0" }, ...anon(512), memslot(), open(), reg(["MISSING"], 4 * P), { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 0, kind: "read" }],
    },
    { name: "VMM", steps: [copy(0, P, 5)] },
    { name: "T", steps: [{ op: "madvise", map: "m0", offset: 0, len: P, advice: "DONTNEED" }] },
  ];

  it("is neither preempted by nor run through an invalidation of its page", async () => {
    let waited = 0;
    for await (const run of interleavings(K618, actors, 500)) {
      expect(run.failure, JSON.stringify(run.failure)).toBeUndefined();
      // The retry, inside the COPY, found the DONTNEED's invalidation in progress and waited for its end.
      if (run.steps.some((st) => st.actor === "VMM" && st.label === "RET_PF_RETRY")) waited++;
    }
    expect(waited).toBeGreaterThan(0);
  });
});
