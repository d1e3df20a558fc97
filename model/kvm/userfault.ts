// KVM Userfault (v3, 20250618042424.330664-1-jthoughton@google.com): the VMM's per-slot bitmap and KVM's read of it.
import type { OpOf } from "../../schema/ops.js";
import { SEGV_MAPERR } from "../../schema/outcome.js";
import { replaceAt, withEntry } from "../immutable.js";
import { assign, get } from "../ranges.js";
import { bound, outside } from "../bound.js";
import { rule } from "../rules.js";
import { userfaultV3 } from "../sources.js";
import { refuse, result, type State, type StepResult } from "../state.js";
import type { Memslot, Vm } from "./types.js";
import { VM_RULES } from "./vm.js";

const V3 =
  `${userfaultV3(4, "KVM: Add common infrastructure for KVM Userfaults")} (kvm_do_userfault); ` +
  `${userfaultV3(5, "KVM: x86: Add support for KVM userfault exits")}, ${userfaultV3(6, "KVM: arm64: Add support for KVM userfault exits")} (-EFAULT)`;

export const USERFAULT_RULES = {
  noBuffer: rule(
    "userfault.no-buffer",
    "faultline: the VMM allocates one bitmap per memslot (docs/VOCABULARY.md)",
    "a bitmap write outside the slot's bitmap faults the VMM thread: SIGSEGV, SEGV_MAPERR",
  ),
  write: rule(
    "userfault.bitmap-write",
    `Documentation/virt/kvm/api.rst (KVM_MEM_USERFAULT) in ${userfaultV3(15, "KVM: Documentation: Add KVM_CAP_USERFAULT and KVM_MEM_USERFAULT details")}`,
    "userspace sets or clears bits; KVM only reads them",
  ),
  unreadable: rule("userfault.bitmap-unreadable", V3, "the bitmap word cannot be read: KVM_RUN fails with a bare EFAULT, no exit information", "EFAULT"),
  exit: rule("userfault.exit", V3, "the gfn's bit is set: KVM_EXIT_MEMORY_FAULT with KVM_MEMORY_EXIT_FLAG_USERFAULT, KVM_RUN returns EFAULT"),
};

/** The end of a bitmap write against the slot's pages: the VMM's buffer holds one bit per page of the slot. */
export const USERFAULT_BOUNDS = {
  noBuffer: bound({
    rule: USERFAULT_RULES.noBuffer,
    ops: ["userfault_set", "userfault_clear"],
    unit: 1,
    unitName: "page",
    limitName: "the slot's npages (the bitmap buffer's bits)",
    accepts: "le",
    measure: (s, op) => {
      const vmId = s.kvm.names.get(op.vm);
      const slot = vmId === undefined ? undefined : s.kvm.vms[vmId]!.slots.find((sl) => sl.slot === op.slot);
      return slot === undefined ? undefined : { value: op.gfn_offset + op.npages, limit: slot.npages };
    },
  }),
};

/** userfault_set / userfault_clear: plain userspace stores into the VMM's bitmap buffer for the slot. */
export function userfaultWrite(s: State, op: OpOf<"userfault_set"> | OpOf<"userfault_clear">): StepResult {
  const vmId = s.kvm.names.get(op.vm);
  if (vmId === undefined) return refuse(s, VM_RULES.badFd);
  const vm = s.kvm.vms[vmId]!;
  const slot = vm.slots.find((sl) => sl.slot === op.slot);
  const bits = vm.bitmaps.get(op.slot);
  if (slot === undefined || bits === undefined || outside(USERFAULT_BOUNDS.noBuffer, s, op)) {
    return result(s, SEGV_MAPERR, USERFAULT_RULES.noBuffer);
  }
  const next = assign(bits, op.gfn_offset, op.gfn_offset + op.npages, op.op === "userfault_set" ? true : undefined);
  const vms = replaceAt(s.kvm.vms, vmId, { ...vm, bitmaps: withEntry(vm.bitmaps, op.slot, next) });
  return result({ ...s, kvm: { ...s.kvm, vms } }, { result: "ok" }, USERFAULT_RULES.write);
}

export type UserfaultCheck = "continue" | "exit" | "unreadable";

/** kvm_do_userfault: what KVM's read of the bitmap word says for gfn. */
export function userfaultCheck(vm: Vm, slot: Memslot, gfn: number): UserfaultCheck {
  if (!slot.flags.includes("USERFAULT")) return "continue";
  if (slot.userfaultBitmap !== null) return "unreadable";
  return get(vm.bitmaps.get(slot.slot) ?? [], gfn - slot.baseGfn) === true ? "exit" : "continue";
}

export const userfaultBitSet = (vm: Vm, slot: Memslot, gfn: number): boolean =>
  slot.flags.includes("USERFAULT") && slot.userfaultBitmap === null && get(vm.bitmaps.get(slot.slot) ?? [], gfn - slot.baseGfn) === true;
