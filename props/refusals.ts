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
  { op: "gmem_mmap", gmem: "g7", map: "m8", offset: 0, length: P },
  { op: "gmem_mmap", gmem: "g9", map: "m8", offset: 0, length: P },
  { op: "gmem_convert", gmem: "g7", offset: 0, size: P, to: "private" },
  { op: "close", gmem: "g9" },
];

/** guest_memfd v7: a type-0 VM's file, MAP_PRIVATE, and offsets past s_maxbytes. */
const GMEM_SETUP: readonly Op[] = [
  ...setupOf(GMEM_V7, GMEM_V7.vmType),
  { op: "create_vm", vm: "v1", type: 0 },
  { op: "create_gmem", vm: "v1", gmem: "g8", size: 2 * MiB, flags: ["MMAP"] },
];
const GMEM_REFUSALS: readonly Op[] = [
  { op: "gmem_convert", gmem: "g8", offset: 0, size: P, to: "private" },
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
];

/** A kernel built without guest_memfd (CONFIG_KVM_GUEST_MEMFD=n). */
const NO_GMEM: Config = { ...K618, kernel: { ...K618.kernel, guestMemfd: false } };
const NO_GMEM_REFUSALS: readonly Op[] = [
  { op: "create_gmem", vm: "v0", gmem: "g0", size: 2 * MiB, flags: [] },
  { op: "check_extension", cap: "GUEST_MEMFD_FLAGS", vm: "v0" },
  region({ flags: ["GUEST_MEMFD"], guest_memfd: "g0", guest_memfd_offset: 0 }),
  { op: "vcpu_access", vm: "v0", vcpu: 0, gpa: 0, kind: "write", byte: 1 },
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
    "gmem-v7's operations mixed with refused calls: PRIVATE on a type-0 VM's file, MAP_PRIVATE, no MMAP, offsets past s_maxbytes, closed fds",
    "gmem",
    PRESETS["gmem-v7"],
    GMEM_SETUP,
    mixed(gmemOpArbitrary(GMEM_V7, PRESETS["gmem-v7"]), GMEM_REFUSALS),
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
  opSuite("refusals-no-gmem", "a kernel without guest_memfd: creating, binding and asking for one", "kvm", NO_GMEM, [{ op: "create_vm", vm: "v0" }, { op: "mmap", map: "m0", file: "anon", offset: 0, length: 4 * MiB }], fc.constantFrom(...NO_GMEM_REFUSALS), 20),
];
