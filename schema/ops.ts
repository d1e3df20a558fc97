// The one operation vocabulary (DESIGN.md section 1): every layer, scenario file and the native helper speak it.
import * as t from "io-ts";
import { Byte, Id, literals, MapId, strict, tagged, U32, U64 } from "./codecs.js";

const Kind = literals("read", "write");
const KvmAccessKind = literals("read", "write", "exec");
const MemslotFlag = literals("LOG_DIRTY_PAGES", "READONLY", "GUEST_MEMFD", "USERFAULT");
const GmemFlag = literals("MMAP", "INIT_SHARED");
const Attribute = literals("PRIVATE");
const FallocMode = literals("PUNCH_HOLE", "KEEP_SIZE");
const UffdMode = literals("MISSING", "WP", "MINOR");
const UffdioMode = literals("DONTWAKE", "WP");
const Prot = literals("rw", "r", "none");
const Advice = literals("DONTNEED", "REMOVE");
export const UFFD_FEATURES = [
  "PAGEFAULT_FLAG_WP", "EVENT_FORK", "EVENT_REMAP", "EVENT_REMOVE", "MISSING_HUGETLBFS", "MISSING_SHMEM", "EVENT_UNMAP",
  "SIGBUS", "THREAD_ID", "MINOR_HUGETLBFS", "MINOR_SHMEM", "EXACT_ADDRESS", "WP_HUGETLBFS_SHMEM", "WP_UNPOPULATED",
  "POISON", "WP_ASYNC", "MOVE",
] as const;
const UffdFeature = literals(...UFFD_FEATURES);
export const CAPS = [
  "USER_MEMORY", "NR_MEMSLOTS", "MULTI_ADDRESS_SPACE", "READONLY_MEM", "USER_MEMORY2", "MEMORY_FAULT_INFO",
  "MEMORY_ATTRIBUTES", "GUEST_MEMFD", "VM_TYPES", "GUEST_MEMFD_FLAGS", "USERFAULT", "GUEST_MEMFD_MEMORY_ATTRIBUTES",
] as const;
const Cap = literals(...CAPS);

const range = { map: MapId, offset: U64, len: U64 };

export const OP_CODECS = {
  // KVM and guest_memfd
  create_vm: strict("create_vm", { op: t.literal("create_vm"), vm: Id }, { type: U32 }),
  check_extension: strict("check_extension", { op: t.literal("check_extension"), cap: Cap }, { vm: Id }),
  create_gmem: strict("create_gmem", { op: t.literal("create_gmem"), vm: Id, gmem: Id, size: U64, flags: t.array(GmemFlag) }, {}),
  set_memory_region: strict(
    "set_memory_region",
    {
      op: t.literal("set_memory_region"),
      vm: Id,
      slot: U32,
      flags: t.array(MemslotFlag),
      guest_phys_addr: U64,
      memory_size: U64,
      userspace: t.union([MapId, t.null]),
    },
    {
      userspace_offset: U64,
      guest_memfd: Id,
      guest_memfd_offset: U64,
      userfault_bitmap: t.union([U64, t.null]),
      ioctl: literals("REGION", "REGION2"),
    },
  ),
  userfault_set: strict("userfault_set", { op: t.literal("userfault_set"), vm: Id, slot: U32, gfn_offset: U64, npages: U64 }, {}),
  userfault_clear: strict("userfault_clear", { op: t.literal("userfault_clear"), vm: Id, slot: U32, gfn_offset: U64, npages: U64 }, {}),
  set_memory_attributes: strict(
    "set_memory_attributes",
    { op: t.literal("set_memory_attributes"), vm: Id, address: U64, size: U64, attributes: t.array(Attribute) },
    { flags: U64 },
  ),
  vcpu_access: strict(
    "vcpu_access",
    { op: t.literal("vcpu_access"), vm: Id, vcpu: U32, gpa: U64, kind: KvmAccessKind },
    { byte: Byte, private: t.boolean },
  ),
  gmem_mmap: strict("gmem_mmap", { op: t.literal("gmem_mmap"), gmem: Id, map: MapId, offset: U64, length: U64 }, { shared: t.boolean }),
  gmem_fallocate: strict("gmem_fallocate", { op: t.literal("gmem_fallocate"), gmem: Id, mode: t.array(FallocMode), offset: U64, len: U64 }, {}),
  gmem_convert: strict("gmem_convert", { op: t.literal("gmem_convert"), gmem: Id, offset: U64, size: U64, to: literals("private", "shared") }, {}),
  pin: strict("pin", { op: t.literal("pin"), map: MapId, offset: U64 }, {}),
  unpin: strict("unpin", { op: t.literal("unpin"), map: MapId, offset: U64 }, {}),
  // files, mappings and userfaultfd
  memfd: strict("memfd", { op: t.literal("memfd"), file: Id, size: U64 }, { hugetlb: t.union([t.boolean, literals("2M", "1G")]) }),
  file_fallocate: strict("file_fallocate", { op: t.literal("file_fallocate"), file: Id, mode: t.array(FallocMode), offset: U64, len: U64 }, {}),
  pwrite: strict("pwrite", { op: t.literal("pwrite"), file: Id, offset: U64, byte: Byte, len: U64 }, {}),
  pread: strict("pread", { op: t.literal("pread"), file: Id, offset: U64 }, { len: U64 }),
  mmap: strict(
    "mmap",
    { op: t.literal("mmap"), map: MapId, file: Id, offset: U64, length: U64 },
    { shared: t.boolean, prot: Prot },
  ),
  munmap: strict("munmap", { op: t.literal("munmap"), map: MapId }, { offset: U64, len: U64 }),
  madvise: strict("madvise", { op: t.literal("madvise"), ...range, advice: Advice }, {}),
  uffd_open: strict("uffd_open", { op: t.literal("uffd_open"), uffd: Id, features: t.array(UffdFeature) }, { flags: t.array(literals("USER_MODE_ONLY", "NONBLOCK")) }),
  uffd_register: strict("uffd_register", { op: t.literal("uffd_register"), uffd: Id, ...range, mode: t.array(UffdMode) }, {}),
  uffd_unregister: strict("uffd_unregister", { op: t.literal("uffd_unregister"), uffd: Id, ...range }, {}),
  access: strict("access", { op: t.literal("access"), map: MapId, offset: U64, kind: Kind }, { byte: Byte, id: Id }),
  write_alias: strict("write_alias", { op: t.literal("write_alias"), map: MapId, offset: U64 }, { byte: Byte, len: U64 }),
  read_alias: strict("read_alias", { op: t.literal("read_alias"), map: MapId, offset: U64 }, {}),
  wake_check: strict("wake_check", { op: t.literal("wake_check"), id: Id }, {}),
  uffdio_continue: strict("uffdio_continue", { op: t.literal("uffdio_continue"), uffd: Id, ...range }, { mode: t.array(UffdioMode) }),
  uffdio_copy: strict("uffdio_copy", { op: t.literal("uffdio_copy"), uffd: Id, ...range }, { mode: t.array(UffdioMode), byte: Byte }),
  uffdio_zeropage: strict("uffdio_zeropage", { op: t.literal("uffdio_zeropage"), uffd: Id, ...range }, { mode: t.array(UffdioMode) }),
  uffdio_poison: strict("uffdio_poison", { op: t.literal("uffdio_poison"), uffd: Id, ...range }, { mode: t.array(UffdioMode) }),
  uffdio_writeprotect: strict("uffdio_writeprotect", { op: t.literal("uffdio_writeprotect"), uffd: Id, ...range }, { mode: t.array(UffdioMode) }),
  uffdio_wake: strict("uffdio_wake", { op: t.literal("uffdio_wake"), uffd: Id, ...range }, {}),
  close: strict("close", { op: t.literal("close") }, { vm: Id, gmem: Id, uffd: Id, file: Id }),
};

export type OpName = keyof typeof OP_CODECS;
export const OP_NAMES = Object.keys(OP_CODECS) as OpName[];
export const OpCodec = tagged("operation", "op", OP_CODECS);
export type Op = { [K in OpName]: t.TypeOf<(typeof OP_CODECS)[K]> }[OpName];
export type OpOf<K extends OpName> = Extract<Op, { op: K }>;

export type MemslotFlagName = t.TypeOf<typeof MemslotFlag>;
export type GmemFlagName = t.TypeOf<typeof GmemFlag>;
export type CapName = t.TypeOf<typeof Cap>;
export type UffdFeatureName = t.TypeOf<typeof UffdFeature>;
export type UffdModeName = t.TypeOf<typeof UffdMode>;
export type FallocMode = t.TypeOf<typeof FallocMode>;
export type ProtName = t.TypeOf<typeof Prot>;
