// Fault-path edges of the host mm, written from the surviving mutants of the mm Stryker run (docs/MUTATION.md,
// docs/mutation/mm.md): write faults on read-only PTEs (zero page, uffd-wp under WP_ASYNC, guest_memfd), uffd-wp
// bits and markers left in a VMA that lost WP, fault-around's i_size and marker skips, access checks, and the
// must-wait and PTE re-checks that only races reach. Model and impl run together (runBoth, the race harness).
import { describe, expect, it } from "vitest";
import { SETUP, type RaceActor, type RaceRun } from "../props/concurrent/harness.js";
import { PRESETS } from "../schema/config.js";
import type { Op, UffdFeatureName, UffdModeName } from "../schema/ops.js";
import { interleavings } from "./helpers/interleavings.js";
import { memslot } from "./helpers/ops.js";
import { runBoth } from "./helpers/run.js";

const P = 4096;
const K618 = PRESETS["kernel-6.18"];

const anon = (pages = 4, prot?: "r" | "none"): Op => ({ op: "mmap", map: "m0", file: "anon", offset: 0, length: pages * P, ...(prot ? { prot } : {}) });
const shmem = (size: number, length = size, shared = true): Op[] => [
  { op: "memfd", file: "f0", size },
  { op: "mmap", map: "m0", file: "f0", offset: 0, length, shared },
];
const open = (features: UffdFeatureName[] = []): Op => ({ op: "uffd_open", uffd: "u0", features });
const reg = (mode: UffdModeName[], len = 4 * P): Op => ({ op: "uffd_register", uffd: "u0", map: "m0", offset: 0, len, mode });
const wprot = (offset: number, len = P, mode: ("WP" | "DONTWAKE")[] = ["WP"]): Op => ({ op: "uffdio_writeprotect", uffd: "u0", map: "m0", offset, len, mode });
const read = (offset: number): Op => ({ op: "access", map: "m0", offset, kind: "read" });
const write = (offset: number, byte = 1): Op => ({ op: "access", map: "m0", offset, kind: "write", byte });

describe("write faults on read-only PTEs (do_wp_page)", () => {
  it("a write to the zero page in a WP-registered VMA is a plain COW: no uffd-wp bit, no WP message (userfaultfd_pte_wp)", async () => {
    const r = await runBoth(K618, [anon(), open(), reg(["WP"]), read(0), write(0, 3), read(0)]);
    expect(r.outcomes.slice(-2)).toEqual([{ result: "ok" }, { result: "ok", value: 3 }]);
  });

  it("under WP_ASYNC a write to a write-protected anonymous page reuses it in place (wp_page_reuse): its data stays", async () => {
    const r = await runBoth(K618, [anon(), open(["WP_ASYNC"]), reg(["WP"]), write(P, 7), wprot(P), write(P + 1, 8), read(P), read(P + 1)]);
    expect(r.outcomes.slice(-3)).toEqual([{ result: "ok" }, { result: "ok", value: 7 }, { result: "ok", value: 8 }]);
  });

  it("a write to a ZEROPAGE PTE of a private shmem mapping COWs to a blank private page, the file untouched (wp_page_copy)", async () => {
    const r = await runBoth(K618, [...shmem(4 * P, 4 * P, false), open(), reg(["MISSING"]), { op: "uffdio_zeropage", uffd: "u0", map: "m0", offset: 0, len: P }, write(1, 1), read(0), read(1)]);
    expect(r.outcomes.slice(-3)).toEqual([{ result: "ok" }, { result: "ok", value: 0 }, { result: "ok", value: 1 }]);
    expect(r.state.mm.maps.get("m0")!.ptes).toEqual([{ start: 0, end: 1, value: { target: "anon", writable: true, page: { in: "anon", map: "m0", delta: 0 } } }]);
    expect(r.state.mm.files[0]!.present).toEqual([]);
  });

  it("a write to a write-protected guest_memfd PTE under WP_ASYNC makes it writable (kvm_gmem_fault_user_mapping)", async () => {
    const gmem: Op[] = [
      { op: "create_vm", vm: "v0" },
      { op: "create_gmem", vm: "v0", gmem: "g0", size: 4 * P, flags: ["MMAP", "INIT_SHARED"] },
      { op: "gmem_mmap", gmem: "g0", map: "m0", offset: 0, length: 4 * P },
    ];
    const r = await runBoth(K618, [...gmem, open(["WP_ASYNC"]), reg(["WP"]), write(P, 5), wprot(P), write(P + 1, 6), read(P), read(P + 1)]);
    expect(r.outcomes.slice(-3)).toEqual([{ result: "ok" }, { result: "ok", value: 5 }, { result: "ok", value: 6 }]);
  });

  it("making a write-protected shared file PTE writable under WP_ASYNC leaves KVM's SPTE of it (wp_page_reuse: no mmu notifier)", async () => {
    const vcpuRead: Op = { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: P, kind: "read" };
    const ops: Op[] = [{ op: "create_vm", vm: "v0" }, ...shmem(4 * P), memslot({ memory_size: 4 * P }), open(["WP_ASYNC"]), reg(["WP"]), write(P, 1), wprot(P), vcpuRead, write(P, 2)];
    const r = await runBoth(K618, ops);
    expect(r.outcomes.at(-1)).toEqual({ result: "ok" });
    expect(r.state.mm.maps.get("m0")!.ptes).toEqual([{ start: 1, end: 2, value: { target: "file", writable: true, page: { in: "file", file: 0, delta: 0 } } }]);
    expect(r.state.kvm.vms[0]!.stage2[0]).toEqual([{ start: 1, end: 2, value: { level: 0, writable: false, private: false, page: { in: "file", file: 0, delta: 0 } } }]);
  });
});

// userfaultfd_register_range replaces a VMA's modes without uffd_wp_range (only unregister resolves uffd-wp state),
// so uffd-wp bits and markers outlive a re-registration MISSING-only; userfaultfd_pte_wp and pte_marker_handle_uffd_wp
// then see a VMA without VM_UFFD_WP and ignore them.
describe("uffd-wp bits and markers in faults", () => {
  const wpThenMissing = [open(), reg(["WP"]), wprot(P), reg(["MISSING"])];

  it("a stale uffd-wp bit in a VMA re-registered MISSING-only does not stop a write (userfaultfd_pte_wp)", async () => {
    const r = await runBoth(K618, [...shmem(4 * P), write(P, 4), ...wpThenMissing, write(P + 1, 5), read(P)]);
    expect(r.outcomes.slice(-2)).toEqual([{ result: "ok" }, { result: "ok", value: 4 }]);
  });

  it("a stale uffd-wp marker in a VMA re-registered MISSING-only maps the page as usual, not write-protected", async () => {
    const r = await runBoth(K618, [...shmem(4 * P), { op: "pwrite", file: "f0", offset: P, len: P, byte: 6 }, ...wpThenMissing, read(P)]);
    expect(r.outcomes.at(-1)).toEqual({ result: "ok", value: 6 });
    const m = r.state.mm.maps.get("m0")!;
    expect(m.ptes).toEqual([{ start: 1, end: 2, value: { target: "file", writable: true, page: { in: "file", file: 0, delta: 0 } } }]);
    expect(m.markers ?? []).toEqual([]);
  });

  it("a fault through a hugetlb uffd-wp marker clears it over the whole huge page and maps it write-protected", async () => {
    const H = 2 * 1024 * 1024;
    const ops: Op[] = [{ op: "memfd", file: "f0", size: H, hugetlb: true }, { op: "mmap", map: "m0", file: "f0", offset: 0, length: H, shared: true }, open(), reg(["WP"], H), wprot(0, H), read(P)];
    const r = await runBoth(K618, [...ops, write(P, 1)]);
    expect(r.outcomes.slice(-2)).toEqual([{ result: "ok", value: 0 }, { result: "blocked", fault: { uffd: "u0", flags: ["WRITE", "WP"], address_offset: 0 } }]);
    const m = r.state.mm.maps.get("m0")!;
    expect(m.markers ?? []).toEqual([]);
    expect(m.ptes).toEqual([{ start: 0, end: 512, value: { target: "file", writable: false, page: { in: "file", file: 0, delta: 0 }, uffdWp: true } }]);
  });
});

// do_fault_around -> filemap_map_pages maps uptodate page-cache pages only up to i_size (end_pgoff clipped by
// i_size in filemap_map_pages) and only over none PTEs (pte_none: a marker is not none).
describe("fault-around skips", () => {
  const mapped = (r: Awaited<ReturnType<typeof runBoth>>): [number, number][] => r.state.mm.maps.get("m0")!.ptes.map((sp) => [sp.start, sp.end]);

  it("uptodate pages cached past i_size (fallocate KEEP_SIZE twice) get no PTE, the one at i_size included", async () => {
    const falloc: Op = { op: "file_fallocate", file: "f0", mode: ["KEEP_SIZE"], offset: 2 * P, len: 3 * P };
    const r = await runBoth(K618, [...shmem(2 * P, 8 * P), falloc, falloc, { op: "pwrite", file: "f0", offset: 0, len: 1, byte: 2 }, read(P)]);
    expect(r.outcomes.at(-1)).toEqual({ result: "ok", value: 0 });
    expect(mapped(r)).toEqual([[0, 2]]);
  });

  it("a cached page carrying a poison marker keeps it: reading it after a fault next to it still SIGBUSes", async () => {
    const poison: Op = { op: "uffdio_poison", uffd: "u0", map: "m0", offset: P, len: P };
    const r = await runBoth(K618, [...shmem(4 * P), { op: "pwrite", file: "f0", offset: 0, len: 2 * P, byte: 3 }, open(), reg(["MISSING"]), poison, read(0), read(P)]);
    expect(r.outcomes.slice(-2)).toEqual([{ result: "ok", value: 3 }, { result: "SIGBUS", code: "BUS_ADRERR" }]);
    expect(mapped(r)).toEqual([[0, 1]]);
  });
});

describe("access checks", () => {
  it("a write to a PROT_READ mapping and any access to a PROT_NONE one are SIGSEGV (access_error)", async () => {
    expect((await runBoth(K618, [anon(4, "r"), write(0)])).outcomes.at(-1)).toEqual({ result: "SIGSEGV", code: "SEGV_ACCERR" });
    expect((await runBoth(K618, [anon(4, "none"), read(0)])).outcomes.at(-1)).toEqual({ result: "SIGSEGV", code: "SEGV_ACCERR" });
  });

  it("a user access is a user-mode fault: a USER_MODE_ONLY uffd takes it (handle_userfault: FAULT_FLAG_USER)", async () => {
    const r = await runBoth(K618, [anon(), { op: "uffd_open", uffd: "u0", features: [], flags: ["USER_MODE_ONLY"] }, reg(["MISSING"]), read(P)]);
    expect(r.outcomes.at(-1)).toEqual({ result: "blocked", fault: { uffd: "u0", flags: [], address_offset: P } });
  });
});

/** Every interleaving of the actors (depth first, at most 2000); each run must pass the harness's checks. */
async function everyRun(actors: readonly RaceActor[]): Promise<RaceRun[]> {
  const runs: RaceRun[] = [];
  for await (const run of interleavings(K618, actors, 2000)) {
    expect(run.failure, JSON.stringify(run.failure)).toBeUndefined();
    runs.push(run);
  }
  return runs;
}

/** What T's access returned in the runs where the VMM's ioctl returned between T's queueing and its must_wait re-check. */
async function afterResolveInWindow(actors: readonly RaceActor[]): Promise<unknown[]> {
  const outcomes: unknown[] = [];
  for (const run of await everyRun(actors)) {
    const queued = run.steps.findIndex((st) => st.actor === "T" && st.label === "handle_userfault:must_wait");
    const resolved = run.steps.findIndex((st) => st.actor === "VMM" && st.returned !== undefined);
    const resumed = run.steps.findIndex((st, i) => i > queued && st.actor === "T");
    if (queued >= 0 && queued < resolved && resolved < resumed) outcomes.push(run.steps.find((st) => st.actor === "T" && st.returned !== undefined)?.returned);
  }
  return outcomes;
}

describe("races on the fault path, every interleaving", () => {
  // userfaultfd_must_wait re-reads the PTE after the message is queued: a COPY (DONTWAKE, so no wakeup) that
  // installed the page meanwhile makes handle_userfault return VM_FAULT_RETRY instead of sleeping.
  it("a MISSING fault whose page a DONTWAKE COPY fills before it sleeps retries and reads the page", async () => {
    const copy: Op = { op: "uffdio_copy", uffd: "u0", map: "m0", offset: 0, len: P, byte: 9, mode: ["DONTWAKE"] };
    const outcomes = await afterResolveInWindow([{ name: SETUP, steps: [anon(), open(), reg(["MISSING"])] }, { name: "T", steps: [read(0)] }, { name: "VMM", steps: [copy] }]);
    expect(outcomes.length).toBeGreaterThan(0);
    expect(outcomes).toEqual(outcomes.map(() => ({ result: "ok", value: 9 })));
  });

  // The WP must-wait (userfaultfd_must_wait: huge_pte_uffd_wp / pte_uffd_wp re-read) after a DONTWAKE resolve.
  it("a WP fault whose page a DONTWAKE WRITEPROTECT resolves before it sleeps retries and writes", async () => {
    const setup = [anon(), open(), reg(["WP"]), write(0, 1), wprot(0)];
    const outcomes = await afterResolveInWindow([{ name: SETUP, steps: setup }, { name: "T", steps: [write(0, 2)] }, { name: "VMM", steps: [wprot(0, P, ["DONTWAKE"])] }]);
    expect(outcomes.length).toBeGreaterThan(0);
    expect(outcomes).toEqual(outcomes.map(() => ({ result: "ok" })));
  });

  // do_wp_page runs under the PT lock on a PTE it re-checked with pte_same: a MADV_DONTNEED that zapped the
  // write-protected page after the fault read its PTE sends the fault back, to a fresh zero-filled page.
  it("a WP_ASYNC write racing MADV_DONTNEED of its page never writes into the zapped page", async () => {
    const setup = [anon(), open(["WP_ASYNC"]), reg(["WP"]), write(P, 1), wprot(P)];
    const dontneed: Op = { op: "madvise", map: "m0", offset: P, len: P, advice: "DONTNEED" };
    const runs = await everyRun([{ name: SETUP, steps: setup }, { name: "T", steps: [write(P + 1, 2)] }, { name: "VMM", steps: [dontneed, read(P + 1)] }]);
    expect(runs.length).toBeGreaterThan(2);
  });

  // wp_page_copy of the zero page goes through the mmu notifiers (KVM's mmu_lock here) and installs its page only
  // if the PTE is still the zero PTE (pte_same under the PT lock); the loser retries and writes into the winner's page.
  it("two write faults on one zero-page PTE in a memslot both land in the page that stays mapped", async () => {
    const setup = [{ op: "create_vm", vm: "v0" } as Op, anon(), memslot({ memory_size: 4 * P }), read(0)];
    const runs = await everyRun([{ name: SETUP, steps: setup }, { name: "T", steps: [write(0, 1)] }, { name: "VMM", steps: [write(1, 2), read(0)] }]);
    expect(runs.length).toBeGreaterThan(2);
  });
});
