// One small case per userfaultfd errno rule (and the signal and not-modeled rules), run through model and impl:
// the outcome, count field included, is what the cited code returns on the running kernel, and the model
// names the deciding rule.
import { describe, expect, it } from "vitest";
import { Checker } from "../props/checker.js";
import { PRESETS, type Config } from "../schema/config.js";
import type { Op, UffdFeatureName, UffdModeName } from "../schema/ops.js";
import type { Outcome } from "../schema/outcome.js";

const P = 4096;
const H = 2 * 1024 * 1024;
const K618 = PRESETS["kernel-6.18"];
const RICH = PRESETS.default;

const open = (features: UffdFeatureName[] = [], uffd = "u0"): Op => ({ op: "uffd_open", uffd, features });
const reg = (mode: UffdModeName[], map = "m0", offset = 0, len = 4 * P, uffd = "u0"): Op => ({ op: "uffd_register", uffd, map, offset, len, mode });
const unreg = (map = "m0", offset = 0, len = 4 * P, uffd = "u0"): Op => ({ op: "uffd_unregister", uffd, map, offset, len });
const cont = (offset = 0, len = P, extra: object = {}): Op => ({ op: "uffdio_continue", uffd: "u0", map: "m0", offset, len, ...extra });
const copy = (offset = 0, len = P, extra: object = {}): Op => ({ op: "uffdio_copy", uffd: "u0", map: "m0", offset, len, byte: 9, ...extra });
const zero = (offset = 0, len = P, extra: object = {}): Op => ({ op: "uffdio_zeropage", uffd: "u0", map: "m0", offset, len, ...extra });
const poison = (offset = 0, len = P, extra: object = {}): Op => ({ op: "uffdio_poison", uffd: "u0", map: "m0", offset, len, ...extra });
const wp = (mode: ("WP" | "DONTWAKE")[], offset = 0, len = P, map = "m0"): Op => ({ op: "uffdio_writeprotect", uffd: "u0", map, offset, len, mode });
const alias = (offset: number, byte = 5): Op => ({ op: "write_alias", map: "m0", offset, byte });

const anon = (pages = 4): Op[] => [{ op: "mmap", map: "m0", file: "anon", offset: 0, length: pages * P }];
/** A shmem file of 2 pages behind a shared 4-page mapping m0 (pages 2 and 3 are past EOF). */
const shmem = (shared = true): Op[] => [{ op: "memfd", file: "f0", size: 2 * P }, { op: "mmap", map: "m0", file: "f0", offset: 0, length: 4 * P, shared }];
const hugetlb: Op[] = [{ op: "memfd", file: "f0", size: 2 * H, hugetlb: true }, { op: "mmap", map: "m0", file: "f0", offset: 0, length: 2 * H, shared: true }];
const gmem = (flags: ("MMAP" | "INIT_SHARED")[] = ["MMAP", "INIT_SHARED"]): Op[] => [
  { op: "create_vm", vm: "v0" },
  { op: "create_gmem", vm: "v0", gmem: "g0", size: 2 * P, flags },
  { op: "gmem_mmap", gmem: "g0", map: "m0", offset: 0, length: 4 * P },
];

interface Case {
  readonly name: string;
  readonly config?: Config;
  readonly setup: readonly Op[];
  readonly op: Op;
  readonly outcome: Outcome;
  readonly rule: string;
}

const CASES: readonly Case[] = [
  // close, wake_check, registration
  { name: "close of a uffd that is not open", setup: [], op: { op: "close", uffd: "u0" }, outcome: { errno: "EBADF" }, rule: "close.ebadf" },
  { name: "wake_check of a thread that never slept", setup: [...anon(), open(), { op: "access", map: "m0", offset: 0, kind: "read", id: "a0" }], op: { op: "wake_check", id: "a0" }, outcome: { errno: "ESRCH" }, rule: "faultline.wake-check-esrch" },
  { name: "register on a uffd that is not open", setup: anon(), op: reg(["MISSING"]), outcome: { errno: "EBADF" }, rule: "uffd.register-ebadf" },
  { name: "register with mode 0", setup: [...anon(), open()], op: reg([]), outcome: { errno: "EINVAL" }, rule: "uffd.register-mode" },
  { name: "register with an unaligned start", setup: [...anon(), open()], op: reg(["MISSING"], "m0", 1), outcome: { errno: "EINVAL" }, rule: "uffd.range" },
  { name: "register with len 0", setup: [...anon(), open()], op: reg(["MISSING"], "m0", 0, 0), outcome: { errno: "EINVAL" }, rule: "uffd.range" },
  { name: "register of a range that leaves TASK_SIZE", setup: [...anon(), open()], op: reg(["MISSING"], "m0", 0, 2 ** 47), outcome: { errno: "EINVAL" }, rule: "uffd.range" },
  { name: "register where no VMA is", setup: [...anon(), open()], op: reg(["MISSING"], "m1"), outcome: { errno: "EINVAL" }, rule: "uffd.register-no-vma" },
  { name: "register from a hole: holes are skipped", setup: [...anon(), open(), { op: "munmap", map: "m0", offset: 0, len: 2 * P }], op: reg(["MISSING"]), outcome: { result: "ok", ioctls: ["WAKE", "COPY", "ZEROPAGE", "MOVE", "POISON"] }, rule: "uffd.register" },
  { name: "register of hugetlbfs from a start that is not huge aligned", setup: [...hugetlb, open()], op: reg(["MINOR"], "m0", P, H), outcome: { errno: "EINVAL" }, rule: "uffd.register-huge-start" },
  { name: "register of hugetlbfs to an end that is not huge aligned", setup: [...hugetlb, open()], op: reg(["MINOR"], "m0", 0, H + P), outcome: { errno: "EINVAL" }, rule: "uffd.register-huge-end" },
  { name: "MINOR on anonymous memory", setup: [...anon(), open()], op: reg(["MINOR"]), outcome: { errno: "EINVAL" }, rule: "uffd.register-type" },
  { name: "WP_ASYNC lets WP-only register guest_memfd on the running kernel", config: K618, setup: [...gmem(), open(["WP_ASYNC"])], op: reg(["WP"]), outcome: { result: "ok", ioctls: ["WAKE", "COPY", "ZEROPAGE", "MOVE", "WRITEPROTECT", "POISON"] }, rule: "uffd.register" },
  { name: "guest_memfd has no uffd support on the running kernel", config: K618, setup: [...gmem(), open()], op: reg(["MINOR"]), outcome: { errno: "EINVAL" }, rule: "uffd.register-type" },
  { name: "guest_memfd without INIT_SHARED (mm-2026 can_userfault)", config: RICH, setup: [...gmem(["MMAP"]), open()], op: reg(["MINOR"]), outcome: { errno: "EINVAL" }, rule: "uffd.register-type" },
  { name: "guest_memfd with INIT_SHARED takes MINOR (mm-2026)", config: RICH, setup: [...gmem(), open()], op: reg(["MINOR"]), outcome: { result: "ok", ioctls: ["WAKE", "COPY", "ZEROPAGE", "MOVE", "CONTINUE", "POISON"] }, rule: "uffd.register" },
  { name: "register over a range another uffd owns", setup: [...shmem(), open(), open([], "u1"), reg(["MINOR"], "m0", 0, 4 * P, "u1")], op: reg(["MINOR"]), outcome: { errno: "EBUSY" }, rule: "uffd.register-ebusy" },
  { name: "hugetlbfs MINOR: basic ioctls", setup: [...hugetlb, open()], op: reg(["MINOR"], "m0", 0, H), outcome: { result: "ok", ioctls: ["WAKE", "COPY", "WRITEPROTECT", "CONTINUE", "POISON"].filter((n) => n !== "WRITEPROTECT") }, rule: "uffd.register" },
  { name: "unregister on a uffd that is not open", setup: anon(), op: unreg(), outcome: { errno: "EBADF" }, rule: "uffd.unregister-ebadf" },
  { name: "unregister with len not a page multiple", setup: [...anon(), open()], op: unreg("m0", 0, P + 1), outcome: { errno: "EINVAL" }, rule: "uffd.range" },
  { name: "unregister where no VMA is", setup: [...anon(), open()], op: unreg("m1"), outcome: { errno: "EINVAL" }, rule: "uffd.unregister-no-vma" },
  { name: "unregister of hugetlbfs from a start that is not huge aligned", setup: [...hugetlb, open()], op: unreg("m0", P, H), outcome: { errno: "EINVAL" }, rule: "uffd.unregister-huge-start" },
  { name: "unregister ending inside a huge page: the hugetlbfs VMA cannot be split there", setup: [...hugetlb, open(), reg(["MINOR"], "m0", 0, 2 * H)], op: unreg("m0", 0, H + P), outcome: { errno: "EINVAL" }, rule: "uffd.unregister-huge-split" },
  { name: "unregister through another uffd", setup: [...shmem(), open(), open([], "u1"), reg(["MINOR"], "m0", 0, 4 * P, "u1")], op: unreg(), outcome: { errno: "EINVAL" }, rule: "uffd.unregister-other-ctx" },
  { name: "unregister over guest_memfd on the running kernel", config: K618, setup: [...gmem(), open()], op: unreg(), outcome: { errno: "EINVAL" }, rule: "uffd.unregister-type" },
  { name: "unregister of an unregistered range is a no-op", setup: [...anon(), open()], op: unreg(), outcome: { result: "ok" }, rule: "uffd.unregister" },

  // the mfill prologue: the count field is not written
  { name: "CONTINUE on a uffd that is not open", setup: shmem(), op: cont(), outcome: { errno: "EBADF", mapped: null }, rule: "uffd.ioctl-ebadf" },
  { name: "COPY with len 0", setup: [...shmem(), open()], op: copy(0, 0), outcome: { errno: "EINVAL", copy: null }, rule: "uffd.range" },
  { name: "ZEROPAGE with MODE_WP", setup: [...anon(), open(), reg(["MISSING", "WP"])], op: zero(0, P, { mode: ["WP"] }), outcome: { errno: "EINVAL", zeropage: null }, rule: "uffd.ioctl-mode" },
  { name: "POISON with MODE_WP", setup: [...anon(), open(), reg(["MISSING", "WP"])], op: poison(0, P, { mode: ["WP"] }), outcome: { errno: "EINVAL", updated: null }, rule: "uffd.ioctl-mode" },
  // mfill_atomic target checks: the count field holds -errno
  { name: "CONTINUE where no VMA is", setup: [...shmem(), open()], op: { op: "uffdio_continue", uffd: "u0", map: "m1", offset: 0, len: P }, outcome: { errno: "ENOENT", mapped: -2 }, rule: "uffd.mfill-no-vma" },
  { name: "COPY past the end of the VMA", setup: [...anon(), open(), reg(["MISSING"])], op: copy(3 * P, 2 * P), outcome: { errno: "ENOENT", copy: -2 }, rule: "uffd.mfill-vma-end" },
  { name: "CONTINUE on an unregistered VMA", setup: [...shmem(), open()], op: cont(), outcome: { errno: "ENOENT", mapped: -2 }, rule: "uffd.mfill-unregistered" },
  { name: "CONTINUE with MODE_WP on a VMA without WP", setup: [...shmem(), open(), reg(["MINOR"]), alias(0)], op: cont(0, P, { mode: ["WP"] }), outcome: { errno: "EINVAL", mapped: -22 }, rule: "uffd.mfill-wp-mode" },
  { name: "CONTINUE on guest_memfd registered WP-only (running kernel: no fill support)", config: K618, setup: [...gmem(), open(["WP_ASYNC"]), reg(["WP"])], op: cont(), outcome: { errno: "EINVAL", mapped: -22 }, rule: "uffd.mfill-type" },
  { name: "CONTINUE on anonymous memory", setup: [...anon(), open(), reg(["MISSING"])], op: cont(), outcome: { errno: "EINVAL", mapped: -22 }, rule: "uffd.continue-anon" },
  { name: "ZEROPAGE on hugetlbfs", setup: [...hugetlb, open(), reg(["MISSING"], "m0", 0, H)], op: zero(0, H), outcome: { errno: "EINVAL", zeropage: -22 }, rule: "uffd.hugetlb-zeropage" },
  { name: "CONTINUE on hugetlbfs with len not a huge page multiple", setup: [...hugetlb, open(), reg(["MINOR"], "m0", 0, H)], op: cont(0, P), outcome: { errno: "EINVAL", mapped: -22 }, rule: "uffd.hugetlb-align" },
  // per page
  { name: "CONTINUE on a shmem hole", setup: [...shmem(), open(), reg(["MINOR"])], op: cont(), outcome: { errno: "EFAULT", mapped: -14 }, rule: "uffd.continue-hole" },
  { name: "CONTINUE on a hugetlbfs hole", setup: [...hugetlb, open(), reg(["MINOR"], "m0", 0, H)], op: cont(0, H), outcome: { errno: "EFAULT", mapped: -14 }, rule: "uffd.continue-hole" },
  { name: "CONTINUE on a shmem page past EOF (running kernel: EINVAL)", setup: [...shmem(), open(), reg(["MINOR"])], op: cont(2 * P), outcome: { errno: "EINVAL", mapped: -22 }, rule: "uffd.continue-eof" },
  { name: "CONTINUE on guest_memfd past EOF (mm-2026: EFAULT)", config: RICH, setup: [...gmem(), open(), reg(["MINOR"])], op: cont(2 * P), outcome: { errno: "EFAULT", mapped: -14 }, rule: "uffd.continue-hole" },
  { name: "CONTINUE where a PTE is present", setup: [...shmem(), open(), reg(["MINOR"]), alias(0), cont()], op: cont(), outcome: { errno: "EEXIST", mapped: -17 }, rule: "uffd.mfill-pte-exists" },
  { name: "COPY past EOF of a shared shmem mapping", setup: [...shmem(), open(), reg(["MISSING"])], op: copy(2 * P), outcome: { errno: "EFAULT", copy: -14 }, rule: "uffd.mfill-eof" },
  { name: "COPY where the shared page cache holds the page", setup: [...shmem(), open(), reg(["MINOR"]), alias(0)], op: copy(), outcome: { errno: "EEXIST", copy: -17 }, rule: "uffd.mfill-page-cached" },
  { name: "COPY onto a present anonymous PTE", setup: [...anon(), open(), reg(["MISSING"]), copy()], op: copy(), outcome: { errno: "EEXIST", copy: -17 }, rule: "uffd.mfill-pte-exists" },
  { name: "ZEROPAGE onto a poison marker", setup: [...anon(), open(), reg(["MISSING"]), poison()], op: zero(), outcome: { errno: "EEXIST", zeropage: -17 }, rule: "uffd.mfill-pte-not-none" },
  { name: "POISON onto a uffd-wp marker", setup: [...shmem(), open(), reg(["WP"]), wp(["WP"])], op: poison(), outcome: { errno: "EEXIST", updated: -17 }, rule: "uffd.mfill-pte-not-none" },
  { name: "POISON past EOF", setup: [...shmem(), open(), reg(["MISSING"])], op: poison(3 * P), outcome: { errno: "EFAULT", updated: -14 }, rule: "uffd.mfill-eof" },
  { name: "ZEROPAGE past EOF", setup: [...shmem(), open(), reg(["MISSING"])], op: zero(3 * P), outcome: { errno: "EFAULT", zeropage: -14 }, rule: "uffd.mfill-eof" },
  { name: "COPY on guest_memfd past EOF (mm-2026 alloc_folio)", config: RICH, setup: [...gmem(), open(), reg(["MISSING"])], op: copy(2 * P), outcome: { errno: "ENOMEM", copy: -12 }, rule: "uffd.gmem-alloc" },
  { name: "COPY where guest_memfd holds the page", config: RICH, setup: [...gmem(), open(), reg(["MISSING", "MINOR"]), alias(0)], op: copy(), outcome: { errno: "EEXIST", copy: -17 }, rule: "uffd.mfill-page-cached" },
  { name: "partial CONTINUE: the count field holds the bytes done", setup: [...shmem(), open(), reg(["MINOR"]), alias(0)], op: cont(0, 2 * P), outcome: { errno: "EAGAIN", mapped: P }, rule: "uffd.mfill-partial" },
  // WRITEPROTECT
  { name: "WRITEPROTECT on a uffd that is not open", setup: shmem(), op: wp(["WP"]), outcome: { errno: "EBADF" }, rule: "uffd.ioctl-ebadf" },
  { name: "WRITEPROTECT with WP and DONTWAKE", setup: [...shmem(), open(), reg(["WP"])], op: wp(["WP", "DONTWAKE"]), outcome: { errno: "EINVAL" }, rule: "uffd.writeprotect-mode" },
  { name: "WRITEPROTECT where no VMA is", setup: [...shmem(), open()], op: wp(["WP"], 0, P, "m1"), outcome: { errno: "ENOENT" }, rule: "uffd.writeprotect-no-vma" },
  { name: "WRITEPROTECT over a MINOR-only VMA", setup: [...shmem(), open(), reg(["MINOR"])], op: wp(["WP"]), outcome: { errno: "ENOENT" }, rule: "uffd.writeprotect-not-wp" },
  { name: "WRITEPROTECT of hugetlbfs with len not a huge page multiple", setup: [...hugetlb, open(), reg(["WP"], "m0", 0, H)], op: wp(["WP"], 0, P), outcome: { errno: "EINVAL" }, rule: "uffd.writeprotect-huge-align" },
  { name: "WAKE with len 0", setup: [...shmem(), open()], op: { op: "uffdio_wake", uffd: "u0", map: "m0", offset: 0, len: 0 }, outcome: { errno: "EINVAL" }, rule: "uffd.range" },
  { name: "WAKE on a uffd that is not open", setup: shmem(), op: { op: "uffdio_wake", uffd: "u0", map: "m0", offset: 0, len: P }, outcome: { errno: "EBADF" }, rule: "uffd.ioctl-ebadf" },
  // signals and events
  { name: "SIGBUS feature: the fault is a SIGBUS, no message", setup: [...anon(), open(["SIGBUS"]), reg(["MISSING"])], op: { op: "access", map: "m0", offset: 0, kind: "read", id: "a0" }, outcome: { result: "SIGBUS", code: "BUS_ADRERR" }, rule: "uffd.fault-sigbus-feature" },
  { name: "a shmem fault past EOF is a SIGBUS before any message", setup: [...shmem(), open(), reg(["MISSING"])], op: { op: "access", map: "m0", offset: 2 * P, kind: "read" }, outcome: { result: "SIGBUS", code: "BUS_ADRERR" }, rule: "mm.sigbus-eof" },
  { name: "an access to a poisoned page (x86 without CONFIG_MEMORY_FAILURE)", setup: [...anon(), open(), reg(["MISSING"]), poison()], op: { op: "access", map: "m0", offset: 0, kind: "read" }, outcome: { result: "SIGBUS", code: "BUS_ADRERR" }, rule: "mm.poison-marker" },
  {
    name: "an access to a poisoned page (x86 with CONFIG_MEMORY_FAILURE): BUS_MCEERR_AR",
    config: RICH,
    setup: [...anon(), open(), reg(["MISSING"]), poison()],
    op: { op: "access", map: "m0", offset: 0, kind: "read" },
    outcome: { result: "SIGBUS", code: "BUS_MCEERR_AR" },
    rule: "mm.poison-marker",
  },
  {
    name: "an access to a poisoned page on arm64: BUS_MCEERR_AR whatever CONFIG_MEMORY_FAILURE says",
    config: { ...PRESETS.arm64, kernel: { ...PRESETS.arm64.kernel, memoryFailure: false } },
    setup: [...anon(), open(), reg(["MISSING"]), poison()],
    op: { op: "access", map: "m0", offset: 0, kind: "read" },
    outcome: { result: "SIGBUS", code: "BUS_MCEERR_AR" },
    rule: "mm.poison-marker",
  },
  {
    name: "a vCPU's GUP on a USER_MODE_ONLY uffd: SIGBUS, KVM_RUN fails with EFAULT",
    config: K618,
    setup: [...anon(), { op: "uffd_open", uffd: "u0", features: [], flags: ["USER_MODE_ONLY"] }, reg(["MISSING"]), { op: "create_vm", vm: "v0" }, { op: "set_memory_region", vm: "v0", slot: 0, flags: [], guest_phys_addr: 0, memory_size: 4 * P, userspace: "m0" }],
    op: { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 0, kind: "read" },
    outcome: { errno: "EFAULT" },
    rule: "uffd.fault-user-mode-only",
  },
  { name: "MADV_DONTNEED that would raise EVENT_REMOVE is not modeled", setup: [...anon(), open(["EVENT_REMOVE"]), reg(["MISSING"])], op: { op: "madvise", map: "m0", offset: 0, len: P, advice: "DONTNEED" }, outcome: { errno: "ENOTTY" }, rule: "faultline.uffd-event" },
  { name: "munmap that would raise EVENT_UNMAP is not modeled", setup: [...anon(), open(["EVENT_UNMAP"]), reg(["MISSING"])], op: { op: "munmap", map: "m0", offset: 0, len: P }, outcome: { errno: "ENOTTY" }, rule: "faultline.uffd-event" },
];

describe("userfaultfd errno and decision rules", () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const checker = new Checker(c.config ?? K618);
      await checker.applyAll([...c.setup, c.op]);
      const last = checker.trace[checker.trace.length - 1]!;
      expect(last.model).toEqual(c.outcome);
      expect(last.fired).toContain(c.rule);
    });
  }
});
