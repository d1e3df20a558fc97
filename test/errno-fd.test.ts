// One fd namespace: every field the kernel reads as an fd takes any name, and the answer is that of the file the
// name refers to (or EBADF for a name no open fd has). One case per rule and kind, through model and impl; the
// outcomes for VM, memfd and userfaultfd fds were checked on the running kernel (corpus host_memory/fd-kinds-*).
import { describe, expect, it } from "vitest";
import { Checker } from "../props/checker.js";
import { PRESETS, type Config } from "../schema/config.js";
import type { Op } from "../schema/ops.js";
import type { Outcome } from "../schema/outcome.js";

const P = 4096;
const RICH = PRESETS.default;
const ARM = PRESETS.arm64;

/** One object of each kind: VM v0, guest_memfd g0 (MMAP|INIT_SHARED), memfd f0, userfaultfd u0, anonymous m0. */
const ALL: readonly Op[] = [
  { op: "create_vm", vm: "v0" },
  { op: "create_gmem", vm: "v0", gmem: "g0", size: 4 * P, flags: ["MMAP", "INIT_SHARED"] },
  { op: "memfd", file: "f0", size: 4 * P },
  { op: "uffd_open", uffd: "u0", features: [] },
  { op: "mmap", map: "m0", file: "anon", offset: 0, length: 4 * P },
];
const region = (vm: string, extra: object = {}): Op => ({ op: "set_memory_region", vm, slot: 0, flags: [], guest_phys_addr: 0, memory_size: P, userspace: "m0", ...extra });
const register = (uffd: string): Op => ({ op: "uffd_register", uffd, map: "m0", offset: 0, len: P, mode: ["MISSING"] });
const copy = (uffd: string): Op => ({ op: "uffdio_copy", uffd, map: "m0", offset: 0, len: P, byte: 1 });
const mmap = (file: string, shared: boolean, prot?: "r"): Op => ({ op: "mmap", map: "m3", file, offset: 0, length: P, shared, ...(prot === undefined ? {} : { prot }) });
const falloc = (file: string): Op => ({ op: "file_fallocate", file, mode: ["KEEP_SIZE"], offset: 0, len: P });

interface Case {
  readonly name: string;
  readonly config?: Config;
  readonly setup?: readonly Op[];
  readonly op: Op;
  readonly outcome: Outcome;
  readonly rule: string;
}

const CASES: readonly Case[] = [
  // ioctls
  { name: "a KVM ioctl on a memfd", op: region("f0"), outcome: { errno: "ENOTTY" }, rule: "fd.ioctl-enotty" },
  { name: "a KVM ioctl on a guest_memfd", op: { op: "check_extension", cap: "USER_MEMORY2", vm: "g0" }, outcome: { errno: "ENOTTY" }, rule: "fd.ioctl-enotty" },
  { name: "KVM_CREATE_GUEST_MEMFD on a userfaultfd", op: { op: "create_gmem", vm: "u0", gmem: "g1", size: P, flags: [] }, outcome: { errno: "EINVAL" }, rule: "fd.ioctl-uffd-einval" },
  { name: "KVM_SET_MEMORY_ATTRIBUTES on a userfaultfd", op: { op: "set_memory_attributes", vm: "u0", address: 0, size: P, attributes: [] }, outcome: { errno: "EINVAL" }, rule: "fd.ioctl-uffd-einval" },
  { name: "UFFDIO_REGISTER on a VM fd (x86)", op: register("v0"), outcome: { errno: "ENOTTY" }, rule: "fd.ioctl-vm-enotty" },
  { name: "UFFDIO_REGISTER on a VM fd (arm64)", config: ARM, op: register("v0"), outcome: { errno: "EINVAL" }, rule: "fd.ioctl-vm-einval" },
  { name: "UFFDIO_COPY on a memfd: the count is never written", op: copy("f0"), outcome: { errno: "ENOTTY", copy: null }, rule: "fd.ioctl-enotty" },
  { name: "UFFDIO_UNREGISTER on a guest_memfd", op: { op: "uffd_unregister", uffd: "g0", map: "m0", offset: 0, len: P }, outcome: { errno: "ENOTTY" }, rule: "fd.ioctl-enotty" },
  { name: "UFFDIO_WAKE on a VM fd", op: { op: "uffdio_wake", uffd: "v0", map: "m0", offset: 0, len: P }, outcome: { errno: "ENOTTY" }, rule: "fd.ioctl-vm-enotty" },
  { name: "UFFDIO_WRITEPROTECT on a memfd", op: { op: "uffdio_writeprotect", uffd: "f0", map: "m0", offset: 0, len: P, mode: ["WP"] }, outcome: { errno: "ENOTTY" }, rule: "fd.ioctl-enotty" },
  { name: "the conversion ioctl on a VM fd", op: { op: "gmem_convert", gmem: "v0", offset: 0, size: P, to: "shared" }, outcome: { errno: "ENOTTY" }, rule: "fd.ioctl-vm-enotty" },
  { name: "the conversion ioctl on a userfaultfd", op: { op: "gmem_convert", gmem: "u0", offset: 0, size: P, to: "shared" }, outcome: { errno: "EINVAL" }, rule: "fd.ioctl-uffd-einval" },
  // binding a memslot
  { name: "binding a memfd as guest_memfd", op: region("v0", { flags: ["GUEST_MEMFD"], guest_memfd: "f0" }), outcome: { errno: "EINVAL" }, rule: "gmem.bind-not-gmem" },
  { name: "binding a VM fd as guest_memfd", op: region("v0", { flags: ["GUEST_MEMFD"], guest_memfd: "v0" }), outcome: { errno: "EINVAL" }, rule: "gmem.bind-not-gmem" },
  // mmap
  { name: "mmap of a VM fd", op: mmap("v0", true), outcome: { errno: "ENODEV" }, rule: "fd.mmap-enodev" },
  { name: "MAP_PRIVATE of a userfaultfd", op: mmap("u0", false), outcome: { errno: "ENODEV" }, rule: "fd.mmap-enodev" },
  { name: "a read-only MAP_SHARED of a userfaultfd", op: mmap("u0", true, "r"), outcome: { errno: "ENODEV" }, rule: "fd.mmap-enodev" },
  { name: "a writable MAP_SHARED of a userfaultfd (O_RDONLY)", op: mmap("u0", true), outcome: { errno: "EACCES" }, rule: "fd.mmap-eacces" },
  { name: "MAP_FIXED_NOREPLACE is checked before the file", op: { ...mmap("v0", true), map: "m0" } as Op, outcome: { errno: "EEXIST" }, rule: "mm.mmap-noreplace" },
  { name: "mmap names a guest_memfd: kvm_gmem_mmap", op: mmap("g0", true), outcome: { result: "ok" }, rule: "gmem.mmap" },
  { name: "mmap of a guest_memfd, MAP_PRIVATE", op: mmap("g0", false), outcome: { errno: "EINVAL" }, rule: "gmem.mmap-private" },
  { name: "gmem_mmap names a memfd: a shared file mapping", op: { op: "gmem_mmap", gmem: "f0", map: "m3", offset: 0, length: P }, outcome: { result: "ok" }, rule: "mm.mmap" },
  // fallocate, pread, pwrite
  { name: "fallocate of a VM fd", op: falloc("v0"), outcome: { errno: "ENODEV" }, rule: "fd.fallocate-enodev" },
  { name: "fallocate of a userfaultfd", op: falloc("u0"), outcome: { errno: "EBADF" }, rule: "fd.fallocate-ebadf" },
  { name: "fallocate checks its arguments before the file", op: { ...falloc("v0"), len: 0 } as Op, outcome: { errno: "EINVAL" }, rule: "mm.fallocate-args" },
  { name: "file_fallocate names a guest_memfd: kvm_gmem_fallocate", op: falloc("g0"), outcome: { result: "ok" }, rule: "gmem.allocate" },
  { name: "gmem_fallocate names a memfd: shmem_fallocate", op: { op: "gmem_fallocate", gmem: "f0", mode: ["KEEP_SIZE"], offset: 0, len: P }, outcome: { result: "ok" }, rule: "mm.fallocate-allocate" },
  { name: "pwrite to a guest_memfd", op: { op: "pwrite", file: "g0", offset: 0, byte: 1, len: 1 }, outcome: { errno: "ESPIPE" }, rule: "fd.pread-espipe" },
  { name: "pread of a VM fd", op: { op: "pread", file: "v0", offset: 0 }, outcome: { errno: "ESPIPE" }, rule: "fd.pread-espipe" },
  { name: "pread of a userfaultfd", op: { op: "pread", file: "u0", offset: 0 }, outcome: { errno: "ESPIPE" }, rule: "fd.pread-espipe" },
  // close and names
  { name: "close takes any fd, whichever field names it", op: { op: "close", vm: "u0" }, outcome: { result: "ok" }, rule: "uffd.release" },
  { name: "close of a memfd named in the gmem field", op: { op: "close", gmem: "f0" }, outcome: { result: "ok" }, rule: "mm.close" },
  { name: "close of a closed name", setup: [...ALL, { op: "close", file: "f0" }], op: { op: "close", file: "f0" }, outcome: { errno: "EBADF" }, rule: "close.ebadf" },
  {
    name: "a name re-bound to a memfd no longer names the VM",
    setup: [...ALL, { op: "memfd", file: "v0", size: P }],
    op: { op: "check_extension", cap: "USER_MEMORY2", vm: "v0" },
    outcome: { errno: "ENOTTY" },
    rule: "fd.ioctl-enotty",
  },
  {
    name: "a guest_memfd whose name was re-bound stays open: unmapping its last mapping does not release it",
    setup: [...ALL, { op: "gmem_mmap", gmem: "g0", map: "m1", offset: 0, length: P }, { op: "memfd", file: "g0", size: P }],
    op: { op: "munmap", map: "m1" },
    outcome: { result: "ok" },
    rule: "mm.munmap",
  },
];

describe("one fd namespace: every fd field takes any name", () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const checker = new Checker(c.config ?? RICH);
      await checker.applyAll([...(c.setup ?? ALL), c.op]);
      const last = checker.trace[checker.trace.length - 1]!;
      expect(last.model).toEqual(c.outcome);
      expect(last.fired).toContain(c.rule);
    });
  }

  it("the re-bound guest_memfd still backs its slot after its mapping goes", async () => {
    const checker = new Checker(RICH);
    await checker.applyAll([
      ...ALL,
      region("v0", { slot: 1, guest_phys_addr: 16 * P, memory_size: 4 * P, flags: ["GUEST_MEMFD"], guest_memfd: "g0", guest_memfd_offset: 0, userspace: null }),
      { op: "gmem_mmap", gmem: "g0", map: "m1", offset: 0, length: P },
      { op: "memfd", file: "g0", size: P },
      { op: "munmap", map: "m1" },
      { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 16 * P, kind: "write", byte: 3 },
    ]);
    const last = checker.trace[checker.trace.length - 1]!;
    expect(last.fired).not.toContain("gmem.get-pfn-closed");
    expect(last.model).toEqual({ result: "ok" });
  });
});
