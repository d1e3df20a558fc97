// KVM_SET_MEMORY_ATTRIBUTES: per-VM PRIVATE attribute, with the no-op rule and the pre-set zap.
import type { OpOf } from "../../schema/ops.js";
import { bound, outside } from "../bound.js";
import { PAGE_SIZE, TWO_64, isPageAligned } from "../consts.js";
import { ioctlTarget } from "../fd.js";
import { gmemOwnsAttributes } from "../gmem/attributes.js";
import { ALLOC_FAIL_RULES, failingAttempt } from "../gmem/alloc-fail.js";
import { gmemShouldSetAttributes } from "../gmem/convert.js";
import { vmHasPrivateMem } from "../gmem/file.js";
import { replaceAt } from "../immutable.js";
import { assign, covers, spans } from "../ranges.js";
import { check, rule, validate } from "../rules.js";
import { refuse, result, withPassed, type State, type StepResult } from "../state.js";
import { v7, v8 } from "../sources.js";
import { mapStage2, zapRange } from "./mmu.js";
import { VM_RULES } from "./vm.js";

const MAIN = "virt/kvm/kvm_main.c";

export const ATTRIBUTE_RULES = {
  noIoctl: rule(
    "attr.enotty",
    `${MAIN} (kvm_vm_ioctl): no CONFIG_KVM_GENERIC_MEMORY_ATTRIBUTES (v8: CONFIG_KVM_VM_MEMORY_ATTRIBUTES); ${v7(4)} (kvm_vm_ioctl: !vm_memory_attributes, -ENOTTY)`,
    "KVM_SET_MEMORY_ATTRIBUTES is not built in (v7 also: vm_memory_attributes=0)",
    "ENOTTY",
  ),
  flags: rule("attr.flags", `${MAIN} (kvm_vm_ioctl_set_mem_attributes)`, "flags must be 0", "EINVAL"),
  unsupported: rule(
    "attr.unsupported",
    `${MAIN} (kvm_vm_ioctl_set_mem_attributes, kvm_supported_mem_attributes); ${v8(10)}, ${v8(17)} (kvm_supported_vm_mem_attributes: 0 under gmem_in_place_conversion)`,
    "an attribute the VM does not support: PRIVATE needs private memory, and (v8) is not a per-VM attribute while guest_memfd tracks it",
    "EINVAL",
  ),
  range: rule("attr.range", `${MAIN} (kvm_vm_ioctl_set_mem_attributes)`, "size is 0 or address + size wraps", "EINVAL"),
  align: rule("attr.align", `${MAIN} (kvm_vm_ioctl_set_mem_attributes)`, "address or size not page aligned", "EINVAL"),
  noop: rule("attr.noop", `${MAIN} (kvm_vm_set_mem_attributes, kvm_range_has_memory_attributes)`, "every gfn already has the value: return 0 without invalidating"),
  set: rule(
    "attr.set",
    `${MAIN} (kvm_vm_set_mem_attributes, kvm_pre_set_memory_attributes); arch/x86/kvm/mmu/mmu.c (kvm_arch_pre_set_memory_attributes)`,
    "zap the SPTEs of the range in every memslot of every address space, then store the value",
  ),
};

/** The end of the range against 2^64 (address + size wraps), counted in pages. */
export const ATTRIBUTE_BOUNDS = {
  range: bound({
    rule: ATTRIBUTE_RULES.range,
    ops: ["set_memory_attributes"],
    unit: PAGE_SIZE,
    unitName: "page",
    limitName: "2^64 (address + size wraps)",
    accepts: "lt",
    measure: (_s, op) => (op.size === 0 ? undefined : { value: op.address + op.size, limit: TWO_64 }),
  }),
};

export function setMemoryAttributes(s: State, op: OpOf<"set_memory_attributes">): StepResult {
  const target = ioctlTarget(s, op.vm, "vm", VM_RULES.badFd);
  if (!target.ok) return refuse(s, target.rule);
  const vmId = target.id;
  const vm = s.kvm.vms[vmId]!;
  const wantsPrivate = op.attributes.includes("PRIVATE");
  const v = validate([
    check(ATTRIBUTE_RULES.noIoctl, () => !s.config.kernel.memoryAttributes),
    check(ATTRIBUTE_RULES.flags, () => (op.flags ?? 0) !== 0),
    check(ATTRIBUTE_RULES.unsupported, () => wantsPrivate && (!vmHasPrivateMem(vm) || gmemOwnsAttributes(s.config))),
    check(ATTRIBUTE_RULES.range, () => op.size === 0 || outside(ATTRIBUTE_BOUNDS.range, s, op)),
    check(ATTRIBUTE_RULES.align, () => !isPageAligned(op.address) || !isPageAligned(op.size)),
  ]);
  if (v.failure !== undefined) return withPassed(refuse(s, v.failure), v.passed);
  const start = op.address / PAGE_SIZE;
  const end = start + op.size / PAGE_SIZE;
  const already = wantsPrivate ? covers(vm.attributes, start, end) : spans(vm.attributes, start, end).length === 0;
  if (already) return result(s, { result: "ok" }, ATTRIBUTE_RULES.noop);
  // One attempt for the whole xa_reserve loop: whichever gfn's node fails, nothing has changed yet.
  if (failingAttempt(op.fail_nth, 0, 1) !== undefined) return result(s, { errno: "ENOMEM" }, ALLOC_FAIL_RULES.failNth, ALLOC_FAIL_RULES.attrReserve);
  let next = vm;
  for (const slot of vm.slots) {
    const a = Math.max(start, slot.baseGfn);
    const b = Math.min(end, slot.baseGfn + slot.npages);
    if (a < b) next = mapStage2(next, slot.as, (s2) => zapRange(s2, a, b));
  }
  const gmem = gmemShouldSetAttributes({ ...s, kvm: { ...s.kvm, vms: replaceAt(s.kvm.vms, vmId, next) } }, vmId, start, end, wantsPrivate, op.fail_nth, 1);
  if (gmem.refused !== undefined) return result(gmem.state, { errno: "EINVAL" }, ...gmem.fired, gmem.refused);
  const vms = gmem.state.kvm.vms;
  const stored = { ...vms[vmId]!, attributes: assign(vms[vmId]!.attributes, start, end, wantsPrivate ? true : undefined) };
  return result({ ...gmem.state, kvm: { ...gmem.state.kvm, vms: replaceAt(vms, vmId, stored) } }, { result: "ok" }, ATTRIBUTE_RULES.set, ...gmem.fired);
}
