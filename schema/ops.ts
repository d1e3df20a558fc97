// The one operation vocabulary (DESIGN.md section 1): every layer, scenario file and the native helper speak it.
import * as t from "io-ts";
import { Byte, Id, literals, MapId, strict, tagged, U32, U64 } from "./codecs.js";
import {
  bitsCodec,
  DIRTY_LOG_MANUAL_BITS,
  FALLOC_BITS,
  FILL_MODE_BITS,
  GMEM_FLAG_BITS,
  MEMSLOT_FLAG_BITS,
  MOVE_MODE_BITS,
  REGISTER_MODE_BITS,
  UFFD_FEATURE_BITS,
  UFFD_FEATURES,
  UFFD_FLAG_BITS,
  WRITEPROTECT_MODE_BITS,
  type BitTable,
} from "./flags.js";

const Kind = literals("read", "write");
const KvmAccessKind = literals("read", "write", "exec");
const Bits32 = bitsCodec("32-bit flag word", 32);
const Bits64 = bitsCodec("64-bit flag word", 64);
/** A flag array of one word: its names, or raw numbers OR'ed in (bits the kernel does not know included). */
const flagsOf = <N extends string>(table: BitTable<N>, bits: t.Type<number, number, unknown>) =>
  t.array(t.union([literals(...(Object.keys(table) as [N, ...N[]])), bits]));
const MemslotFlags = flagsOf(MEMSLOT_FLAG_BITS, Bits32);
const GmemFlags = flagsOf(GMEM_FLAG_BITS, Bits64);
const DirtyLogManual = flagsOf(DIRTY_LOG_MANUAL_BITS, Bits64);
const Attribute = literals("PRIVATE");
const FallocModes = flagsOf(FALLOC_BITS, Bits32);
const RegisterModes = flagsOf(REGISTER_MODE_BITS, Bits64);
const FillModes = flagsOf(FILL_MODE_BITS, Bits64);
const WriteprotectModes = flagsOf(WRITEPROTECT_MODE_BITS, Bits64);
const UffdFeatures = flagsOf(UFFD_FEATURE_BITS, Bits64);
const UffdFlags = flagsOf(UFFD_FLAG_BITS, Bits32);
const Prot = literals("rw", "r", "none");
const Advice = literals("DONTNEED", "REMOVE");
export { UFFD_FEATURES };
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
  create_gmem: strict("create_gmem", { op: t.literal("create_gmem"), vm: Id, gmem: Id, size: U64, flags: GmemFlags }, { reserved: t.array(U64) }),
  set_memory_region: strict(
    "set_memory_region",
    {
      op: t.literal("set_memory_region"),
      vm: Id,
      slot: U32,
      flags: MemslotFlags,
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
      pad1: U32,
      pad2: t.array(U64),
    },
  ),
  userfault_set: strict("userfault_set", { op: t.literal("userfault_set"), vm: Id, slot: U32, gfn_offset: U64, npages: U64 }, {}),
  userfault_clear: strict("userfault_clear", { op: t.literal("userfault_clear"), vm: Id, slot: U32, gfn_offset: U64, npages: U64 }, {}),
  // Dirty logging (model/kvm/dirty-log.ts): KVM_ENABLE_CAP(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2), KVM_GET_DIRTY_LOG,
  // KVM_CLEAR_DIRTY_LOG; `pages` lists the set bits of clear's dirty_bitmap as offsets from first_page (absent: all).
  enable_cap: strict(
    "enable_cap",
    { op: t.literal("enable_cap"), vm: Id, cap: literals("MANUAL_DIRTY_LOG_PROTECT2"), args0: DirtyLogManual },
    { flags: U32 },
  ),
  get_dirty_log: strict("get_dirty_log", { op: t.literal("get_dirty_log"), vm: Id, slot: U32 }, {}),
  clear_dirty_log: strict(
    "clear_dirty_log",
    { op: t.literal("clear_dirty_log"), vm: Id, slot: U32, first_page: U64, num_pages: U32 },
    { pages: t.array(U32) },
  ),
  /** The proposed bitmap re-scan ioctl (config.kernel.userfaultRescan): unmap the pages whose bit is set now. */
  userfault_rescan: strict("userfault_rescan", { op: t.literal("userfault_rescan"), vm: Id, slot: U32 }, {}),
  set_memory_attributes: strict(
    "set_memory_attributes",
    { op: t.literal("set_memory_attributes"), vm: Id, address: U64, size: U64, attributes: t.array(Attribute) },
    { flags: U64, fail_nth: U32 },
  ),
  vcpu_access: strict(
    "vcpu_access",
    { op: t.literal("vcpu_access"), vm: Id, vcpu: U32, gpa: U64, kind: KvmAccessKind },
    { byte: Byte, private: t.boolean },
  ),
  kvm_access: strict(
    "kvm_access",
    { op: t.literal("kvm_access"), vm: Id, vcpu: U32, gpa: U64, kind: KvmAccessKind },
    { byte: Byte, emulate: t.boolean },
  ),
  // A guest's hypercall on KVM_RUN: x86's KVM_HC_MAP_GPA_RANGE (model/kvm/hypercall.ts) or pKVM's MEM_SHARE /
  // MEM_UNSHARE (model/gmem/pkvm.ts), gpa and npages as the guest passes them, attributes MAP_GPA_RANGE's ENCRYPTED bit.
  vcpu_hypercall: strict(
    "vcpu_hypercall",
    { op: t.literal("vcpu_hypercall"), vm: Id, vcpu: U32, nr: literals("MAP_GPA_RANGE", "MEM_SHARE", "MEM_UNSHARE"), gpa: U64, npages: U64 },
    { attributes: t.array(literals("ENCRYPTED")) },
  ),
  gmem_mmap: strict("gmem_mmap", { op: t.literal("gmem_mmap"), gmem: Id, map: MapId, offset: U64, length: U64 }, { shared: t.boolean }),
  gmem_fallocate: strict("gmem_fallocate", { op: t.literal("gmem_fallocate"), gmem: Id, mode: FallocModes, offset: U64, len: U64 }, { fail_nth: U32 }),
  // fail_nth: the call's nth allocation attempt fails, as after a write of n to /proc/thread-self/fail-nth.
  gmem_convert: strict(
    "gmem_convert",
    { op: t.literal("gmem_convert"), gmem: Id, offset: U64, size: U64, to: literals("private", "shared") },
    { fail_nth: U32 },
  ),
  // write(2) at offset (pwrite) of len bytes of `byte` to a guest_memfd: the write() series (docs/GMEM.md "Secret hiding").
  gmem_write: strict("gmem_write", { op: t.literal("gmem_write"), gmem: Id, offset: U64, len: U64 }, { byte: Byte }),
  gmem_state: strict("gmem_state", { op: t.literal("gmem_state"), gmem: Id, offset: U64, size: U64 }, {}),
  pin: strict("pin", { op: t.literal("pin"), map: MapId, offset: U64 }, {}),
  unpin: strict("unpin", { op: t.literal("unpin"), map: MapId, offset: U64 }, {}),
  // files, mappings and userfaultfd
  memfd: strict("memfd", { op: t.literal("memfd"), file: Id, size: U64 }, { hugetlb: t.union([t.boolean, literals("2M", "1G")]) }),
  file_fallocate: strict("file_fallocate", { op: t.literal("file_fallocate"), file: Id, mode: FallocModes, offset: U64, len: U64 }, {}),
  reopen: strict("reopen", { op: t.literal("reopen"), file: Id, from: Id, mode: literals("r", "w", "rw") }, {}),
  pwrite: strict("pwrite", { op: t.literal("pwrite"), file: Id, offset: U64, byte: Byte, len: U64 }, {}),
  pread: strict("pread", { op: t.literal("pread"), file: Id, offset: U64 }, { len: U64 }),
  mmap: strict(
    "mmap",
    { op: t.literal("mmap"), map: MapId, file: Id, offset: U64, length: U64 },
    { shared: t.boolean, prot: Prot },
  ),
  munmap: strict("munmap", { op: t.literal("munmap"), map: MapId }, { offset: U64, len: U64 }),
  mincore: strict("mincore", { op: t.literal("mincore"), ...range }, {}),
  madvise: strict("madvise", { op: t.literal("madvise"), ...range, advice: Advice }, {}),
  uffd_open: strict("uffd_open", { op: t.literal("uffd_open"), uffd: Id, features: UffdFeatures }, { flags: UffdFlags }),
  uffd_create: strict("uffd_create", { op: t.literal("uffd_create"), uffd: Id }, { flags: UffdFlags, dev: t.boolean }),
  uffdio_api: strict("uffdio_api", { op: t.literal("uffdio_api"), uffd: Id, features: UffdFeatures }, { api: U64 }),
  uffd_register: strict("uffd_register", { op: t.literal("uffd_register"), uffd: Id, ...range, mode: RegisterModes }, {}),
  uffd_unregister: strict("uffd_unregister", { op: t.literal("uffd_unregister"), uffd: Id, ...range }, {}),
  access: strict("access", { op: t.literal("access"), map: MapId, offset: U64, kind: Kind }, { byte: Byte, id: Id }),
  write_alias: strict("write_alias", { op: t.literal("write_alias"), map: MapId, offset: U64 }, { byte: Byte, len: U64 }),
  read_alias: strict("read_alias", { op: t.literal("read_alias"), map: MapId, offset: U64 }, {}),
  wake_check: strict("wake_check", { op: t.literal("wake_check"), id: Id }, {}),
  uffdio_continue: strict("uffdio_continue", { op: t.literal("uffdio_continue"), uffd: Id, ...range }, { mode: FillModes }),
  uffdio_copy: strict("uffdio_copy", { op: t.literal("uffdio_copy"), uffd: Id, ...range }, { mode: FillModes, byte: Byte }),
  uffdio_zeropage: strict("uffdio_zeropage", { op: t.literal("uffdio_zeropage"), uffd: Id, ...range }, { mode: FillModes }),
  uffdio_poison: strict("uffdio_poison", { op: t.literal("uffdio_poison"), uffd: Id, ...range }, { mode: FillModes }),
  uffdio_writeprotect: strict("uffdio_writeprotect", { op: t.literal("uffdio_writeprotect"), uffd: Id, ...range }, { mode: WriteprotectModes }),
  uffdio_move: strict(
    "uffdio_move",
    { op: t.literal("uffdio_move"), uffd: Id, ...range, src: MapId, src_offset: U64 },
    { mode: flagsOf(MOVE_MODE_BITS, Bits64) },
  ),
  uffdio_wake: strict("uffdio_wake", { op: t.literal("uffdio_wake"), uffd: Id, ...range }, {}),
  close: strict("close", { op: t.literal("close") }, { vm: Id, gmem: Id, uffd: Id, file: Id }),
};

export type OpName = keyof typeof OP_CODECS;
export const OP_NAMES = Object.keys(OP_CODECS) as OpName[];
export const OpCodec = tagged("operation", "op", OP_CODECS);
export type Op = { [K in OpName]: t.TypeOf<(typeof OP_CODECS)[K]> }[OpName];
export type OpOf<K extends OpName> = Extract<Op, { op: K }>;

export type CapName = t.TypeOf<typeof Cap>;
export type ProtName = t.TypeOf<typeof Prot>;
export type { DirtyLogManualName, FallocModeName, GmemFlagName, MemslotFlagName, UffdFeatureName, UffdModeName } from "./flags.js";
