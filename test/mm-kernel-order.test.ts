// Host memory validations in the kernel's check order, one small case per decision, through model and impl: the
// outcome is what the cited code returns on the running kernel (conformance/corpus/host_memory has the same cases
// against the kernel itself), and the model names the deciding rule.
import { describe, expect, it } from "vitest";
import { Checker } from "../props/checker.js";
import { PRESETS } from "../schema/config.js";
import type { Op } from "../schema/ops.js";
import type { Outcome } from "../schema/outcome.js";

const P = 4096;
const H = 2 * 1024 * 1024;
const K618 = PRESETS["kernel-6.18"];

const memfd = (size = 8 * P): Op => ({ op: "memfd", file: "f0", size });
const hugetlb: Op = { op: "memfd", file: "h0", size: H, hugetlb: true };
const gmem: Op[] = [
  { op: "create_vm", vm: "v0" },
  { op: "create_gmem", vm: "v0", gmem: "g0", size: H, flags: ["MMAP", "INIT_SHARED"] },
];
const falloc = (mode: ("PUNCH_HOLE" | "KEEP_SIZE")[], offset: number, len: number, file = "f0"): Op => ({ op: "file_fallocate", file, mode, offset, len });
const gfalloc = (mode: ("PUNCH_HOLE" | "KEEP_SIZE")[], offset: number, len: number): Op => ({ op: "gmem_fallocate", gmem: "g0", mode, offset, len });

const anon: Op = { op: "mmap", map: "m0", file: "anon", offset: 0, length: 4 * P };
const unmapFirst: Op = { op: "munmap", map: "m0", offset: 0, len: 2 * P };
const madv = (map: string, offset: number, len: number, advice: "DONTNEED" | "REMOVE"): Op => ({ op: "madvise", map, offset, len, advice });

interface Case {
  readonly name: string;
  readonly setup: readonly Op[];
  readonly op: Op;
  readonly outcome: Outcome;
  readonly rule: string;
}

const CASES: readonly Case[] = [
  // sys_mmap checks the offset before ksys_mmap_pgoff looks the fd up (D3)
  { name: "mmap of an unknown fd at an unaligned offset", setup: [], op: { op: "mmap", map: "m1", file: "f9", offset: 1, length: P }, outcome: { errno: "EINVAL" }, rule: "mm.mmap-offset" },
  { name: "mmap of an unknown fd at an aligned offset", setup: [], op: { op: "mmap", map: "m1", file: "f9", offset: 0, length: 0 }, outcome: { errno: "EBADF" }, rule: "mm.ebadf" },
  { name: "gmem_mmap of an unknown fd at an unaligned offset", setup: [], op: { op: "gmem_mmap", gmem: "g9", map: "m6", offset: 1, length: P }, outcome: { errno: "EINVAL" }, rule: "mm.mmap-offset" },
  { name: "gmem_mmap of an unknown fd at an aligned offset", setup: [], op: { op: "gmem_mmap", gmem: "g9", map: "m6", offset: 0, length: 0 }, outcome: { errno: "EBADF" }, rule: "gmem.mmap-ebadf" },
  { name: "hugetlbfs offset not huge aligned, window still mapped: MAP_FIXED_NOREPLACE first", setup: [hugetlb, { op: "mmap", map: "m1", file: "h0", offset: 0, length: H }], op: { op: "mmap", map: "m1", file: "h0", offset: P, length: H }, outcome: { errno: "EEXIST" }, rule: "mm.mmap-noreplace" },
  { name: "hugetlbfs offset not huge aligned", setup: [hugetlb], op: { op: "mmap", map: "m2", file: "h0", offset: P, length: H }, outcome: { errno: "EINVAL" }, rule: "mm.mmap-hugetlb-offset" },
  // vfs_fallocate: offset and length, then the mode, then s_maxbytes; the file system's own checks after
  { name: "PUNCH_HOLE without KEEP_SIZE of length 0: the length first", setup: [memfd()], op: falloc(["PUNCH_HOLE"], 0, 0), outcome: { errno: "EINVAL" }, rule: "mm.fallocate-args" },
  { name: "PUNCH_HOLE without KEEP_SIZE at a negative offset", setup: [memfd()], op: falloc(["PUNCH_HOLE"], 2 ** 63, P), outcome: { errno: "EINVAL" }, rule: "mm.fallocate-args" },
  { name: "PUNCH_HOLE without KEEP_SIZE past s_maxbytes: the mode first", setup: [memfd()], op: falloc(["PUNCH_HOLE"], 2 ** 62, 2 ** 62), outcome: { errno: "EOPNOTSUPP" }, rule: "mm.fallocate-mode" },
  { name: "allocation past s_maxbytes", setup: [memfd()], op: falloc(["KEEP_SIZE"], 2 ** 62, 2 ** 62), outcome: { errno: "EFBIG" }, rule: "mm.fallocate-efbig" },
  { name: "hugetlbfs PUNCH_HOLE without KEEP_SIZE of length 0", setup: [hugetlb], op: falloc(["PUNCH_HOLE"], 0, 0, "h0"), outcome: { errno: "EINVAL" }, rule: "mm.fallocate-args" },
  { name: "fallocate of an unknown fd", setup: [], op: falloc(["PUNCH_HOLE"], 0, 0), outcome: { errno: "EBADF" }, rule: "mm.ebadf" },
  { name: "guest_memfd PUNCH_HOLE without KEEP_SIZE of length 0: vfs_fallocate first", setup: gmem, op: gfalloc(["PUNCH_HOLE"], 0, 0), outcome: { errno: "EINVAL" }, rule: "gmem.fallocate-args" },
  { name: "guest_memfd allocation past s_maxbytes before its own KEEP_SIZE check", setup: gmem, op: gfalloc([], 2 ** 62, 2 ** 62), outcome: { errno: "EFBIG" }, rule: "gmem.fallocate-efbig" },
  // madvise_walk_vmas: per-VMA refusals in address order, ENOMEM for a hole only when every VMA succeeded (D4)
  { name: "REMOVE where nothing is mapped", setup: [anon, unmapFirst], op: madv("m0", 0, 2 * P, "REMOVE"), outcome: { errno: "ENOMEM" }, rule: "mm.madvise-enomem" },
  { name: "REMOVE from a hole into anonymous memory: the VMA's refusal wins", setup: [anon, unmapFirst], op: madv("m0", P, 2 * P, "REMOVE"), outcome: { errno: "EINVAL" }, rule: "mm.madvise-remove-anon" },
  { name: "REMOVE on a private file mapping, past a hole", setup: [memfd(), { op: "mmap", map: "m1", file: "f0", offset: 0, length: 4 * P, shared: false }, { op: "munmap", map: "m1", offset: 0, len: P }], op: madv("m1", 0, 2 * P, "REMOVE"), outcome: { errno: "EACCES" }, rule: "mm.madvise-remove-private" },
  { name: "REMOVE on a read-only shared mapping: VM_MAYWRITE is enough", setup: [memfd(), { op: "mmap", map: "m1", file: "f0", offset: 0, length: 4 * P, prot: "r" }], op: madv("m1", 0, P, "REMOVE"), outcome: { result: "ok" }, rule: "mm.punch-hole" },
  { name: "REMOVE on a guest_memfd mapping punches the file (D2)", setup: [...gmem, { op: "gmem_mmap", gmem: "g0", map: "m5", offset: 0, length: H }], op: madv("m5", 0, P, "REMOVE"), outcome: { result: "ok" }, rule: "gmem.punch-hole" },
  { name: "hugetlbfs DONTNEED from inside a huge page", setup: [hugetlb, { op: "mmap", map: "m1", file: "h0", offset: 0, length: H }], op: madv("m1", P, P, "DONTNEED"), outcome: { errno: "EINVAL" }, rule: "mm.madvise-dontneed-hugetlb" },
  { name: "hugetlbfs DONTNEED from a hole before the VMA: its clipped start is aligned", setup: [{ ...hugetlb, size: 2 * H }, { op: "mmap", map: "m1", file: "h0", offset: 0, length: 2 * H }, { op: "munmap", map: "m1", offset: 0, len: H }], op: madv("m1", P, 2 * H, "DONTNEED"), outcome: { errno: "ENOMEM" }, rule: "mm.madvise-enomem" },
];

describe("host memory validations in kernel check order", () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const checker = new Checker(K618);
      await checker.applyAll([...c.setup, c.op]);
      const last = checker.trace[checker.trace.length - 1]!;
      expect(last.model).toEqual(c.outcome);
      expect(last.fired).toContain(c.rule);
    });
  }
});

describe("fallocate allocates past i_size with KEEP_SIZE", () => {
  it("the pages are in the page cache once pwrite grows the file past them (a MINOR registration reports them)", async () => {
    const checker = new Checker(K618);
    await checker.applyAll([
      memfd(2 * P),
      { op: "mmap", map: "m1", file: "f0", offset: 0, length: 8 * P },
      falloc(["KEEP_SIZE"], 0, 4 * P),
      { op: "access", map: "m1", offset: 2 * P, kind: "read" },
      { op: "pwrite", file: "f0", offset: 5 * P, len: 1, byte: 3 },
      { op: "uffd_open", uffd: "u0", features: ["SIGBUS"] },
      { op: "uffd_register", uffd: "u0", map: "m1", offset: 0, len: 8 * P, mode: ["MINOR"] },
      { op: "access", map: "m1", offset: 3 * P, kind: "read" },
      { op: "access", map: "m1", offset: 4 * P, kind: "read" },
    ]);
    expect(checker.trace.map((t) => t.model).slice(-6)).toEqual([
      { result: "SIGBUS", code: "BUS_ADRERR" },
      { result: "ok" },
      expect.objectContaining({ result: "ok" }),
      expect.objectContaining({ result: "ok" }),
      { result: "SIGBUS", code: "BUS_ADRERR" },
      { result: "ok", value: 0 },
    ]);
  });
});

describe("MADV_REMOVE walks the VMAs", () => {
  it("punches the shmem pages on both sides of a hole, then reports the hole", async () => {
    const checker = new Checker(K618);
    await checker.applyAll([
      memfd(),
      { op: "pwrite", file: "f0", offset: 0, len: 8 * P, byte: 5 },
      { op: "mmap", map: "m1", file: "f0", offset: 0, length: 8 * P },
      { op: "munmap", map: "m1", offset: 2 * P, len: 2 * P },
      madv("m1", 0, 6 * P, "REMOVE"),
      ...[0, 2, 5, 6].map((p): Op => ({ op: "pread", file: "f0", offset: p * P })),
    ]);
    expect(checker.trace.slice(-5).map((t) => t.model)).toEqual([{ errno: "ENOMEM" }, ...[0, 5, 0, 5].map((value) => ({ result: "ok", value }))]);
  });

  it("MADV_REMOVE on a guest_memfd mapping: the page reads back zero through every mapping (D2)", async () => {
    const checker = new Checker(K618);
    await checker.applyAll([
      ...gmem,
      { op: "gmem_mmap", gmem: "g0", map: "m5", offset: 0, length: H },
      { op: "gmem_mmap", gmem: "g0", map: "m6", offset: 0, length: H },
      { op: "access", map: "m5", offset: P, kind: "write", byte: 9 },
      { op: "access", map: "m6", offset: P, kind: "read" },
      madv("m5", P, P, "REMOVE"),
      { op: "access", map: "m6", offset: P, kind: "read" },
    ]);
    expect(checker.trace.slice(-3).map((t) => t.model)).toEqual([{ result: "ok", value: 9 }, { result: "ok" }, { result: "ok", value: 0 }]);
  });
});
