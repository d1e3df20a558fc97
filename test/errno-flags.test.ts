// Raw flag words: every flag array takes numbers OR'ed in beside the names, bits the kernel does not know included,
// and the pad / reserved words of the uAPI structs. One case per rule and word, through model and impl; the
// outcomes of the memslot, memfd, hugetlbfs and userfaultfd cases were checked on the running kernel (corpus
// memslots/flag-bits, host_memory/fallocate-modes, uffd/mode-bits); the guest_memfd ones follow kvm_gmem_create and
// kvm_gmem_fallocate.
import { describe, expect, it } from "vitest";
import { Checker } from "../props/checker.js";
import { PRESETS, type Config } from "../schema/config.js";
import { initial, step } from "../model/index.js";
import type { Op, OpOf } from "../schema/ops.js";
import type { Outcome } from "../schema/outcome.js";
import { memslot } from "./helpers/ops.js";

const P = 4096;
const MiB = 1024 * 1024;
const H = 2 * MiB;
const K618 = PRESETS["kernel-6.18"];
const RICH = PRESETS.default;

const VM: readonly Op[] = [{ op: "create_vm", vm: "v0" }, { op: "mmap", map: "m0", file: "anon", offset: 0, length: 2 * MiB }];
const uffd = (features: OpOf<"uffd_open">["features"] = []): Op => ({ op: "uffd_open", uffd: "u0", features });
const ANON_UFFD: readonly Op[] = [{ op: "mmap", map: "m0", file: "anon", offset: 0, length: 4 * P }, uffd(), { op: "uffd_register", uffd: "u0", map: "m0", offset: 0, len: 4 * P, mode: ["MISSING", "WP"] }];
const MEMFD: readonly Op[] = [{ op: "memfd", file: "f0", size: 4 * P }, { op: "uffd_open", uffd: "u0", features: [] }, { op: "create_vm", vm: "v0" }];
const falloc = (mode: (string | number)[], file = "f0", len = P): Op => ({ op: "file_fallocate", file, mode, offset: 0, len }) as Op;
const GMEM: readonly Op[] = [{ op: "create_vm", vm: "v0" }, { op: "create_gmem", vm: "v0", gmem: "g0", size: 4 * P, flags: ["MMAP", "INIT_SHARED"] }];
const gfalloc = (mode: (string | number)[]): Op => ({ op: "gmem_fallocate", gmem: "g0", mode, offset: 0, len: P }) as Op;

interface Case {
  readonly name: string;
  readonly config?: Config;
  readonly setup: readonly Op[];
  readonly op: Op;
  readonly outcome: Outcome;
  readonly rule: string;
}

const CASES: readonly Case[] = [
  // KVM_SET_USER_MEMORY_REGION(2) flags and pads
  { name: "v1 ioctl with GUEST_MEMFD as a raw bit", setup: VM, op: memslot({ ioctl: "REGION", flags: [4] }), outcome: { errno: "EINVAL" }, rule: "memslot.v1-flags" },
  { name: "a memslot flag bit KVM does not know (1 << 5)", setup: VM, op: memslot({ flags: [32] }), outcome: { errno: "EINVAL" }, rule: "memslot.flags" },
  { name: "KVM_MEMSLOT_GMEM_ONLY (1 << 17) is internal, refused from userspace", setup: VM, op: memslot({ flags: [2 ** 17] }), outcome: { errno: "EINVAL" }, rule: "memslot.flags" },
  { name: "READONLY given as the raw bit 2 creates a read-only slot", setup: VM, op: memslot({ flags: [2] }), outcome: { result: "ok" }, rule: "memslot.create" },
  { name: "a nonzero pad1 is not read", setup: VM, op: memslot({ pad1: 7 }), outcome: { result: "ok" }, rule: "memslot.pad-unread" },
  { name: "a nonzero pad2 word is not read", setup: VM, op: memslot({ pad2: [0, 0, 0, 0, 0, 9] }), outcome: { result: "ok" }, rule: "memslot.pad-unread" },
  {
    name: "with KVM Userfault (v3) pad2[0] is userfault_bitmap: past TASK_SIZE it is refused",
    config: RICH,
    setup: VM,
    op: memslot({ flags: ["USERFAULT"], pad2: [2 ** 47] }),
    outcome: { errno: "EINVAL" },
    rule: "memslot.userfault-bitmap",
  },
  // KVM_CREATE_GUEST_MEMFD flags and reserved words
  { name: "a guest_memfd flag bit this kernel does not know (1 << 2, NO_DIRECT_MAP of a posted series)", setup: VM, op: { op: "create_gmem", vm: "v0", gmem: "g0", size: P, flags: [4] }, outcome: { errno: "EINVAL" }, rule: "gmem.create-flags" },
  { name: "a guest_memfd flag bit no series defines (1 << 4)", setup: VM, op: { op: "create_gmem", vm: "v0", gmem: "g0", size: P, flags: [16] }, outcome: { errno: "EINVAL" }, rule: "gmem.create-flags" },
  { name: "a guest_memfd flag bit 63", setup: VM, op: { op: "create_gmem", vm: "v0", gmem: "g0", size: P, flags: ["MMAP", 2 ** 63] }, outcome: { errno: "EINVAL" }, rule: "gmem.create-flags" },
  { name: "MMAP | INIT_SHARED as the raw word 3", setup: VM, op: { op: "create_gmem", vm: "v0", gmem: "g0", size: P, flags: [3] }, outcome: { result: "ok" }, rule: "gmem.create" },
  { name: "nonzero reserved words are not read", setup: VM, op: { op: "create_gmem", vm: "v0", gmem: "g0", size: P, flags: [], reserved: [0, 1] }, outcome: { result: "ok" }, rule: "gmem.create-reserved-unread" },
  // userfaultfd mode words
  { name: "UFFDIO_REGISTER with a mode bit past MINOR", setup: ANON_UFFD, op: { op: "uffd_register", uffd: "u0", map: "m0", offset: 0, len: P, mode: ["MISSING", 8] }, outcome: { errno: "EINVAL" }, rule: "uffd.register-mode-unknown" },
  {
    name: "UFFDIO_REGISTER checks the mode before the range",
    setup: ANON_UFFD,
    op: { op: "uffd_register", uffd: "u0", map: "m0", offset: 1, len: P, mode: [8] },
    outcome: { errno: "EINVAL" },
    rule: "uffd.register-mode-unknown",
  },
  { name: "UFFDIO_COPY with an unknown mode bit: copy not written", setup: ANON_UFFD, op: { op: "uffdio_copy", uffd: "u0", map: "m0", offset: 0, len: P, mode: [4] }, outcome: { errno: "EINVAL", copy: null }, rule: "uffd.ioctl-mode" },
  { name: "UFFDIO_ZEROPAGE with bit 1", setup: ANON_UFFD, op: { op: "uffdio_zeropage", uffd: "u0", map: "m0", offset: 0, len: P, mode: [2] }, outcome: { errno: "EINVAL", zeropage: null }, rule: "uffd.ioctl-mode" },
  { name: "UFFDIO_COPY with MODE_WP as the raw bit 2", setup: ANON_UFFD, op: { op: "uffdio_copy", uffd: "u0", map: "m0", offset: 0, len: P, mode: [2] }, outcome: { result: "ok", copy: P }, rule: "uffd.copy" },
  {
    name: "UFFDIO_WRITEPROTECT with an unknown bit, before WP | DONTWAKE",
    setup: ANON_UFFD,
    op: { op: "uffdio_writeprotect", uffd: "u0", map: "m0", offset: 0, len: P, mode: [7] },
    outcome: { errno: "EINVAL" },
    rule: "uffd.ioctl-mode",
  },
  { name: "UFFDIO_WRITEPROTECT with WP | DONTWAKE as the raw word 3", setup: ANON_UFFD, op: { op: "uffdio_writeprotect", uffd: "u0", map: "m0", offset: 0, len: P, mode: [3] }, outcome: { errno: "EINVAL" }, rule: "uffd.writeprotect-mode" },
  // fallocate modes on a memfd (shmem), through vfs_fallocate first
  { name: "NO_HIDE_STALE is not a mode vfs_fallocate knows", setup: MEMFD, op: falloc(["NO_HIDE_STALE"]), outcome: { errno: "EOPNOTSUPP" }, rule: "vfs.fallocate-mode-unknown" },
  { name: "a mode bit past WRITE_ZEROES", setup: MEMFD, op: falloc([256]), outcome: { errno: "EOPNOTSUPP" }, rule: "vfs.fallocate-mode-unknown" },
  { name: "the length is checked before the mode", setup: MEMFD, op: falloc([256], "f0", 0), outcome: { errno: "EINVAL" }, rule: "mm.fallocate-args" },
  { name: "two modes at once", setup: MEMFD, op: falloc(["PUNCH_HOLE", "COLLAPSE_RANGE"]), outcome: { errno: "EOPNOTSUPP" }, rule: "vfs.fallocate-mode-exclusive" },
  { name: "COLLAPSE_RANGE with KEEP_SIZE", setup: MEMFD, op: falloc(["COLLAPSE_RANGE", "KEEP_SIZE"]), outcome: { errno: "EOPNOTSUPP" }, rule: "vfs.fallocate-mode-exclusive" },
  { name: "INSERT_RANGE with KEEP_SIZE", setup: MEMFD, op: falloc(["INSERT_RANGE", "KEEP_SIZE"]), outcome: { errno: "EOPNOTSUPP" }, rule: "vfs.fallocate-mode-exclusive" },
  { name: "WRITE_ZEROES with KEEP_SIZE", setup: MEMFD, op: falloc(["WRITE_ZEROES", "KEEP_SIZE"]), outcome: { errno: "EOPNOTSUPP" }, rule: "vfs.fallocate-mode-exclusive" },
  { name: "ZERO_RANGE on shmem", setup: MEMFD, op: falloc(["ZERO_RANGE"]), outcome: { errno: "EOPNOTSUPP" }, rule: "mm.fallocate-file-mode" },
  { name: "ZERO_RANGE | KEEP_SIZE on shmem", setup: MEMFD, op: falloc(["ZERO_RANGE", "KEEP_SIZE"]), outcome: { errno: "EOPNOTSUPP" }, rule: "mm.fallocate-file-mode" },
  { name: "UNSHARE_RANGE on shmem", setup: MEMFD, op: falloc(["UNSHARE_RANGE"]), outcome: { errno: "EOPNOTSUPP" }, rule: "mm.fallocate-file-mode" },
  { name: "COLLAPSE_RANGE on shmem", setup: MEMFD, op: falloc(["COLLAPSE_RANGE"]), outcome: { errno: "EOPNOTSUPP" }, rule: "mm.fallocate-file-mode" },
  { name: "INSERT_RANGE on shmem", setup: MEMFD, op: falloc(["INSERT_RANGE"]), outcome: { errno: "EOPNOTSUPP" }, rule: "mm.fallocate-file-mode" },
  { name: "WRITE_ZEROES on shmem", setup: MEMFD, op: falloc(["WRITE_ZEROES"]), outcome: { errno: "EOPNOTSUPP" }, rule: "mm.fallocate-file-mode" },
  {
    name: "ZERO_RANGE on hugetlbfs",
    setup: [{ op: "memfd", file: "f1", size: H, hugetlb: true }],
    op: falloc(["ZERO_RANGE"], "f1", H),
    outcome: { errno: "EOPNOTSUPP" },
    rule: "mm.fallocate-file-mode",
  },
  { name: "PUNCH_HOLE | KEEP_SIZE as the raw word 3", setup: MEMFD, op: falloc([3]), outcome: { result: "ok" }, rule: "mm.punch-hole" },
  // ... and on the fds of other kinds: the mode first, then what the file is
  { name: "ZERO_RANGE on a userfaultfd passes the mode checks: not open for writing", setup: MEMFD, op: falloc(["ZERO_RANGE"], "u0"), outcome: { errno: "EBADF" }, rule: "fd.fallocate-ebadf" },
  { name: "WRITE_ZEROES on a userfaultfd: a mode 6.18's vfs_fallocate knows", setup: MEMFD, op: falloc(["WRITE_ZEROES"], "u0"), outcome: { errno: "EBADF" }, rule: "fd.fallocate-ebadf" },
  { name: "NO_HIDE_STALE on a userfaultfd: the mode before FMODE_WRITE", setup: MEMFD, op: falloc(["NO_HIDE_STALE"], "u0"), outcome: { errno: "EOPNOTSUPP" }, rule: "vfs.fallocate-mode-unknown" },
  { name: "UNSHARE_RANGE on a VM fd: no regular file", setup: MEMFD, op: falloc(["UNSHARE_RANGE"], "v0"), outcome: { errno: "ENODEV" }, rule: "fd.fallocate-enodev" },
  { name: "INSERT_RANGE | KEEP_SIZE on a VM fd", setup: MEMFD, op: falloc(["INSERT_RANGE", "KEEP_SIZE"], "v0"), outcome: { errno: "EOPNOTSUPP" }, rule: "vfs.fallocate-mode-exclusive" },
  // ... and on a guest_memfd (kvm_gmem_fallocate: KEEP_SIZE first, then only PUNCH_HOLE besides it)
  { name: "ZERO_RANGE on a guest_memfd: no KEEP_SIZE", setup: GMEM, op: gfalloc(["ZERO_RANGE"]), outcome: { errno: "EOPNOTSUPP" }, rule: "gmem.fallocate-keep-size" },
  { name: "COLLAPSE_RANGE on a guest_memfd", setup: GMEM, op: gfalloc(["COLLAPSE_RANGE"]), outcome: { errno: "EOPNOTSUPP" }, rule: "gmem.fallocate-keep-size" },
  { name: "ZERO_RANGE | KEEP_SIZE on a guest_memfd", setup: GMEM, op: gfalloc(["ZERO_RANGE", "KEEP_SIZE"]), outcome: { errno: "EOPNOTSUPP" }, rule: "gmem.fallocate-mode" },
  { name: "UNSHARE_RANGE | KEEP_SIZE on a guest_memfd", setup: GMEM, op: gfalloc(["UNSHARE_RANGE", "KEEP_SIZE"]), outcome: { errno: "EOPNOTSUPP" }, rule: "gmem.fallocate-mode" },
  { name: "NO_HIDE_STALE | KEEP_SIZE on a guest_memfd", setup: GMEM, op: gfalloc(["NO_HIDE_STALE", "KEEP_SIZE"]), outcome: { errno: "EOPNOTSUPP" }, rule: "vfs.fallocate-mode-unknown" },
  { name: "WRITE_ZEROES | KEEP_SIZE on a guest_memfd", setup: GMEM, op: gfalloc(["WRITE_ZEROES", "KEEP_SIZE"]), outcome: { errno: "EOPNOTSUPP" }, rule: "vfs.fallocate-mode-exclusive" },
  { name: "PUNCH_HOLE | KEEP_SIZE on a guest_memfd as the raw word 3", setup: GMEM, op: gfalloc([3]), outcome: { result: "ok" }, rule: "gmem.punch-hole" },
];

describe("raw flag bits and pad words", () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const checker = new Checker(c.config ?? K618);
      await checker.applyAll([...c.setup, c.op]);
      const last = checker.trace[checker.trace.length - 1]!;
      expect(last.model).toEqual(c.outcome);
      expect(last.fired).toContain(c.rule);
    });
  }

  it("a raw bit and its name are the same flag: the slot made with [2] is READONLY", () => {
    const s = [...VM, memslot({ flags: [2] })].reduce((st, op) => step(st, op).state, initial(K618));
    expect(s.kvm.vms[0]!.slots[0]!.flags).toEqual(["READONLY"]);
  });
});
