// KVM_CREATE_VM, KVM_CHECK_EXTENSION and closing a VM fd.
import { match } from "ts-pattern";
import type { OpOf } from "../../schema/ops.js";
import { ioctlTarget, unbindName } from "../fd.js";
import { withEntry, withoutEntry } from "../immutable.js";
import { EMPTY_RANGES } from "../ranges.js";
import { rule } from "../rules.js";
import { refuse, result, type State, type StepResult } from "../state.js";
import { gmemOwnsAttributes } from "../gmem/attributes.js";
import { supportedGmemFlags, vmHasPrivateMem } from "../gmem/file.js";
import type { Vm } from "./types.js";

const MAIN = "virt/kvm/kvm_main.c";

export const VM_RULES = {
  type: rule("vm.type", "arch/x86/kvm/x86.c (kvm_arch_init_vm, kvm_is_vm_type_supported)", "the VM type is not supported by this kernel", "EINVAL"),
  create: rule("vm.create", `${MAIN} (kvm_create_vm)`, "a new VM with its vCPUs and no memslots"),
  badFd: rule("vm.ebadf", "fs/file.c (fget)", "the vm fd is not open", "EBADF"),
  cap: rule("vm.check-extension", `${MAIN} (kvm_vm_ioctl_check_extension_generic); arch/x86/kvm/x86.c (kvm_vm_ioctl_check_extension)`, "the capability's value for this kernel and VM"),
  close: rule("vm.close", `${MAIN} (kvm_vm_release)`, "closing drops the fd; the vCPUs keep the VM alive"),
};

const MEMORY_ATTRIBUTE_PRIVATE = 1 << 3;
const GMEM_FLAG_BITS = { MMAP: 1, INIT_SHARED: 2, NO_DIRECT_MAP: 4, WRITE: 8 } as const;

export function createVm(s: State, op: OpOf<"create_vm">): StepResult {
  const type = op.type ?? 0;
  if (!s.config.kernel.vmTypes.includes(type)) return refuse(s, VM_RULES.type);
  const vm: Vm = { type, slots: [], attributes: EMPTY_RANGES, stage2: Array.from({ length: s.config.kernel.addressSpaces }, () => EMPTY_RANGES), bitmaps: new Map(), dirty: new Map(), manualDirtyLogProtect: 0 };
  const id = s.kvm.vms.length;
  const t = unbindName(s, op.vm);
  return result({ ...t, kvm: { vms: [...t.kvm.vms, vm], names: withEntry(t.kvm.names, op.vm, id) } }, { result: "ok" }, VM_RULES.create);
}

/** kvm_arch_nr_memslot_as_ids: no SMM address space for a VM with private memory (arch/x86/include/asm/kvm_host.h). */
export const nrMemslotAsIds = (s: State, vm: Vm | undefined): number => (vm !== undefined && vmHasPrivateMem(vm) ? 1 : s.config.kernel.addressSpaces);

export function checkExtension(s: State, op: OpOf<"check_extension">): StepResult {
  const target = op.vm === undefined ? undefined : ioctlTarget(s, op.vm, "vm", VM_RULES.badFd);
  if (target?.ok === false) return refuse(s, target.rule);
  const vm = target === undefined ? undefined : s.kvm.vms[target.id];
  const k = s.config.kernel;
  const privateAttrs = vm === undefined || vmHasPrivateMem(vm) ? MEMORY_ATTRIBUTE_PRIVATE : 0;
  const value = match(op.cap)
    .with("USER_MEMORY", "USER_MEMORY2", () => 1)
    .with("NR_MEMSLOTS", () => k.userMemSlots)
    .with("MULTI_ADDRESS_SPACE", () => (k.addressSpaces > 1 ? nrMemslotAsIds(s, vm) : 0))
    .with("READONLY_MEM", () => (k.readonlyMem ? 1 : 0))
    .with("MEMORY_FAULT_INFO", () => (s.config.arch === "x86" ? 1 : 0))
    // v8 keeps the per-VM ioctl but takes PRIVATE from it while guest_memfd tracks PRIVATE ([PATCH v8 17/46]).
    .with("MEMORY_ATTRIBUTES", () => (k.memoryAttributes && !gmemOwnsAttributes(s.config) ? privateAttrs : 0))
    .with("GUEST_MEMFD", () => (k.guestMemfd ? 1 : 0))
    .with("VM_TYPES", () => (s.config.arch === "x86" ? k.vmTypes.reduce((bits, t) => bits | (1 << t), 0) : 0))
    .with("GUEST_MEMFD_FLAGS", () => (k.guestMemfd ? supportedGmemFlags(s, vm).reduce((bits, f) => bits | GMEM_FLAG_BITS[f], 0) : 0))
    .with("USERFAULT", () => (k.userfault ? 1 : 0))
    .with("GUEST_MEMFD_MEMORY_ATTRIBUTES", () => (gmemOwnsAttributes(s.config) ? privateAttrs : 0))
    .exhaustive();
  return result(s, { result: "ok", value }, VM_RULES.cap);
}

/** close of the VM fd `name` refers to (model/step.ts dispatches close by what the name is). */
export function closeVm(s: State, name: string): StepResult {
  return result({ ...s, kvm: { ...s.kvm, names: withoutEntry(s.kvm.names, name) } }, { result: "ok" }, VM_RULES.close);
}
