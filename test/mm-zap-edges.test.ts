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
const anon = (pages: number): Op => ({ op: "mmap", map: "m1", file: "anon", offset: 0, length: pages * P });
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
    const { state } = await runBoth(K618, [anon(4), uffd(["WP_UNPOPULATED"]), reg(["WP"], 0, 4 * P), protect(0, 2 * P), madv(0, P, "DONTNEED")]);
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
    const { state } = await runBoth(K618, [anon(4), uffd(), reg(["WP"], 0, 4 * P), write(0), protect(0, P), madv(0, P, "DONTNEED")]);
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
    expect(outcomes.at(-1)).toEqual({ result: "SIGBUS", code: "BUS_ADRERR" });
  });

  it("a hugetlbfs hole punch drops a poison marker and keeps a uffd-wp one (hugetlbfs_punch_hole -> __unmap_hugepage_range, zap_flags 0)", async () => {
    const ops = [...hugetlb(2), uffd(["POISON", "WP_HUGETLBFS_SHMEM"]), reg(["MISSING", "WP"], 0, 2 * H), poison(0, H), protect(H, H), punch(0, 2 * H, "h0")];
    expect(markers((await runBoth(K618, ops)).state)).toEqual([[512, 1024, "wp"]]);
    expect(await last([...ops, read(0)])).toEqual(blockedOn([]));
  });

  it("a hugetlbfs hole punch drops the poison markers of the punched file range only: at the mapping's file offset, not in other files' mappings (hugetlb_vmdelete_list)", async () => {
    // m1 maps h0's huge pages 1-2, m2 maps h1's only one; both wholly poisoned. The punch takes h0's huge pages 0-1.
    const ops = [memfd(1536, "h0", true), memfd(512, "h1", true), mmap(1024, "m1", "h0", H), mmap(512, "m2", "h1"), uffd(["POISON"])];
    const poisoned = [...ops, reg(["MISSING"], 0, 2 * H), poison(0, 2 * H), reg(["MISSING"], 0, H, "u0", "m2"), poison(0, H, "m2"), punch(0, 2 * H, "h0")];
    const { state } = await runBoth(K618, poisoned);
    expect(markers(state)).toEqual([[512, 1024, "poison"]]);
    expect(markers(state, "m2")).toEqual([[0, 512, "poison"]]);
  });

  it("munmap drops the markers of its range, and a uffd-wp PTE it zaps leaves none; a marker past it stays (unmap_vmas: ZAP_FLAG_DROP_MARKER)", async () => {
    const ops = [...shmem(4), fill(0, 4), uffd(["POISON"]), reg(["MISSING", "WP"], 0, 4 * P), poison(0, P), write(P), protect(P, P), protect(3 * P, P), munmap(0, 2 * P)];
    const { state } = await runBoth(K618, ops);
    expect(markers(state)).toEqual([[3, 4, "wp"]]);
    expect(mapped(state)).toEqual([]);
  });

  it("a guest_memfd hole punch keeps the poison marker of its shared mapping (truncate_inode_pages_range unmaps folios only)", async () => {
    const ops = [...gmem(), uffd(["POISON"]), reg(["MISSING"], 0, H, "u0", "m5"), poison(0, P, "m5"), gmemPunch(0, 2 * P)];
    expect(markers((await runBoth(PRESETS.default, ops)).state, "m5")).toEqual([[0, 1, "poison"]]);
  });

  it("a guest_memfd hole punch leaves no uffd-wp marker for a write-protected PTE (unmap_mapping_folio: ZAP_FLAG_DROP_MARKER)", async () => {
    const ops = [...gmem(), uffd(["WP_ASYNC"]), reg(["WP"], 0, H, "u0", "m5"), write(0, "m5"), write(P, "m5"), protect(0, 2 * P, "m5"), gmemPunch(0, P)];
    expect(markers((await runBoth(K618, ops)).state, "m5")).toEqual([]);
  });

  it("a guest_memfd hole punch drops the uffd-wp markers on folios another mapping maps and keeps the rest (truncate_cleanup_folio: folio_mapped)", async () => {
    // m6 shows the file from page 2 and is write-protected over file pages 2-5; m5 maps file pages 3 and 5.
    const m6: Op = { op: "gmem_mmap", gmem: "g0", map: "m6", offset: 2 * P, length: H - 2 * P };
    const ops = [...gmem(), m6, uffd(["WP_ASYNC"]), reg(["WP"], 0, H - 2 * P, "u0", "m6"), write(0, "m6"), protect(0, 4 * P, "m6"), read(3 * P, "m5"), read(5 * P, "m5")];
    expect(markers((await runBoth(K618, ops)).state, "m6")).toEqual([[1, 4, "wp"]]);
    const { state } = await runBoth(K618, [...ops, gmemPunch(2 * P, 4 * P)]);
    expect(markers(state, "m6")).toEqual([[2, 3, "wp"]]);
    expect(mapped(state, "m5")).toEqual([]);
  });

  it("a guest_memfd hole punch keeps the uffd-wp markers past its end, though another mapping maps those folios", async () => {
    // m5 is write-protected over file pages 0-7; m6 shows the file from page 2 and maps file pages 3 and 7.
    const m6: Op = { op: "gmem_mmap", gmem: "g0", map: "m6", offset: 2 * P, length: H - 2 * P };
    const ops = [...gmem(), m6, uffd(["WP_ASYNC"]), reg(["WP"], 0, H, "u0", "m5"), write(0, "m5"), protect(0, 8 * P, "m5"), read(P, "m6"), read(5 * P, "m6"), gmemPunch(2 * P, 4 * P)];
    const { state } = await runBoth(K618, ops);
    expect(markers(state, "m5")).toEqual([[1, 3, "wp"], [4, 8, "wp"]]);
    expect(mapped(state, "m6")).toEqual([[5, 6]]);
  });

  it("a guest_memfd hole punch keeps a poison marker on a folio another mapping maps (unmap_mapping_folio: even_cows false)", async () => {
    const m6: Op = { op: "gmem_mmap", gmem: "g0", map: "m6", offset: 0, length: H };
    const ops = [...gmem(), m6, uffd(["POISON"]), reg(["MISSING"], 0, H, "u0", "m5"), poison(P, P, "m5"), read(P, "m6"), gmemPunch(0, 2 * P)];
    const { state } = await runBoth(PRESETS.default, ops);
    expect(markers(state, "m5")).toEqual([[1, 2, "poison"]]);
    expect(mapped(state, "m6")).toEqual([]);
  });

  it("converting a write-protected shared guest_memfd page to private leaves a uffd-wp marker (unmap_mapping_pages, zap_flags 0)", async () => {
    const setup: Op[] = [{ op: "create_vm", vm: "v0", type: 1 }, ...gmem().slice(1)];
    const ops = [...setup, uffd(["WP_ASYNC"]), reg(["WP"], 0, H, "u0", "m5"), write(0, "m5"), write(P, "m5"), protect(0, 2 * P, "m5"), { op: "gmem_convert", gmem: "g0", offset: 0, size: P, to: "private" } satisfies Op];
    const { state, outcomes } = await runBoth(PRESETS["gmem-v7"], ops);
    expect(outcomes.at(-1)).toEqual({ result: "ok" });
    expect(markers(state, "m5")).toEqual([[0, 1, "wp"]]);
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
    const ops = [memfd(512), mmap(512, "m0"), fill(0, 4), { op: "create_vm", vm: "v0" } satisfies Op, memslot(), ...[0, 1, 2, 3].map(vcpuRead)];
    const { state } = await runBoth(K618, [...ops, punch(P, 2 * P)]);
    expect(runs(state.kvm.vms[0]!.stage2[0]).map(([a, b]) => [a, b])).toEqual([[0, 1], [3, 4]]);
  });
});

describe("file, fallocate, pwrite, memfd and close arguments", () => {
  it("fallocate of a length of 2^63 or more is EINVAL: a negative loff_t (vfs_fallocate)", async () => {
    expect(await last([memfd(8), falloc(["KEEP_SIZE"], 0, 2 ** 63)])).toEqual({ errno: "EINVAL" });
  });

  it("fallocate without KEEP_SIZE allocates the whole pages of the range and grows i_size to offset + len, never shrinking it (shmem_fallocate)", async () => {
    const grown = await runBoth(K618, [memfd(2), falloc([], P + 100, P), pread(2 * P + 99)]);
    expect(grown.state.mm.files[0]!.size).toBe(2 * P + 100);
    expect(runs(grown.state.mm.files[0]!.present)).toEqual([[1, 3, true]]);
    expect(grown.outcomes.at(-1)).toEqual({ result: "ok", value: 0 });
    const inside = await runBoth(K618, [memfd(2), falloc([], 0, P), falloc(["KEEP_SIZE"], 4 * P, P)]);
    expect(inside.state.mm.files[0]!.size).toBe(2 * P);
  });

  it("hugetlbfs fallocate allocates whole huge pages (hugetlbfs_fallocate)", async () => {
    const { state } = await runBoth(K618, [memfd(1024, "h0", "2M"), falloc([], H + P, P, "h0")]);
    expect(runs(state.mm.files[0]!.present)).toEqual([[512, 1024, true]]);
  });

  it("a second fallocate of a cached page keeps its data, and initializes the pages the first one added (shmem_fallocate)", async () => {
    const { state, outcomes } = await runBoth(K618, [memfd(2), { op: "pwrite", file: "f0", offset: 0, len: 1, byte: 9 }, falloc(["KEEP_SIZE"], 0, 2 * P), falloc(["KEEP_SIZE"], 0, 2 * P), pread(0)]);
    expect(outcomes.at(-1)).toEqual({ result: "ok", value: 9 });
    expect(runs(state.mm.files[0]!.present)).toEqual([[0, 2, true]]);
    expect(state.mm.files[0]!.falloced).toBeUndefined();
  });

  it("pwrite of length 0 past i_size does not extend the file (generic_write_checks: nothing to write)", async () => {
    const { state } = await runBoth(K618, [memfd(2), { op: "pwrite", file: "f0", offset: 5 * P, len: 0, byte: 1 }]);
    expect(state.mm.files[0]!.size).toBe(2 * P);
  });

  it("a shmem memfd may have a size that is no page multiple (shmem_setattr)", async () => {
    expect(await last([{ op: "memfd", file: "f0", size: P + 1 }])).toEqual({ result: "ok" });
  });

  it("a 1 GiB hugetlbfs memfd has 1 GiB pages: munmap at 2 MiB would split one, EINVAL (hugetlb_vm_op_split)", async () => {
    expect(await last([memfd(262144, "h0", "1G"), mmap(262144, "m1", "h0"), munmap(H, H)])).toEqual({ errno: "EINVAL" });
  });

  it("close of a name that is not open is EBADF (close_fd)", async () => {
    expect(await last([memfd(1), { op: "close", file: "f0" }, { op: "close", file: "f0" }])).toEqual({ errno: "EBADF" });
  });
});

describe("munmap and madvise arguments", () => {
  it("mmap of length 0 is EINVAL (do_mmap), and a mapping must fit its map id's 1 TiB window (docs/VOCABULARY.md, mapping layout)", async () => {
    const mm = (map: string, length: number): Op => ({ op: "mmap", map, file: "anon", offset: 0, length });
    const { outcomes } = await runBoth(K618, [mm("m1", 0), mm("m2", 2 ** 40 + P), mm("m3", 2 ** 40)]);
    expect(outcomes).toEqual([{ errno: "EINVAL" }, { errno: "EINVAL" }, { result: "ok" }]);
  });

  it("munmap of length 0 is EINVAL, also the default length from the mapping's end (do_vmi_munmap)", async () => {
    const { outcomes } = await runBoth(K618, [...shmem(4), munmap(0, 0), munmap(4 * P)]);
    expect(outcomes.slice(-2)).toEqual([{ errno: "EINVAL" }, { errno: "EINVAL" }]);
  });

  it("hugetlbfs munmap may not split a huge page at either end, and ignores ends outside the mapping (hugetlb_vm_op_split)", async () => {
    const { outcomes } = await runBoth(K618, [...hugetlb(2), munmap(P, H), munmap(0, H + P), munmap(0, P), munmap(2 * H + P, P), munmap(0, 2 * H + P)]);
    expect(outcomes.slice(-5)).toEqual([{ errno: "EINVAL" }, { errno: "EINVAL" }, { errno: "EINVAL" }, { result: "ok" }, { result: "ok" }]);
  });

  it("hugetlbfs munmap from inside a huge page up to a huge-page boundary is EINVAL: the split at its start (hugetlb_vm_op_split)", async () => {
    expect(await last([...hugetlb(2), munmap(P, H - P)])).toEqual({ errno: "EINVAL" });
  });

  it("madvise at an unaligned start is EINVAL, and of length 0 succeeds (is_valid_madvise, do_madvise)", async () => {
    const { outcomes } = await runBoth(K618, [...shmem(4), madv(1, P, "REMOVE"), madv(0, 0, "DONTNEED")]);
    expect(outcomes.slice(-2)).toEqual([{ errno: "EINVAL" }, { result: "ok" }]);
  });

  it("madvise advises every VMA of the range, then reports the hole: ENOMEM (madvise_walk_vmas)", async () => {
    const { state, outcomes } = await runBoth(K618, [...shmem(8), fill(0, 8), read(0), munmap(2 * P, 2 * P), madv(0, 6 * P, "DONTNEED")]);
    expect(outcomes.at(-1)).toEqual({ errno: "ENOMEM" });
    expect(mapped(state)).toEqual([[6, 8]]);
  });

  it("MADV_REMOVE of a guest_memfd mapping punches the advised pages only (madvise_remove -> kvm_gmem_fallocate)", async () => {
    const { outcomes } = await runBoth(K618, [...gmem(), write(P, "m5", 9), write(2 * P, "m5", 9), madv(P, P, "REMOVE", "m5"), read(P, "m5"), read(2 * P, "m5")]);
    expect(outcomes.slice(-2)).toEqual([{ result: "ok", value: 0 }, { result: "ok", value: 9 }]);
  });

  it("MADV_REMOVE over a guest_memfd mapping: its punch errno ends the walk, its success does not (madvise_walk_vmas)", async () => {
    expect(await last([...gmem(), madv(0, P, "REMOVE", "m5")], { ...K618, gmemFolio: "2M" })).toEqual({ errno: "EINVAL" });
    const { outcomes } = await runBoth(K618, [...gmem(), write(0, "m5", 9), write(3 * P, "m5", 9), munmap(P, P, "m5"), madv(0, 4 * P, "REMOVE", "m5"), read(3 * P, "m5")]);
    expect(outcomes.slice(-2)).toEqual([{ errno: "ENOMEM" }, { result: "ok", value: 0 }]);
  });

  it("a VMA's own refusal comes before a uffd's EVENT_REMOVE (madvise_remove, madvise_dontneed_free: the VMA checks first)", async () => {
    expect(await last([anon(4), uffd(["EVENT_REMOVE"]), reg(["MISSING"], 0, 4 * P), madv(0, P, "REMOVE")])).toEqual({ errno: "EINVAL" });
    expect(await last([...hugetlb(1), uffd(["EVENT_REMOVE"]), reg(["MISSING"], 0, H), madv(P, P, "DONTNEED")])).toEqual({ errno: "EINVAL" });
  });
});

describe("VMA merging of userfaultfd registrations", () => {
  it("adjacent ranges registered by one uffd merge into one VMA: read fault-around spans both (userfaultfd_register_range -> vma_modify_flags_uffd)", async () => {
    const { state } = await runBoth(K618, [...shmem(32), fill(0, 32), uffd(), reg(["MISSING"], 0, 8 * P), reg(["MISSING"], 8 * P, 8 * P), read(4 * P)]);
    expect(mapped(state)).toEqual([[0, 16]]);
  });

  it("adjacent ranges registered by two uffds stay two VMAs: a fault in the second reaches the second uffd (is_mergeable_vma)", async () => {
    expect(await last([...shmem(16), uffd(), uffd([], "u1"), reg(["MISSING"], 0, 8 * P), reg(["MISSING"], 8 * P, 8 * P, "u1"), read(10 * P)])).toEqual(blockedOn([], "u1"));
  });
});
