// Zaps, hole punches and the argument checks of the file, munmap and madvise ops, through model and impl together:
// written from the surviving mutants of the mm Stryker run (docs/MUTATION.md, docs/mutation/mm.md) that no test
// pinned: which PTE markers a zap keeps or leaves, which PTEs, bytes and SPTEs a punch takes, the munmap / madvise /
// fallocate argument edges, and VMA merging of userfaultfd registrations. Expected values follow the kernel code
// each test names.
import { describe, expect, it } from "vitest";
import type { State } from "../model/index.js";
import { spans, type RangeMap } from "../model/ranges.js";
import { PRESETS, type Config } from "../schema/config.js";
import type { Op, OpOf, UffdFeatureName, UffdModeName } from "../schema/ops.js";
import type { Outcome } from "../schema/outcome.js";
import { memslot } from "./helpers/ops.js";
import { runBoth } from "./helpers/run.js";

const P = 4096;
const H = 2 * 1024 * 1024;
const K618 = PRESETS["kernel-6.18"];

const memfd = (pages: number, file = "f0", hugetlb?: OpOf<"memfd">["hugetlb"]): Op => ({ op: "memfd", file, size: pages * P, ...(hugetlb === undefined ? {} : { hugetlb }) });
const mmap = (pages: number, map = "m1", file = "f0", offset = 0): Op => ({ op: "mmap", map, file, offset, length: pages * P });
/** A shmem file of `pages` pages mapped shared at m1. */
const shmem = (pages: number): Op[] => [memfd(pages), mmap(pages)];
/** A 2 MiB hugetlbfs file of `huge` huge pages mapped shared at m1. */
const hugetlb = (huge: number): Op[] => [memfd((huge * H) / P, "h0", true), mmap((huge * H) / P, "m1", "h0")];
const fill = (page: number, pages: number, byte = 5, file = "f0"): Op => ({ op: "pwrite", file, offset: page * P, len: pages * P, byte });
const pread = (offset: number, file = "f0"): Op => ({ op: "pread", file, offset });
const read = (offset: number, map = "m1"): Op => ({ op: "access", map, offset, kind: "read" });
const write = (offset: number, map = "m1", byte = 7): Op => ({ op: "access", map, offset, kind: "write", byte });
const uffd = (features: UffdFeatureName[] = [], name = "u0"): Op => ({ op: "uffd_open", uffd: name, features });
const reg = (mode: UffdModeName[], offset: number, len: number, name = "u0", map = "m1"): Op => ({ op: "uffd_register", uffd: name, map, offset, len, mode });
const protect = (offset: number, len: number, map = "m1"): Op => ({ op: "uffdio_writeprotect", uffd: "u0", map, offset, len, mode: ["WP"] });
const poison = (offset: number, len: number, map = "m1"): Op => ({ op: "uffdio_poison", uffd: "u0", map, offset, len });
const madv = (offset: number, len: number, advice: "DONTNEED" | "REMOVE", map = "m1"): Op => ({ op: "madvise", map, offset, len, advice });
const falloc = (mode: ("PUNCH_HOLE" | "KEEP_SIZE")[], offset: number, len: number, file = "f0"): Op => ({ op: "file_fallocate", file, mode, offset, len });
const punch = (offset: number, len: number, file = "f0"): Op => falloc(["PUNCH_HOLE", "KEEP_SIZE"], offset, len, file);
/** A VM with a 2 MiB shared guest_memfd g0, mapped whole at m5. */
const gmem = (): Op[] => [
  { op: "create_vm", vm: "v0" },
  { op: "create_gmem", vm: "v0", gmem: "g0", size: H, flags: ["MMAP", "INIT_SHARED"] },
  { op: "gmem_mmap", gmem: "g0", map: "m5", offset: 0, length: H },
];
const gmemPunch = (offset: number, len: number): Op => ({ op: "gmem_fallocate", gmem: "g0", mode: ["PUNCH_HOLE", "KEEP_SIZE"], offset, len });
const munmap = (offset: number, len?: number, map = "m1"): Op => ({ op: "munmap", map, offset, ...(len === undefined ? {} : { len }) });

const runs = <V>(m: RangeMap<V> | undefined): [number, number, V][] => spans(m ?? [], 0, Number.MAX_SAFE_INTEGER).map((sp) => [sp.start, sp.end, sp.value]);
/** PTE markers of a mapping, as [start, end, marker] runs of page indexes. */
const markers = (s: State, map = "m1"): [number, number, string][] => runs(s.mm.maps.get(map)!.markers);
/** Pages of a mapping with a present PTE, as [start, end) runs. */
const mapped = (s: State, map = "m1"): [number, number][] => runs(s.mm.maps.get(map)!.ptes).map(([a, b]) => [a, b]);
/** The outcome of the last op, the model's (the impl agreed). */
async function last(ops: readonly Op[], config: Config = K618): Promise<Outcome> {
  return (await runBoth(config, ops)).outcomes.at(-1)!;
}
const blockedOn = (flags: string[], name = "u0"): Outcome => expect.objectContaining({ result: "blocked", fault: expect.objectContaining({ uffd: name, flags: expect.arrayContaining(flags) }) }) as Outcome;

describe("PTE markers across zaps", () => {
  it("MADV_DONTNEED of shmem keeps a uffd-wp marker and drops a poison marker (zap_nonpresent_ptes)", async () => {
    const { state, outcomes } = await runBoth(K618, [...shmem(4), uffd(["POISON"]), reg(["MISSING", "WP"], 0, 4 * P), poison(0, P), protect(P, P), madv(0, 2 * P, "DONTNEED"), fill(0, 1), read(0)]);
    expect(markers(state)).toEqual([[1, 2, "wp"]]);
    expect(outcomes.at(-1)).toEqual({ result: "ok", value: 5 });
  });

  it("MADV_DONTNEED of anonymous memory drops its WP_UNPOPULATED uffd-wp markers (zap on anon drops every marker)", async () => {
    const { state } = await runBoth(K618, [{ op: "mmap", map: "m1", file: "anon", offset: 0, length: 4 * P }, uffd(["WP_UNPOPULATED"]), reg(["WP"], 0, 4 * P), protect(0, 2 * P), madv(0, P, "DONTNEED")]);
    expect(markers(state)).toEqual([[1, 2, "wp"]]);
  });

  it("MADV_DONTNEED of a uffd-wp shmem PTE in a WP VMA leaves a uffd-wp marker, and the next write is a WP fault (zap_install_uffd_wp_if_needed)", async () => {
    const ops = [...shmem(4), uffd(), reg(["WP"], 0, 4 * P), write(0), write(P), protect(0, P), madv(0, 2 * P, "DONTNEED")];
    const { state } = await runBoth(K618, ops);
    expect(markers(state)).toEqual([[0, 1, "wp"]]);
    expect(mapped(state)).toEqual([]);
    expect(await last([...ops, write(0)])).toEqual(blockedOn(["WP"]));
  });

  it("MADV_DONTNEED of a uffd-wp hugetlbfs PTE leaves a uffd-wp marker over the whole huge page (__unmap_hugepage_range)", async () => {
    const { state } = await runBoth(K618, [...hugetlb(2), uffd(["WP_HUGETLBFS_SHMEM"]), reg(["WP"], 0, 2 * H), write(0), write(H), protect(0, H), madv(0, 2 * H, "DONTNEED")]);
    expect(markers(state)).toEqual([[0, 512, "wp"]]);
  });

  it("a zap leaves no marker for a uffd-wp anonymous PTE (zap_install_uffd_wp_if_needed: anon drops everything)", async () => {
    const { state } = await runBoth(K618, [{ op: "mmap", map: "m1", file: "anon", offset: 0, length: 4 * P }, uffd(), reg(["WP"], 0, 4 * P), write(0), protect(0, P), madv(0, P, "DONTNEED")]);
    expect(markers(state)).toEqual([]);
  });

  it("a zap leaves no marker for a uffd-wp PTE once the VMA is re-registered without WP (userfaultfd_wp(vma))", async () => {
    // userfaultfd_register_range replaces WP by MISSING without resolving the PTE's uffd-wp bit
    const ops = [...shmem(4), uffd(), reg(["WP"], 0, 4 * P), write(0), protect(0, P), reg(["MISSING"], 0, 4 * P)];
    expect(markers((await runBoth(K618, [...ops, madv(0, P, "DONTNEED")])).state)).toEqual([]);
    expect(markers((await runBoth(K618, [...ops, punch(0, P)])).state)).toEqual([]);
  });

  it("a hole punch of a uffd-wp shmem PTE leaves a uffd-wp marker, and none where the PTE was not uffd-wp (unmap_mapping_range)", async () => {
    const ops = [...shmem(4), uffd(), reg(["WP"], 0, 4 * P), write(0), write(P), protect(0, P), punch(0, 2 * P)];
    const { state } = await runBoth(K618, ops);
    expect(markers(state)).toEqual([[0, 1, "wp"]]);
    expect(mapped(state)).toEqual([]);
    expect(await last([...ops, write(P)])).toEqual({ result: "ok" });
    expect(await last([...ops, write(0)])).toEqual(blockedOn(["WP"]));
  });

  it("a hole punch keeps a poison marker (unmap_mapping_range does not zap markers)", async () => {
    const { state, outcomes } = await runBoth(K618, [...shmem(4), fill(0, 4), uffd(["POISON"]), reg(["MISSING"], 0, 4 * P), poison(0, P), punch(0, 2 * P), read(0)]);
    expect(markers(state)).toEqual([[0, 1, "poison"]]);
    expect(outcomes.at(-1)).toEqual({ result: "SIGBUS" });
  });

  it("a guest_memfd hole punch keeps the poison marker of its shared mapping (truncate_inode_pages_range unmaps folios only)", async () => {
    const ops = [...gmem(), uffd(["POISON"]), reg(["MISSING"], 0, H, "u0", "m5"), poison(0, P, "m5"), gmemPunch(0, 2 * P)];
    expect(markers((await runBoth(PRESETS.default, ops)).state, "m5")).toEqual([[0, 1, "poison"]]);
  });
});

describe("hole-punch precision", () => {
  it("a partial-page punch zeroes only the punched bytes, keeps both pages and their PTEs, and caches nothing new (shmem_truncate_range)", async () => {
    const { state, outcomes } = await runBoth(K618, [...shmem(3), fill(0, 2), read(0), read(P), punch(100, P), punch(2 * P + 100, 100), ...[99, 100, P + 99, P + 100].map((o) => pread(o))]);
    expect(outcomes.slice(-4)).toEqual([5, 0, 0, 5].map((value) => ({ result: "ok", value })));
    expect(mapped(state)).toEqual([[0, 2]]);
    expect(runs(state.mm.files[0]!.present)).toEqual([[0, 2, true]]);
  });

  it("a punch inside a huge page zeroes those bytes and keeps the folio mapped (hugetlbfs_punch_hole: hugetlbfs_zero_partial_page)", async () => {
    const { state, outcomes } = await runBoth(K618, [...hugetlb(1), ...[99, 100, 299, 300].map((o) => write(o)), punch(100, 200, "h0"), ...[99, 100, 299, 300].map((o) => read(o))]);
    expect(outcomes.slice(-4)).toEqual([7, 0, 0, 7].map((value) => ({ result: "ok", value })));
    expect(mapped(state)).toEqual([[0, 512]]);
  });

  it("a punch zaps the PTEs of the punched pages only, in mappings of that file only, at their offset in the file (unmap_mapping_range)", async () => {
    const ops = [memfd(8), fill(0, 8), mmap(4, "m1", "f0", 4 * P), memfd(8, "f1"), fill(0, 8, 5, "f1"), mmap(8, "m2", "f1")];
    const { state } = await runBoth(K618, [...ops, ...[0, 1, 2, 3].map((p) => read(p * P)), read(5 * P, "m2"), punch(5 * P, 2 * P)]);
    expect(mapped(state)).toEqual([[0, 1], [3, 4]]);
    expect(mapped(state, "m2")).toEqual([[0, 8]]);
  });

  it("the mmu notifier of a punch covers exactly the zapped pages: KVM drops those SPTEs only (unmap_mapping_range -> kvm_mmu_notifier_invalidate_range_start)", async () => {
    const vcpuRead = (page: number): Op => ({ op: "vcpu_access", vm: "v0", vcpu: 0, gpa: page * P, kind: "read" });
    const ops = [memfd(512), mmap(512, "m0"), fill(0, 4), { op: "create_vm", vm: "v0" } as const, memslot(), ...[0, 1, 2, 3].map(vcpuRead)];
    const { state } = await runBoth(K618, [...ops, punch(P, 2 * P)]);
    expect(runs(state.kvm.vms[0]!.stage2[0]).map(([a, b]) => [a, b])).toEqual([[0, 1], [3, 4]]);
  });
});
