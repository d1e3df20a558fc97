// The refusal suites: a layout's own operations mixed with the calls the kernel refuses that the other suites'
// generators rarely or never make (closed and foreign fds, unsupported VM types and attributes, unreadable
// userfault bitmaps, bad guest_memfd bindings, bad mmap/munmap/madvise/fallocate arguments, huge-page
// alignment, events that are not modeled). Each refusal is then checked against the implementation in many
// states, not only in the one state of its example test, and every errno rule of the model gets a minimum in
// the default check (props/minimums.ts).
import fc from "fast-check";
import { PAGE_SIZE, SIZE_2M } from "../model/consts.js";
import { PRESETS, type Config } from "../schema/config.js";
import type { Op, OpOf } from "../schema/ops.js";
import { opArbitrary } from "./generators.js";
import { gmemOpArbitrary } from "./gmem/generators.js";
import { GMEM_V7 } from "./gmem/layouts.js";
import { ANON, regionOp, setupOf } from "./layouts.js";
import { HUGETLB, SHMEM, type UffdLayout } from "./uffd/layouts.js";
import { uffdOps } from "./uffd/generators.js";
import { opSuite, type OpSuite } from "./uffd/run.js";

const MiB = 1024 * 1024;
const P = PAGE_SIZE;

/** The layout's own operations, with a refusal every few steps. */
const mixed = (own: fc.Arbitrary<Op>, refusals: readonly Op[]): fc.Arbitrary<Op> =>
  fc.oneof({ weight: 3, arbitrary: own }, { weight: 1, arbitrary: fc.constantFrom(...refusals) });

/** ANON's slot 0 (4 MiB of m0 at gpa 0), with some fields changed. */
const region = (over: Partial<OpOf<"set_memory_region">>): Op => regionOp(ANON.slots[0]!, over);

/** KVM on anonymous memory, with a second VM of type 0 (no private memory), a guest_memfd of each VM, slot 5 bound. */
const KVM_SETUP: readonly Op[] = [
  ...setupOf(ANON, 1),
  { op: "create_vm", vm: "v1", type: 0 },
  { op: "create_gmem", vm: "v0", gmem: "g7", size: 2 * MiB, flags: [] },
  { op: "create_gmem", vm: "v1", gmem: "g8", size: 2 * MiB, flags: [] },
  region({ slot: 5, guest_phys_addr: 32 * MiB, memory_size: 2 * MiB, flags: ["GUEST_MEMFD"], guest_memfd: "g7", guest_memfd_offset: 0 }),
];
const bind = (slot: number, gmem?: string, offset = 0): Op =>
  region({ slot, guest_phys_addr: (32 + 2 * slot) * MiB, memory_size: MiB, flags: ["GUEST_MEMFD"], ...(gmem === undefined ? {} : { guest_memfd: gmem, guest_memfd_offset: offset }) });
const KVM_REFUSALS: readonly Op[] = [
  { op: "create_vm", vm: "v2", type: 7 },
  { op: "close", vm: "v1" },
  { op: "set_memory_attributes", vm: "v1", address: 0, size: P, attributes: ["PRIVATE"] },
  { op: "vcpu_access", vm: "v3", vcpu: 0, gpa: 0, kind: "read" },
  // USERFAULT with a bitmap pointer nothing backs (faults then fail with a bare EFAULT), or past TASK_SIZE.
  region({ flags: ["USERFAULT"], userfault_bitmap: P }),
  region({ flags: ["USERFAULT"], userfault_bitmap: 2 ** 47 }),
  region({ slot: 4, guest_phys_addr: 2 ** 52 - 2 * MiB, memory_size: 4 * MiB }),
  { op: "create_gmem", vm: "v9", gmem: "g6", size: 2 * MiB, flags: [] },
  bind(6, "g7", MiB / 2),
  bind(7, "g8"),
  bind(8, "g7", 3 * MiB / 2),
  bind(9, "g9"),
  bind(10),
  // Slot 5 as it is but without GUEST_MEMFD: faultline's assumption refuses the toggle the kernel lets through.
  region({ slot: 5, guest_phys_addr: 32 * MiB, memory_size: 2 * MiB, flags: [] }),
  { op: "gmem_mmap", gmem: "g7", map: "m8", offset: 0, length: P },
  { op: "gmem_mmap", gmem: "g9", map: "m8", offset: 0, length: P },
  { op: "gmem_convert", gmem: "g7", offset: 0, size: P, to: "private" },
  { op: "close", gmem: "g9" },
];

/** guest_memfd v8: a type-0 VM's file (v8 refuses either direction there), MAP_PRIVATE, and offsets past s_maxbytes. */
const GMEM_SETUP: readonly Op[] = [
  ...setupOf(GMEM_V7, GMEM_V7.vmType),
  { op: "create_vm", vm: "v1", type: 0 },
  { op: "create_gmem", vm: "v1", gmem: "g8", size: 2 * MiB, flags: ["MMAP"] },
];
const GMEM_REFUSALS: readonly Op[] = [
  { op: "gmem_convert", gmem: "g8", offset: 0, size: P, to: "private" },
  { op: "gmem_convert", gmem: "g8", offset: 0, size: P, to: "shared" },
  { op: "gmem_mmap", gmem: "g1", map: "m8", offset: 0, length: P, shared: false },
  { op: "gmem_mmap", gmem: "g2", map: "m8", offset: 0, length: P },
  { op: "gmem_fallocate", gmem: "g0", mode: ["KEEP_SIZE"], offset: 2 ** 62, len: 2 ** 62 },
  { op: "gmem_fallocate", gmem: "g9", mode: ["KEEP_SIZE"], offset: 0, len: P },
  { op: "close", gmem: "g9" },
];

/** Host memory and userfaultfd over shmem: unknown fds, bad arguments, events the model does not cover. */
const MM_REFUSALS: readonly Op[] = [
  { op: "mmap", map: "m7", file: "f9", offset: 0, length: P, shared: true },
  { op: "mmap", map: "m7", file: "f0", offset: 0, length: 0, shared: true },
  { op: "mmap", map: "m7", file: "f0", offset: 1, length: P, shared: true },
  { op: "mmap", map: "m7", file: "anon", offset: 0, length: 2 ** 41 },
  { op: "memfd", file: "f8", size: P, hugetlb: true },
  { op: "munmap", map: "m2", offset: 1, len: P },
  { op: "munmap", map: "m2", offset: 0, len: 0 },
  { op: "madvise", map: "m2", offset: 1, len: P, advice: "DONTNEED" },
  { op: "file_fallocate", file: "f0", mode: ["PUNCH_HOLE"], offset: 0, len: P },
  { op: "file_fallocate", file: "f0", mode: ["PUNCH_HOLE", "KEEP_SIZE"], offset: 0, len: 0 },
  { op: "file_fallocate", file: "f9", mode: ["PUNCH_HOLE", "KEEP_SIZE"], offset: 0, len: P },
  { op: "pwrite", file: "f9", offset: 0, byte: 1, len: 1 },
  { op: "file_fallocate", file: "f0", mode: ["KEEP_SIZE"], offset: 2 ** 62, len: 2 ** 62 },
  // The events of u2 (setup): EVENT_REMOVE and EVENT_UNMAP on the private mapping are not modeled.
  { op: "madvise", map: "m2", offset: 0, len: P, advice: "DONTNEED" },
  { op: "munmap", map: "m2", offset: 0, len: P },
  { op: "close", file: "f9" },
];

const H = SIZE_2M;

/** hugetlbfs: ranges that would split a huge page. */
const HUGETLB_REFUSALS: readonly Op[] = [
  { op: "uffd_register", uffd: "u1", map: "m2", offset: 0, len: H + P, mode: ["MISSING"] },
  { op: "uffd_unregister", uffd: "u0", map: "m0", offset: 0, len: H + P },
  { op: "uffd_register", uffd: "u1", map: "m2", offset: 0, len: 2 * H, mode: ["WP"] },
  { op: "uffdio_writeprotect", uffd: "u1", map: "m2", offset: 0, len: P, mode: ["WP"] },
  { op: "munmap", map: "m2", offset: P, len: H },
  { op: "munmap", map: "m2", offset: 0, len: P },
  { op: "memfd", file: "f8", size: H + P, hugetlb: true },
  { op: "madvise", map: "m2", offset: P, len: P, advice: "DONTNEED" },
  { op: "mmap", map: "m7", file: "f0", offset: P, length: H, shared: true },
  { op: "uffdio_writeprotect", uffd: "u0", map: "m0", offset: 0, len: H + P, mode: ["WP"] },
];

/** The running kernel: no private VMs, no userfaultfd fills on guest_memfd. */
const K618 = PRESETS["kernel-6.18"];
const K618_SETUP: readonly Op[] = [
  { op: "create_vm", vm: "v0" },
  { op: "create_gmem", vm: "v0", gmem: "g0", size: 4 * P, flags: ["MMAP", "INIT_SHARED"] },
  { op: "gmem_mmap", gmem: "g0", map: "m0", offset: 0, length: 4 * P },
  { op: "uffd_open", uffd: "u0", features: ["WP_ASYNC"] },
  { op: "uffd_register", uffd: "u0", map: "m0", offset: 0, len: 4 * P, mode: ["WP"] },
  { op: "mmap", map: "m1", file: "anon", offset: 0, length: 2 * P },
  { op: "uffd_register", uffd: "u0", map: "m1", offset: 0, len: 2 * P, mode: ["WP"] },
];
const K618_REFUSALS: readonly Op[] = [
  { op: "create_vm", vm: "v1", type: 1 },
  { op: "uffdio_continue", uffd: "u0", map: "m0", offset: 0, len: P },
  { op: "uffdio_copy", uffd: "u0", map: "m0", offset: P, len: P, byte: 1 },
  { op: "access", map: "m0", offset: 0, kind: "write", byte: 1 },
  { op: "access", map: "m0", offset: P, kind: "read" },
  { op: "uffdio_writeprotect", uffd: "u0", map: "m0", offset: 0, len: 4 * P, mode: ["WP"] },
  { op: "check_extension", cap: "VM_TYPES" },
  // WP_ASYNC on anonymous memory: a write to a protected page it owns reuses the page in place.
  { op: "access", map: "m1", offset: 0, kind: "write", byte: 2 },
  { op: "uffdio_writeprotect", uffd: "u0", map: "m1", offset: 0, len: 2 * P, mode: ["WP"] },
  // Secret hiding's two series are not in 6.18: no pwrite on a guest_memfd, no NO_DIRECT_MAP flag.
  { op: "gmem_write", gmem: "g0", offset: 0, len: P, byte: 1 },
  { op: "create_gmem", vm: "v0", gmem: "g5", size: P, flags: ["NO_DIRECT_MAP"] },
];

/** A kernel built without guest_memfd (CONFIG_KVM_GUEST_MEMFD=n). */
const NO_GMEM: Config = { ...K618, kernel: { ...K618.kernel, guestMemfd: false } };
const NO_GMEM_REFUSALS: readonly Op[] = [
  { op: "create_gmem", vm: "v0", gmem: "g0", size: 2 * MiB, flags: [] },
  { op: "check_extension", cap: "GUEST_MEMFD_FLAGS", vm: "v0" },
  region({ flags: ["GUEST_MEMFD"], guest_memfd: "g0", guest_memfd_offset: 0 }),
  { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 0, kind: "write", byte: 1 },
  // Nor has it the bitmap re-scan ioctl proposed for poison emulation (no kernel has): ENOTTY.
  { op: "userfault_rescan", vm: "v0", slot: 0 },
];

/** A context asking for EVENT_REMOVE and EVENT_UNMAP, registered on the private shmem mapping m2. */
const EVENTS: readonly Op[] = [
  { op: "uffd_open", uffd: "u2", features: ["EVENT_REMOVE", "EVENT_UNMAP"] },
  { op: "uffd_register", uffd: "u2", map: "m2", offset: 0, len: 6 * P, mode: ["MISSING"] },
];

/** Faults no other suite's contexts make: a SIGBUS ctx over a read-only mapping of f0, a USER_MODE_ONLY ctx under slot 1. */
const SLOT1_GPA = 64 * MiB;
const SIGNAL_CTXS: readonly Op[] = [
  { op: "uffd_open", uffd: "u3", features: ["SIGBUS"] },
  { op: "mmap", map: "m5", file: "f0", offset: 0, length: 6 * P, shared: true, prot: "r" },
  { op: "uffd_register", uffd: "u3", map: "m5", offset: 0, len: 6 * P, mode: ["MISSING"] },
  { op: "uffd_open", uffd: "u4", features: [], flags: ["USER_MODE_ONLY"] },
  { op: "mmap", map: "m6", file: "anon", offset: 0, length: 4 * P },
  { op: "uffd_register", uffd: "u4", map: "m6", offset: 0, len: 4 * P, mode: ["MISSING"] },
  { op: "set_memory_region", vm: "v0", slot: 1, flags: [], guest_phys_addr: SLOT1_GPA, memory_size: 4 * P, userspace: "m6" },
];

/** Calls that succeed but that the generators do not make: reads, empty advice, allocation, shared anonymous memory, close. */
const MM_PLAIN: readonly Op[] = [
  { op: "access", map: "m5", offset: P, kind: "read" },
  { op: "access", map: "m5", offset: 0, kind: "write", byte: 1 },
  { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: SLOT1_GPA, kind: "read" },
  { op: "pread", file: "f0", offset: 0, len: 1 },
  { op: "madvise", map: "m0", offset: 0, len: 0, advice: "DONTNEED" },
  { op: "file_fallocate", file: "f0", mode: [], offset: 0, len: P },
  { op: "mmap", map: "m8", file: "anon", offset: 0, length: P, shared: true },
  { op: "close", file: "f0" },
];

/**
 * The argument vocabulary of issue 16 on the richer kernel: raw flag bits, fallocate modes, the handshake, read-only
 * fds, mincore and UFFDIO_MOVE. m0 (8 pages, MISSING with u0) is where pages move to from m1; u1 is before its
 * handshake; r0 / w0 are f0 opened O_RDONLY / O_WRONLY, and m2 a read-only MAP_SHARED of r0; m3 a private mapping of
 * f0, m4 read-only anonymous memory, m5 registered with u2, m6 a guest_memfd mapping, m7 a private hugetlbfs one.
 */
const VOCAB_SETUP: readonly Op[] = [
  { op: "create_vm", vm: "v0" },
  { op: "create_gmem", vm: "v0", gmem: "g0", size: 4 * P, flags: ["MMAP", "INIT_SHARED"] },
  { op: "gmem_mmap", gmem: "g0", map: "m6", offset: 0, length: 4 * P },
  { op: "memfd", file: "f0", size: 8 * P },
  { op: "pwrite", file: "f0", offset: 0, byte: 5, len: P },
  { op: "reopen", file: "r0", from: "f0", mode: "r" },
  { op: "reopen", file: "w0", from: "f0", mode: "w" },
  { op: "memfd", file: "f1", size: H, hugetlb: true },
  { op: "mmap", map: "m7", file: "f1", offset: 0, length: H, shared: false },
  { op: "uffd_open", uffd: "u0", features: [] },
  { op: "mmap", map: "m0", file: "anon", offset: 0, length: 8 * P },
  { op: "uffd_register", uffd: "u0", map: "m0", offset: 0, len: 8 * P, mode: ["MISSING"] },
  { op: "mmap", map: "m1", file: "anon", offset: 0, length: 8 * P },
  { op: "access", map: "m1", offset: 0, kind: "write", byte: 4 },
  { op: "mmap", map: "m2", file: "r0", offset: 0, length: 4 * P, shared: true, prot: "r" },
  { op: "mmap", map: "m3", file: "f0", offset: 0, length: 4 * P, shared: false },
  { op: "mmap", map: "m4", file: "anon", offset: 0, length: 4 * P, prot: "r" },
  { op: "uffd_create", uffd: "u1" },
  { op: "uffd_open", uffd: "u2", features: [] },
  { op: "mmap", map: "m5", file: "anon", offset: 0, length: 4 * P },
  { op: "uffd_register", uffd: "u2", map: "m5", offset: 0, len: 4 * P, mode: ["MISSING"] },
];
const move = (dst: string, dstPage: number, src: string, srcPage: number, pages = 1, extra: Partial<OpOf<"uffdio_move">> = {}): Op => ({
  op: "uffdio_move",
  uffd: "u0",
  map: dst,
  offset: dstPage * P,
  src,
  src_offset: srcPage * P,
  len: pages * P,
  ...extra,
});
const VOCAB_OPS: readonly Op[] = [
  // flag words, pads and fallocate modes
  { op: "file_fallocate", file: "f0", mode: ["NO_HIDE_STALE"], offset: 0, len: P },
  { op: "file_fallocate", file: "f0", mode: ["COLLAPSE_RANGE", "KEEP_SIZE"], offset: 0, len: P },
  { op: "file_fallocate", file: "f0", mode: ["ZERO_RANGE"], offset: 0, len: P },
  { op: "file_fallocate", file: "f0", mode: [3], offset: P, len: P },
  { op: "gmem_fallocate", gmem: "g0", mode: ["ZERO_RANGE", "KEEP_SIZE"], offset: 0, len: P },
  { op: "gmem_fallocate", gmem: "g0", mode: [3], offset: 0, len: P },
  { op: "uffd_register", uffd: "u0", map: "m0", offset: 0, len: P, mode: [8] },
  { op: "uffdio_copy", uffd: "u0", map: "m0", offset: 0, len: P, mode: [4] },
  { op: "set_memory_region", vm: "v0", slot: 3, flags: [], guest_phys_addr: 0, memory_size: P, userspace: "m1", pad1: 5, pad2: [0, 1] },
  { op: "set_memory_region", vm: "v0", slot: 4, flags: [32], guest_phys_addr: P, memory_size: P, userspace: "m1" },
  { op: "create_gmem", vm: "v0", gmem: "g1", size: P, flags: [4] },
  { op: "create_gmem", vm: "v0", gmem: "g2", size: P, flags: [], reserved: [0, 7] },
  // the handshake
  { op: "uffd_create", uffd: "u3", flags: [2] },
  { op: "uffd_create", uffd: "u4", dev: true, flags: ["NONBLOCK"] },
  { op: "uffdio_api", uffd: "u1", features: [], api: 0xab },
  { op: "uffdio_api", uffd: "u1", features: [2 ** 17] },
  { op: "uffdio_api", uffd: "u0", features: [] },
  { op: "uffdio_api", uffd: "u1", features: ["SIGBUS"] },
  { op: "uffd_register", uffd: "u1", map: "m1", offset: 0, len: P, mode: ["MISSING"] },
  move("m0", 0, "m1", 0, 1, { uffd: "u1" }),
  // read-only fds
  { op: "reopen", file: "x0", from: "f9", mode: "r" },
  { op: "reopen", file: "x0", from: "u0", mode: "r" },
  { op: "reopen", file: "r1", from: "f0", mode: "r" },
  { op: "pwrite", file: "r0", offset: 0, byte: 1, len: 1 },
  { op: "pread", file: "w0", offset: 0 },
  { op: "mmap", map: "m8", file: "w0", offset: 0, length: P, shared: false, prot: "r" },
  { op: "mmap", map: "m8", file: "r0", offset: 0, length: P, shared: true },
  { op: "uffd_register", uffd: "u0", map: "m2", offset: 0, len: P, mode: ["MISSING"] },
  { op: "file_fallocate", file: "r0", mode: ["KEEP_SIZE"], offset: 0, len: P },
  { op: "madvise", map: "m2", offset: 0, len: P, advice: "REMOVE" },
  { op: "access", map: "m2", offset: 0, kind: "read" },
  // mincore
  { op: "mincore", map: "m0", offset: 1, len: P },
  { op: "mincore", map: "m0", offset: 0, len: 2 ** 47 },
  { op: "mincore", map: "m9", offset: 0, len: P },
  { op: "mincore", map: "m0", offset: 0, len: 8 * P },
  { op: "mincore", map: "m3", offset: 0, len: 4 * P },
  // UFFDIO_MOVE and its refusals
  move("m0", 1, "m1", 0),
  move("m0", 2, "m1", 0, 2, { mode: ["ALLOW_SRC_HOLES"] }),
  move("m0", 3, "m1", 5),
  move("m0", 0, "m9", 0),
  move("m0", 0, "m6", 0),
  move("m0", 7, "m1", 0, 2),
  move("m0", 0, "m4", 0),
  move("m0", 0, "m7", 0),
  move("m5", 0, "m1", 0),
  move("m0", 0, "m3", 0),
  move("m0", 4, "m0", 6, 1, { mode: ["DONTWAKE"] }),
  move("m0", 5, "m0", 6, 1, { mode: ["ALLOW_SRC_HOLES"] }),
  move("m0", 6, "m1", 0),
  { op: "uffdio_copy", uffd: "u0", map: "m0", offset: 3 * P, len: P, byte: 2 },
  move("m0", 3, "m1", 0),
  { op: "uffdio_poison", uffd: "u0", map: "m0", offset: 6 * P, len: P },
  { op: "access", map: "m0", offset: 6 * P, kind: "read" },
  { op: "access", map: "m1", offset: 0, kind: "write", byte: 3 },
  { op: "madvise", map: "m0", offset: 0, len: 6 * P, advice: "DONTNEED" },
  // one fd namespace: a name of the wrong kind in an fd field gets that file's answer
  { op: "file_fallocate", file: "v0", mode: [], offset: 0, len: P },
  { op: "uffd_register", uffd: "f0", map: "m1", offset: 0, len: P, mode: ["MISSING"] },
  { op: "create_gmem", vm: "u0", gmem: "g3", size: P, flags: [] },
  { op: "uffdio_wake", uffd: "v0", map: "m1", offset: 0, len: P },
  { op: "mmap", map: "m8", file: "v0", offset: 0, length: P, shared: true },
  { op: "pread", file: "u0", offset: 0 },
];

/** arm64's VM ioctl answers an unknown command EINVAL (kvm_arch_vm_ioctl), where x86 says ENOTTY. */
const FD_ARM64_OPS: readonly Op[] = [
  { op: "uffd_register", uffd: "v0", map: "m0", offset: 0, len: P, mode: ["MISSING"] },
  { op: "uffdio_copy", uffd: "v0", map: "m0", offset: 0, len: P, byte: 1 },
  { op: "uffdio_api", uffd: "v0", features: [] },
  { op: "uffd_register", uffd: "u0", map: "m0", offset: 0, len: P, mode: ["MISSING"] },
  { op: "uffdio_copy", uffd: "u0", map: "m0", offset: 0, len: P, byte: 1 },
];

const uffdSuite = (name: string, description: string, l: UffdLayout, extra: readonly Op[], refusals: readonly Op[], runs: number): OpSuite =>
  opSuite(name, description, "uffd", l.config, [...l.setup, ...extra], mixed(uffdOps(l), refusals), runs);

export const REFUSAL_SUITES: readonly OpSuite[] = [
  opSuite(
    "refusals-kvm",
    "kvm-anon-x86's operations mixed with refused calls: closed and foreign VMs, unsupported types and attributes, unreadable userfault bitmaps, bad guest_memfd bindings",
    "kvm",
    PRESETS.default,
    KVM_SETUP,
    mixed(opArbitrary(ANON, PRESETS.default), KVM_REFUSALS),
    150,
  ),
  opSuite(
    "refusals-gmem",
    "gmem-v8's operations mixed with refused calls: conversions on a type-0 VM's file, MAP_PRIVATE, no MMAP, offsets past s_maxbytes, closed fds",
    "gmem",
    PRESETS["gmem-v8"],
    GMEM_SETUP,
    mixed(gmemOpArbitrary(GMEM_V7, PRESETS["gmem-v8"]), GMEM_REFUSALS),
    80,
  ),
  uffdSuite(
    "refusals-mm",
    "uffd-shmem's operations mixed with refused mmap, munmap, madvise, fallocate and pwrite calls, userfaultfd events, SIGBUS and USER_MODE_ONLY contexts, and calls no generator makes",
    SHMEM,
    [...EVENTS, ...SIGNAL_CTXS],
    [...MM_REFUSALS, ...MM_PLAIN],
    120,
  ),
  uffdSuite("refusals-hugetlb", "uffd-hugetlb's operations mixed with ranges that would split a huge page", HUGETLB, [], HUGETLB_REFUSALS, 60),
  opSuite("refusals-kernel-6.18", "the running kernel: private VM types, userfaultfd fills on guest_memfd", "uffd", K618, K618_SETUP, fc.constantFrom(...K618_REFUSALS), 60),
  opSuite(
    "refusals-vocab",
    "the argument vocabulary: raw flag bits and pads, fallocate modes, the UFFDIO_API handshake, read-only fds, mincore, UFFDIO_MOVE and its refusals",
    "uffd",
    PRESETS.default,
    VOCAB_SETUP,
    fc.constantFrom(...VOCAB_OPS),
    80,
  ),
  opSuite(
    "refusals-fd-arm64",
    "arm64: userfaultfd ioctls on a VM fd (EINVAL from kvm_arch_vm_ioctl), beside the same ioctls on the userfaultfd",
    "uffd",
    PRESETS.arm64,
    [{ op: "create_vm", vm: "v0" }, { op: "uffd_open", uffd: "u0", features: [] }, { op: "mmap", map: "m0", file: "anon", offset: 0, length: 4 * P }],
    fc.constantFrom(...FD_ARM64_OPS),
    10,
  ),
  opSuite("refusals-no-gmem", "a kernel without guest_memfd (nor the proposed userfault re-scan ioctl): creating, binding and asking for one", "kvm", NO_GMEM, [{ op: "create_vm", vm: "v0" }, { op: "mmap", map: "m0", file: "anon", offset: 0, length: 4 * MiB }], fc.constantFrom(...NO_GMEM_REFUSALS), 20),
];
