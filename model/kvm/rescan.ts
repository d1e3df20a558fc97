// The bitmap re-scan ioctl James Houghton proposed for emulating poison under a live KVM_MEM_USERFAULT slot
// (config.kernel.userfaultRescan; never posted, so this is faultline's reading of one paragraph, docs/POISON.md):
// unmap exactly the pages whose bit is set now, where today only a USERFAULT off/on toggle (a zap of the whole slot)
// reaches an SPTE that already maps a newly marked page.
import type { OpOf } from "../../schema/ops.js";
import { ioctlTarget } from "../fd.js";
import { replaceAt } from "../immutable.js";
import { spans } from "../ranges.js";
import { rule } from "../rules.js";
import { refuse, result, type State, type StepResult } from "../state.js";
import { mapStage2, zapRange } from "./mmu.js";
import { VM_RULES } from "./vm.js";

const THREAD =
  "James Houghton in the thread of KVM Userfault v2 (2025-01-09), 2025-05-28 (shared/seeds 000): " +
  '"there is no ioctl to scan the bitmap and unmap newly-userfault pages ... some kind of bitmap re-scan ioctl"';

export const RESCAN_RULES = {
  absent: rule(
    "userfault.rescan-absent",
    "virt/kvm/kvm_main.c (kvm_vm_ioctl: an unknown command falls to kvm_arch_vm_ioctl, -ENOTTY)",
    "the kernel has no re-scan ioctl (every posted version): ENOTTY",
    "ENOTTY",
  ),
  slot: rule(
    "userfault.rescan-slot",
    `${THREAD}; faultline: the slot is named as KVM_SET_USER_MEMORY_REGION2 names it (as_id << 16 | id)`,
    "no such memslot, or one without KVM_MEM_USERFAULT and a bitmap KVM can read: EINVAL",
    "EINVAL",
  ),
  rescan: rule(
    "userfault.rescan",
    `${THREAD}; arch/x86/kvm/mmu/mmu.c (kvm_unmap_gfn_range under mmu_lock, between kvm_mmu_invalidate_begin and _end, as the mmu notifier does)`,
    "every stage-2 mapping touching a page whose bit is set goes (a huge one as a whole); the rest of the slot stays mapped",
  ),
};

/** userfault_rescan: zap what maps a marked page of the slot, nothing else. */
export function userfaultRescan(s: State, op: OpOf<"userfault_rescan">): StepResult {
  const target = ioctlTarget(s, op.vm, "vm", VM_RULES.badFd);
  if (!target.ok) return refuse(s, target.rule);
  if (!s.config.kernel.userfaultRescan) return refuse(s, RESCAN_RULES.absent);
  const vm = s.kvm.vms[target.id]!;
  const slot = vm.slots.find((sl) => sl.slot === op.slot);
  const bits = vm.bitmaps.get(op.slot);
  if (slot === undefined || !slot.flags.includes("USERFAULT") || slot.userfaultBitmap !== null || bits === undefined) return refuse(s, RESCAN_RULES.slot);
  let next = vm;
  for (const b of spans(bits, 0, slot.npages)) next = mapStage2(next, slot.as, (s2) => zapRange(s2, slot.baseGfn + b.start, slot.baseGfn + b.end));
  return result({ ...s, kvm: { ...s.kvm, vms: replaceAt(s.kvm.vms, target.id, next) } }, { result: "ok" }, RESCAN_RULES.rescan);
}
