// One small case per KVM rule (memslots, KVM Userfault, attributes, vCPU exits), run through model and impl:
// the outcome is what the cited kernel code returns, and the model names the rule that decided it.
import { describe } from "vitest";
import { PRESETS, type Config } from "../schema/config.js";
import type { Op, OpOf } from "../schema/ops.js";
import { memslot } from "./helpers/ops.js";
import { ruleCaseTests, type RuleCase } from "./helpers/rule-cases.js";

const MiB = 1024 * 1024;
const vm = (type = 0): Op => ({ op: "create_vm", vm: "v0", type });
const anon = (map = "m0", length = 8 * MiB): Op => ({ op: "mmap", map, file: "anon", offset: 0, length });
const region = memslot;
const gmem = (name = "g0", size = 4 * MiB, flags: ("MMAP" | "INIT_SHARED")[] = [], vmName = "v0"): Op => ({ op: "create_gmem", vm: vmName, gmem: name, size, flags });
const gmemSlot = (over: Partial<OpOf<"set_memory_region">> = {}) => region({ flags: ["GUEST_MEMFD"], guest_memfd: "g0", guest_memfd_offset: 0, ...over });
const access = (gpa: number, kind: "read" | "write" | "exec" = "read", extra: Partial<OpOf<"vcpu_access">> = {}): Op => ({ op: "vcpu_access", vm: "v0", vcpu: 0, gpa, kind, ...extra });

const X86 = PRESETS.default;
const K618 = PRESETS["kernel-6.18"];
const ARM = PRESETS.arm64;
const BASE = [vm(), anon()];
const PRIV = [vm(1), anon()];
const QUIRKLESS_X86: Config = { ...X86, kernel: { ...X86.kernel, slotZapAll: false } };
const ARM_ZAP_ALL: Config = { ...ARM, kernel: { ...ARM.kernel, slotZapAll: true } };
// Slot 1 keeps its mapping when slot 0 goes, unless the whole VM is zapped (the impl's state shows which).
const TWO_SLOTS_MAPPED = [...BASE, region(), region({ slot: 1, guest_phys_addr: 2 * MiB, userspace_offset: 2 * MiB }), access(0), access(2 * MiB)];
// Writable mappings on both sides of the boundary between two slots (the impl's state shows what a flag change touched).
const TWO_SLOTS_WRITTEN = [...BASE, region(), region({ slot: 1, guest_phys_addr: 2 * MiB, userspace_offset: 2 * MiB }), access(2 * MiB - 4096, "write"), access(2 * MiB, "write")];

const CASES: readonly RuleCase[] = [
  // KVM_CREATE_VM and KVM_CHECK_EXTENSION
  { name: "unsupported VM type", config: K618, setup: [], op: vm(1), outcome: { errno: "EINVAL" }, rule: "vm.type" },
  { name: "ioctl on a closed vm fd", setup: [vm(), { op: "close", vm: "v0" }], op: region(), outcome: { errno: "EBADF" }, rule: "vm.ebadf" },
  { name: "memory attributes cap on a VM without private memory", setup: [vm()], op: { op: "check_extension", cap: "MEMORY_ATTRIBUTES", vm: "v0" }, outcome: { result: "ok", value: 0 }, rule: "vm.check-extension" },
  { name: "memory attributes cap on a software-protected VM", setup: [vm(1)], op: { op: "check_extension", cap: "MEMORY_ATTRIBUTES", vm: "v0" }, outcome: { result: "ok", value: 8 }, rule: "vm.check-extension" },
  { name: "no SMM address space on the running kernel", config: K618, setup: [], op: { op: "check_extension", cap: "MULTI_ADDRESS_SPACE" }, outcome: { result: "ok", value: 0 }, rule: "vm.check-extension" },
  { name: "two address spaces (SMM) on x86 by default", setup: [], op: { op: "check_extension", cap: "MULTI_ADDRESS_SPACE" }, outcome: { result: "ok", value: 2 }, rule: "vm.check-extension" },
  { name: "one address space on a VM with private memory (no SMM)", setup: [vm(1)], op: { op: "check_extension", cap: "MULTI_ADDRESS_SPACE", vm: "v0" }, outcome: { result: "ok", value: 1 }, rule: "vm.check-extension" },
  { name: "two address spaces on a default VM", setup: [vm()], op: { op: "check_extension", cap: "MULTI_ADDRESS_SPACE", vm: "v0" }, outcome: { result: "ok", value: 2 }, rule: "vm.check-extension" },
  { name: "VM types on the running kernel: type 0 only", config: K618, setup: [], op: { op: "check_extension", cap: "VM_TYPES" }, outcome: { result: "ok", value: 1 }, rule: "vm.check-extension" },
  { name: "no VM types on arm64", config: ARM, setup: [], op: { op: "check_extension", cap: "VM_TYPES" }, outcome: { result: "ok", value: 0 }, rule: "vm.check-extension" },
  { name: "READONLY memslots", setup: [], op: { op: "check_extension", cap: "READONLY_MEM" }, outcome: { result: "ok", value: 1 }, rule: "vm.check-extension" },
  { name: "memory fault info on x86", setup: [], op: { op: "check_extension", cap: "MEMORY_FAULT_INFO" }, outcome: { result: "ok", value: 1 }, rule: "vm.check-extension" },
  { name: "KVM Userfault (v3)", setup: [], op: { op: "check_extension", cap: "USERFAULT" }, outcome: { result: "ok", value: 1 }, rule: "vm.check-extension" },
  { name: "no KVM Userfault on the running kernel", config: K618, setup: [], op: { op: "check_extension", cap: "USERFAULT" }, outcome: { result: "ok", value: 0 }, rule: "vm.check-extension" },
  { name: "memslots on the running kernel", config: K618, setup: [], op: { op: "check_extension", cap: "NR_MEMSLOTS" }, outcome: { result: "ok", value: 32764 }, rule: "vm.check-extension" },
  { name: "guest_memfd flags without private memory", config: K618, setup: [vm()], op: { op: "check_extension", cap: "GUEST_MEMFD_FLAGS", vm: "v0" }, outcome: { result: "ok", value: 3 }, rule: "vm.check-extension" },

  // KVM_SET_USER_MEMORY_REGION(2): validation in kvm_set_memory_region order
  { name: "v1 ioctl with GUEST_MEMFD", setup: BASE, op: region({ ioctl: "REGION", flags: ["GUEST_MEMFD"] }), outcome: { errno: "EINVAL" }, rule: "memslot.v1-flags" },
  { name: "v1 ioctl with USERFAULT", setup: BASE, op: region({ ioctl: "REGION", flags: ["USERFAULT"] }), outcome: { errno: "EINVAL" }, rule: "memslot.v1-flags" },
  { name: "slot id at KVM_USER_MEM_SLOTS", setup: BASE, op: region({ slot: 32764 }), outcome: { errno: "EINVAL" }, rule: "memslot.slot-id" },
  { name: "only the low 16 bits are checked against KVM_USER_MEM_SLOTS", setup: BASE, op: region({ slot: 65536 + 32764 }), outcome: { errno: "EINVAL" }, rule: "memslot.slot-id" },
  { name: "READONLY with GUEST_MEMFD", setup: [vm(), anon(), gmem()], op: gmemSlot({ flags: ["GUEST_MEMFD", "READONLY"] }), outcome: { errno: "EINVAL" }, rule: "memslot.flags" },
  { name: "LOG_DIRTY_PAGES with GUEST_MEMFD", setup: [vm(), anon(), gmem()], op: gmemSlot({ flags: ["GUEST_MEMFD", "LOG_DIRTY_PAGES"] }), outcome: { errno: "EINVAL" }, rule: "memslot.flags" },
  { name: "USERFAULT on a kernel without KVM Userfault", config: K618, setup: BASE, op: region({ flags: ["USERFAULT"] }), outcome: { errno: "EINVAL" }, rule: "memslot.flags" },
  { name: "flags are checked before sizes", setup: BASE, op: region({ flags: ["GUEST_MEMFD", "READONLY"], memory_size: 4097 }), outcome: { errno: "EINVAL" }, rule: "memslot.flags" },
  { name: "memory_size not page aligned", setup: BASE, op: region({ memory_size: 2 * MiB + 1 }), outcome: { errno: "EINVAL" }, rule: "memslot.size-align" },
  { name: "guest_phys_addr not page aligned", setup: BASE, op: region({ guest_phys_addr: 512 }), outcome: { errno: "EINVAL" }, rule: "memslot.gpa-align" },
  { name: "userspace_addr not page aligned", setup: BASE, op: region({ userspace_offset: 8 }), outcome: { errno: "EINVAL" }, rule: "memslot.hva" },
  { name: "userspace range beyond TASK_SIZE", setup: BASE, op: region({ userspace: null, userspace_offset: 2 ** 47 - 4096 }), outcome: { errno: "EINVAL" }, rule: "memslot.hva" },
  { name: "guest_memfd_offset not page aligned", setup: [vm(), anon(), gmem()], op: gmemSlot({ guest_memfd_offset: 100 }), outcome: { errno: "EINVAL" }, rule: "memslot.gmem-offset" },
  { name: "guest_memfd_offset + size wraps", setup: [vm(), anon(), gmem()], op: gmemSlot({ guest_memfd_offset: 2 ** 64 - 4096 }), outcome: { errno: "EINVAL" }, rule: "memslot.gmem-offset" },
  { name: "address space 1 on a kernel without SMM", config: K618, setup: BASE, op: region({ slot: 65536 }), outcome: { errno: "EINVAL" }, rule: "memslot.as-id" },
  { name: "address space 2 on x86", setup: BASE, op: region({ slot: 131072 }), outcome: { errno: "EINVAL" }, rule: "memslot.as-id" },
  { name: "address space 1 (SMM) on a VM with private memory", setup: PRIV, op: region({ slot: 65536 }), outcome: { errno: "EINVAL" }, rule: "memslot.as-id" },
  { name: "address space 1 (SMM) on a default VM", setup: BASE, op: region({ slot: 65536 }), outcome: { result: "ok" }, rule: "memslot.create" },
  { name: "guest_phys_addr + size wraps", setup: BASE, op: region({ guest_phys_addr: 2 ** 64 - 4096, memory_size: 8192 }), outcome: { errno: "EINVAL" }, rule: "memslot.gpa-wrap" },
  { name: "more than KVM_MEM_MAX_NR_PAGES pages", setup: BASE, op: region({ userspace: null, userspace_offset: 0, memory_size: 2 ** 31 * 4096 }), outcome: { errno: "EINVAL" }, rule: "memslot.max-pages" },
  { name: "userfault bitmap beyond TASK_SIZE", setup: BASE, op: region({ flags: ["USERFAULT"], userfault_bitmap: 2 ** 47 }), outcome: { errno: "EINVAL" }, rule: "memslot.userfault-bitmap" },
  { name: "a bitmap pointer is ignored without USERFAULT", setup: BASE, op: region({ userfault_bitmap: 2 ** 47 }), outcome: { result: "ok" }, rule: "memslot.create" },
  { name: "DELETE of a slot that does not exist", setup: BASE, op: region({ memory_size: 0 }), outcome: { errno: "EINVAL" }, rule: "memslot.delete-missing" },
  { name: "DELETE still validates the other fields", setup: [...BASE, region()], op: region({ memory_size: 0, guest_phys_addr: 1 }), outcome: { errno: "EINVAL" }, rule: "memslot.gpa-align" },
  { name: "an identical re-set of a guest_memfd slot fails (running kernel)", config: K618, setup: [vm(), anon(), gmem(), gmemSlot()], op: gmemSlot(), outcome: { errno: "EINVAL" }, rule: "memslot.gmem-immutable" },
  { name: "an identical re-set of a guest_memfd slot is a no-op with KVM Userfault v3", setup: [vm(), anon(), gmem(), gmemSlot()], op: gmemSlot(), outcome: { result: "ok" }, rule: "memslot.noop" },
  { name: "late USERFAULT on a guest_memfd slot (v3)", setup: [vm(), anon(), gmem(), gmemSlot()], op: gmemSlot({ flags: ["GUEST_MEMFD", "USERFAULT"] }), outcome: { result: "ok" }, rule: "userfault.enable-zap" },
  { name: "moving a guest_memfd slot (v3)", setup: [vm(), anon(), gmem(), gmemSlot()], op: gmemSlot({ guest_phys_addr: 16 * MiB }), outcome: { errno: "EINVAL" }, rule: "memslot.gmem-move" },
  { name: "changing userspace_addr of a slot", setup: [...BASE, region()], op: region({ userspace_offset: 4096 }), outcome: { errno: "EINVAL" }, rule: "memslot.modify-mismatch" },
  { name: "changing the size of a slot", setup: [...BASE, region()], op: region({ memory_size: 4 * MiB }), outcome: { errno: "EINVAL" }, rule: "memslot.modify-mismatch" },
  { name: "toggling READONLY", setup: [...BASE, region()], op: region({ flags: ["READONLY"] }), outcome: { errno: "EINVAL" }, rule: "memslot.modify-mismatch" },
  // The kernel does not refuse this (kvm_set_memory_region compares READONLY only): faultline's named assumption does.
  { name: "dropping GUEST_MEMFD from a guest_memfd slot", setup: [vm(), anon(), gmem(), gmemSlot()], op: region(), outcome: { errno: "EINVAL" }, rule: "faultline.memslot-gmem-toggle" },
  { name: "CREATE overlapping another slot", setup: [...BASE, region()], op: region({ slot: 1, guest_phys_addr: 2 * MiB - 4096, userspace_offset: 4 * MiB }), outcome: { errno: "EEXIST" }, rule: "memslot.overlap" },
  { name: "MOVE onto another slot", setup: [...BASE, region(), region({ slot: 1, guest_phys_addr: 4 * MiB, userspace_offset: 2 * MiB })], op: region({ guest_phys_addr: 4 * MiB + 4096 }), outcome: { errno: "EEXIST" }, rule: "memslot.overlap" },
  { name: "slots of different address spaces may overlap", setup: [...BASE, region()], op: region({ slot: 65537, userspace_offset: 2 * MiB }), outcome: { result: "ok" }, rule: "memslot.create" },
  { name: "adjacent slots do not overlap", setup: [...BASE, region()], op: region({ slot: 1, guest_phys_addr: 2 * MiB, userspace_offset: 2 * MiB }), outcome: { result: "ok" }, rule: "memslot.create" },
  { name: "the same request again is a no-op", setup: [...BASE, region()], op: region(), outcome: { result: "ok" }, rule: "memslot.noop" },
  { name: "MOVE of a slot", setup: [...BASE, region()], op: region({ guest_phys_addr: 16 * MiB }), outcome: { result: "ok" }, rule: "memslot.move" },
  { name: "MOVE onto part of the slot's own old range", setup: [...BASE, region()], op: region({ guest_phys_addr: MiB }), outcome: { result: "ok" }, rule: "memslot.move" },
  { name: "MOVE that also turns USERFAULT on", setup: [...BASE, region(), access(0)], op: region({ guest_phys_addr: 16 * MiB, flags: ["USERFAULT"] }), outcome: { result: "ok" }, rule: "userfault.enable-zap" },
  { name: "closing a VM fd that names no VM", setup: [], op: { op: "close", vm: "v9" }, outcome: { errno: "EBADF" }, rule: "close.ebadf" },
  { name: "DELETE of a slot", setup: [...BASE, region()], op: region({ memory_size: 0 }), outcome: { result: "ok" }, rule: "memslot.delete" },
  { name: "FLAGS_ONLY toggling dirty logging", setup: [...BASE, region()], op: region({ flags: ["LOG_DIRTY_PAGES"] }), outcome: { result: "ok" }, rule: "memslot.flags-only" },
  { name: "FLAGS_ONLY enabling USERFAULT zaps", setup: [...BASE, region()], op: region({ flags: ["USERFAULT"] }), outcome: { result: "ok" }, rule: "userfault.enable-zap" },
  { name: "x86's SLOT_ZAP_ALL quirk zaps the whole VM on DELETE", setup: [...BASE, region()], op: region({ memory_size: 0 }), outcome: { result: "ok" }, rule: "mmu.zap-all-quirk" },
  { name: "arm64 zaps only the slot on DELETE", config: ARM, setup: [...BASE, region()], op: region({ memory_size: 0 }), outcome: { result: "ok" }, rule: "mmu.zap-slot" },
  { name: "dirty logging on one slot leaves the next slot's first mapping writable", setup: TWO_SLOTS_WRITTEN, op: region({ flags: ["LOG_DIRTY_PAGES"] }), outcome: { result: "ok" }, rule: "mmu.write-protect" },
  { name: "dirty logging on a slot leaves the previous slot's last mapping writable", setup: TWO_SLOTS_WRITTEN, op: region({ slot: 1, guest_phys_addr: 2 * MiB, userspace_offset: 2 * MiB, flags: ["LOG_DIRTY_PAGES"] }), outcome: { result: "ok" }, rule: "mmu.write-protect" },
  { name: "x86 without the SLOT_ZAP_ALL quirk zaps only the slot", config: QUIRKLESS_X86, setup: TWO_SLOTS_MAPPED, op: region({ memory_size: 0 }), outcome: { result: "ok" }, rule: "mmu.zap-slot" },
  { name: "arm64 has no SLOT_ZAP_ALL quirk even when the kernel flag is set", config: ARM_ZAP_ALL, setup: TWO_SLOTS_MAPPED, op: region({ memory_size: 0 }), outcome: { result: "ok" }, rule: "mmu.zap-slot" },

  // kvm_gmem_bind, reached through CREATE with GUEST_MEMFD
  { name: "GUEST_MEMFD without a guest_memfd fd", setup: [vm(), anon(), gmem()], op: region({ flags: ["GUEST_MEMFD"] }), outcome: { errno: "EINVAL" }, rule: "gmem.bind-not-gmem" },
  { name: "guest_memfd fd not open", setup: [vm(), anon()], op: gmemSlot(), outcome: { errno: "EBADF" }, rule: "gmem.bind-ebadf" },
  { name: "guest_memfd of another VM", setup: [vm(), anon(), { op: "create_vm", vm: "v1" }, gmem("g0", 4 * MiB, [], "v1")], op: gmemSlot(), outcome: { errno: "EINVAL" }, rule: "gmem.bind-other-vm" },
  { name: "slot runs past the guest_memfd's size", setup: [vm(), anon(), gmem()], op: gmemSlot({ guest_memfd_offset: 4 * MiB - 4096 }), outcome: { errno: "EINVAL" }, rule: "gmem.bind-range" },
  { name: "guest_memfd_offset negative as loff_t", setup: [vm(), anon(), gmem()], op: gmemSlot({ guest_memfd_offset: 2 ** 63 }), outcome: { errno: "EINVAL" }, rule: "gmem.bind-range" },
  { name: "two slots bound to one range", setup: [vm(), anon(), gmem(), gmemSlot()], op: gmemSlot({ slot: 1, guest_phys_addr: 8 * MiB, guest_memfd_offset: 1 * MiB }), outcome: { errno: "EINVAL" }, rule: "gmem.bind-overlap" },
  { name: "disjoint ranges of one guest_memfd back two slots", setup: [vm(), anon(), gmem(), gmemSlot()], op: gmemSlot({ slot: 1, guest_phys_addr: 8 * MiB, guest_memfd_offset: 2 * MiB }), outcome: { result: "ok" }, rule: "gmem.bind" },

  // KVM_CREATE_GUEST_MEMFD
  { name: "guest_memfd not built in", config: { ...K618, kernel: { ...K618.kernel, guestMemfd: false } }, setup: [vm()], op: gmem(), outcome: { errno: "ENOTTY" }, rule: "gmem.create-enotty" },
  { name: "INIT_SHARED on a VM with private memory", setup: [vm(1)], op: gmem("g0", 4 * MiB, ["INIT_SHARED"]), outcome: { errno: "EINVAL" }, rule: "gmem.create-flags" },
  { name: "guest_memfd of size 0", setup: [vm()], op: gmem("g0", 0), outcome: { errno: "EINVAL" }, rule: "gmem.create-size" },
  { name: "guest_memfd size not page aligned", setup: [vm()], op: gmem("g0", 4097), outcome: { errno: "EINVAL" }, rule: "gmem.create-size" },

  // KVM Userfault bitmap (VMM stores) and KVM's read of it
  { name: "bitmap write past the slot", setup: [...BASE, region()], op: { op: "userfault_set", vm: "v0", slot: 0, gfn_offset: 511, npages: 2 }, outcome: { result: "SIGSEGV", code: "SEGV_MAPERR" }, rule: "userfault.no-buffer" },
  { name: "bitmap write for a slot that does not exist", setup: BASE, op: { op: "userfault_set", vm: "v0", slot: 0, gfn_offset: 0, npages: 1 }, outcome: { result: "SIGSEGV", code: "SEGV_MAPERR" }, rule: "userfault.no-buffer" },
  { name: "a set bit exits with USERFAULT", setup: [...BASE, region(), { op: "userfault_set", vm: "v0", slot: 0, gfn_offset: 3, npages: 1 }, region({ flags: ["USERFAULT"] })], op: access(3 * 4096 + 5), outcome: { result: "exit", exit: "memory_fault", errno: "EFAULT", gpa: 3 * 4096, size: 4096, flags: ["USERFAULT"] }, rule: "userfault.exit" },
  { name: "bits left set after USERFAULT is turned off do not stop a fault", setup: [...BASE, region({ flags: ["USERFAULT"] }), { op: "userfault_set", vm: "v0", slot: 0, gfn_offset: 0, npages: 1 }, region()], op: access(0), outcome: { result: "ok" }, rule: "fault.hva-map" },
  { name: "munmap of a guest_memfd slot's userspace range keeps its private mappings", setup: [...PRIV, gmem(), gmemSlot(), { op: "set_memory_attributes", vm: "v0", address: 0, size: 4096, attributes: ["PRIVATE"] }, access(0, "read", { private: true })], op: { op: "munmap", map: "m0" }, outcome: { result: "ok" }, rule: "mm.munmap" },
  { name: "a clear bit faults normally", setup: [...BASE, region(), { op: "userfault_set", vm: "v0", slot: 0, gfn_offset: 3, npages: 1 }, region({ flags: ["USERFAULT"] })], op: access(4 * 4096), outcome: { result: "ok", value: 0 }, rule: "fault.hva-map" },
  { name: "a set bit does not affect an existing mapping", setup: [...BASE, region({ flags: ["USERFAULT"] }), access(4096), { op: "userfault_set", vm: "v0", slot: 0, gfn_offset: 1, npages: 1 }], op: access(4096), outcome: { result: "ok", value: 0 }, rule: "fault.spte-hit" },
  { name: "an unbacked bitmap pointer fails faults with a bare EFAULT", setup: [...BASE, region({ flags: ["USERFAULT"], userfault_bitmap: 4096 })], op: access(0), outcome: { errno: "EFAULT" }, rule: "userfault.bitmap-unreadable" },
  { name: "USERFAULT exits carry PRIVATE for private accesses", setup: [vm(1), anon(), gmem(), gmemSlot({ flags: ["GUEST_MEMFD", "USERFAULT"] }), { op: "userfault_set", vm: "v0", slot: 0, gfn_offset: 0, npages: 1 }, { op: "set_memory_attributes", vm: "v0", address: 0, size: 4096, attributes: ["PRIVATE"] }], op: access(0), outcome: { result: "exit", exit: "memory_fault", flags: ["PRIVATE", "USERFAULT"] }, rule: "userfault.exit" },

  // KVM_SET_MEMORY_ATTRIBUTES
  { name: "memory attributes not built in", config: K618, setup: [vm()], op: { op: "set_memory_attributes", vm: "v0", address: 0, size: 4096, attributes: [] }, outcome: { errno: "ENOTTY" }, rule: "attr.enotty" },
  { name: "non-zero flags", setup: PRIV, op: { op: "set_memory_attributes", vm: "v0", address: 0, size: 4096, attributes: ["PRIVATE"], flags: 1 }, outcome: { errno: "EINVAL" }, rule: "attr.flags" },
  { name: "PRIVATE on a VM without private memory", setup: [vm()], op: { op: "set_memory_attributes", vm: "v0", address: 0, size: 4096, attributes: ["PRIVATE"] }, outcome: { errno: "EINVAL" }, rule: "attr.unsupported" },
  { name: "size 0", setup: PRIV, op: { op: "set_memory_attributes", vm: "v0", address: 0, size: 0, attributes: ["PRIVATE"] }, outcome: { errno: "EINVAL" }, rule: "attr.range" },
  { name: "address + size wraps", setup: PRIV, op: { op: "set_memory_attributes", vm: "v0", address: 2 ** 64 - 4096, size: 8192, attributes: ["PRIVATE"] }, outcome: { errno: "EINVAL" }, rule: "attr.range" },
  { name: "unaligned address", setup: PRIV, op: { op: "set_memory_attributes", vm: "v0", address: 1, size: 4096, attributes: ["PRIVATE"] }, outcome: { errno: "EINVAL" }, rule: "attr.align" },
  { name: "clearing attributes nobody set is a no-op", setup: [vm()], op: { op: "set_memory_attributes", vm: "v0", address: 0, size: 4096, attributes: [] }, outcome: { result: "ok" }, rule: "attr.noop" },
  { name: "attributes may be set where no memslot exists", setup: PRIV, op: { op: "set_memory_attributes", vm: "v0", address: 2 ** 40, size: 4096, attributes: ["PRIVATE"] }, outcome: { result: "ok" }, rule: "attr.set" },

  // vCPU accesses: exits and errors
  { name: "a vCPU that does not exist", setup: BASE, op: { op: "vcpu_access", vm: "v0", vcpu: 2, gpa: 0, kind: "read" }, outcome: { errno: "EBADF" }, rule: "vcpu.ebadf" },
  { name: "no memslot: MMIO exit with the exact gpa", setup: BASE, op: access(0x12345, "write", { byte: 1 }), outcome: { result: "exit", exit: "mmio", gpa: 0x12345, write: true }, rule: "fault.mmio" },
  { name: "write to a READONLY slot: MMIO exit", setup: [...BASE, region({ flags: ["READONLY"] })], op: access(8, "write", { byte: 1 }), outcome: { result: "exit", exit: "mmio", gpa: 8, write: true }, rule: "fault.ro-write" },
  { name: "read from a READONLY slot completes", setup: [...BASE, region({ flags: ["READONLY"] })], op: access(8), outcome: { result: "ok", value: 0 }, rule: "fault.hva-map" },
  { name: "shared access to a PRIVATE gfn", setup: [...PRIV, region(), { op: "set_memory_attributes", vm: "v0", address: 0, size: 4096, attributes: ["PRIVATE"] }], op: access(0, "read", { private: false }), outcome: { result: "exit", exit: "memory_fault", errno: "EFAULT", gpa: 0, size: 4096, flags: [] }, rule: "fault.private-mismatch" },
  { name: "private access to a shared gfn", setup: [...PRIV, region()], op: access(4096 + 7, "read", { private: true }), outcome: { result: "exit", exit: "memory_fault", gpa: 4096, flags: ["PRIVATE"] }, rule: "fault.private-mismatch" },
  { name: "private access with no memslot", setup: [...PRIV, { op: "set_memory_attributes", vm: "v0", address: 2 ** 30, size: 4096, attributes: ["PRIVATE"] }], op: access(2 ** 30), outcome: { result: "exit", exit: "memory_fault", flags: ["PRIVATE"] }, rule: "fault.noslot-private" },
  { name: "private access on a slot without guest_memfd", setup: [...PRIV, region(), { op: "set_memory_attributes", vm: "v0", address: 0, size: 4096, attributes: ["PRIVATE"] }], op: access(0), outcome: { result: "exit", exit: "memory_fault", errno: "EFAULT", flags: ["PRIVATE"] }, rule: "fault.gmem-no-file" },
  { name: "guest_memfd closed under a slot", setup: [vm(), anon(), gmem("g0", 4 * MiB, ["MMAP"]), gmemSlot(), { op: "close", gmem: "g0" }], op: access(0), outcome: { result: "exit", exit: "memory_fault", errno: "EFAULT", gpa: 0, flags: [] }, rule: "gmem.get-pfn-closed" },
  { name: "arm64: guest_memfd closed under a slot exits with the faulting gpa, unaligned", config: ARM, setup: [vm(), anon(), gmem("g0", 4 * MiB, ["MMAP", "INIT_SHARED"]), gmemSlot(), { op: "close", gmem: "g0" }], op: access(5 * 4096 + 123), outcome: { result: "exit", exit: "memory_fault", errno: "EFAULT", gpa: 5 * 4096 + 123 }, rule: "gmem.get-pfn-closed" },
  { name: "arm64: a guest_memfd fault maps 4 KiB even over a hugetlb userspace mapping", config: ARM, setup: [vm(), { op: "memfd", file: "f0", size: 4 * MiB, hugetlb: true }, { op: "mmap", map: "m0", file: "f0", offset: 0, length: 4 * MiB, shared: true }, { op: "access", map: "m0", offset: 0, kind: "write", byte: 1 }, gmem(), gmemSlot()], op: access(0), outcome: { result: "ok" }, rule: "fault.gmem-map" },
  { name: "arm64: a second access through a guest_memfd slot's stage-2 mapping reaches the guest_memfd page", config: ARM, setup: [vm(), anon(), gmem(), gmemSlot(), access(5 * 4096, "write", { byte: 4 })], op: access(5 * 4096), outcome: { result: "ok", value: 4 }, rule: "fault.spte-hit" },
  { name: "arm64: a write to a READONLY slot is MMIO", config: ARM, setup: [...BASE, region({ flags: ["READONLY"] })], op: access(4096, "write"), outcome: { result: "exit", exit: "mmio" }, rule: "fault.ro-write" },
  { name: "hva with nothing mapped: bare EFAULT", setup: [vm(), region()], op: access(0), outcome: { errno: "EFAULT" }, rule: "fault.gup-efault" },
  { name: "arm64 looks up the VMA before the userfault bitmap", config: ARM, setup: [vm(), region({ flags: ["USERFAULT"] }), { op: "userfault_set", vm: "v0", slot: 0, gfn_offset: 0, npages: 1 }], op: access(0), outcome: { errno: "EFAULT" }, rule: "fault.no-vma" },
  { name: "x86 checks the userfault bitmap before GUP", setup: [vm(), region({ flags: ["USERFAULT"] }), { op: "userfault_set", vm: "v0", slot: 0, gfn_offset: 0, npages: 1 }], op: access(0), outcome: { result: "exit", exit: "memory_fault", flags: ["USERFAULT"] }, rule: "userfault.exit" },
  { name: "GMEM_ONLY slot faults through guest_memfd", setup: [vm(), anon(), gmem("g0", 4 * MiB, ["MMAP", "INIT_SHARED"]), gmemSlot(), { op: "gmem_mmap", gmem: "g0", map: "m1", offset: 0, length: 4096 }, { op: "access", map: "m1", offset: 0, kind: "write", byte: 9 }], op: access(0), outcome: { result: "ok", value: 9 }, rule: "fault.gmem-map" },

  // Every limit exactly at its bound and one step past it: an off-by-one in model or impl fails one of the pair.
  { name: "guest_memfd_offset + size reaching 2^64 exactly wraps", setup: [vm(), anon(), gmem()], op: gmemSlot({ guest_memfd_offset: 2 ** 64 - 2 * MiB }), outcome: { errno: "EINVAL" }, rule: "memslot.gmem-offset" },
  { name: "guest_phys_addr + size reaching 2^64 exactly wraps", setup: BASE, op: region({ guest_phys_addr: 2 ** 64 - 2 * MiB }), outcome: { errno: "EINVAL" }, rule: "memslot.gpa-wrap" },
  { name: "exactly KVM_MEM_MAX_NR_PAGES pages", setup: BASE, op: region({ userspace: null, userspace_offset: 0, memory_size: (2 ** 31 - 1) * 4096 }), outcome: { result: "ok" }, rule: "memslot.create" },
  { name: "a userspace range ending exactly at TASK_SIZE", setup: BASE, op: region({ userspace: null, userspace_offset: 2 ** 47 - 4096 - 2 * MiB }), outcome: { result: "ok" }, rule: "memslot.create" },
  { name: "a userspace range one page past TASK_SIZE", setup: BASE, op: region({ userspace: null, userspace_offset: 2 ** 47 - 2 * MiB }), outcome: { errno: "EINVAL" }, rule: "memslot.hva" },
  // 512 pages need ceil(512 / 64) * 8 = 64 bytes of bitmap.
  { name: "a userfault bitmap ending exactly at TASK_SIZE", setup: BASE, op: region({ flags: ["USERFAULT"], userfault_bitmap: 2 ** 47 - 4096 - 64 }), outcome: { result: "ok" }, rule: "memslot.create" },
  { name: "a userfault bitmap one byte past TASK_SIZE", setup: BASE, op: region({ flags: ["USERFAULT"], userfault_bitmap: 2 ** 47 - 4096 - 63 }), outcome: { errno: "EINVAL" }, rule: "memslot.userfault-bitmap" },
  { name: "a slot whose last gfn is the x86 max gfn", setup: BASE, op: region({ guest_phys_addr: 2 ** 52 - 2 * MiB }), outcome: { result: "ok" }, rule: "memslot.create" },
  { name: "a slot one page past the x86 max gfn", setup: BASE, op: region({ guest_phys_addr: 2 ** 52 - 2 * MiB + 4096 }), outcome: { errno: "EINVAL" }, rule: "memslot.max-gfn" },
  { name: "a MOVE past the x86 max gfn is refused", setup: [...BASE, region()], op: region({ guest_phys_addr: 2 ** 52 - 2 * MiB + 4096 }), outcome: { errno: "EINVAL" }, rule: "memslot.max-gfn" },
  { name: "arm64 has no x86 max gfn", config: ARM, setup: BASE, op: region({ guest_phys_addr: 2 ** 52 }), outcome: { result: "ok" }, rule: "memslot.create" },
  // The size checks come before the guest_memfd is looked up: EINVAL, not the bind's EBADF.
  { name: "an unaligned guest_memfd_offset with no guest_memfd open", setup: BASE, op: gmemSlot({ guest_memfd_offset: 100 }), outcome: { errno: "EINVAL" }, rule: "memslot.gmem-offset" },
  { name: "a wrapping guest_memfd_offset with no guest_memfd open", setup: BASE, op: gmemSlot({ guest_memfd_offset: 2 ** 64 - 2 * MiB }), outcome: { errno: "EINVAL" }, rule: "memslot.gmem-offset" },
  { name: "memory attributes reaching 2^64 exactly wrap", setup: PRIV, op: { op: "set_memory_attributes", vm: "v0", address: 2 ** 64 - 4096, size: 4096, attributes: ["PRIVATE"] }, outcome: { errno: "EINVAL" }, rule: "attr.range" },

  // guest_memfd host mappings
  { name: "mmap of a guest_memfd without MMAP", setup: [vm(), gmem()], op: { op: "gmem_mmap", gmem: "g0", map: "m1", offset: 0, length: 4096 }, outcome: { errno: "ENODEV" }, rule: "gmem.mmap-enodev" },
  { name: "MAP_PRIVATE of a guest_memfd", setup: [vm(), gmem("g0", 4 * MiB, ["MMAP"])], op: { op: "gmem_mmap", gmem: "g0", map: "m1", offset: 0, length: 4096, shared: false }, outcome: { errno: "EINVAL" }, rule: "gmem.mmap-private" },
  { name: "host access to an MMAP-only guest_memfd", setup: [vm(), gmem("g0", 4 * MiB, ["MMAP"]), { op: "gmem_mmap", gmem: "g0", map: "m1", offset: 0, length: 4096 }], op: { op: "access", map: "m1", offset: 0, kind: "read" }, outcome: { result: "SIGBUS", code: "BUS_ADRERR" }, rule: "gmem.host-fault-private" },
];

describe("KVM errno and exit rules", () => {
  ruleCaseTests(CASES, X86);
});
