// A guest access through KVM_RUN: completes through stage-2, or faults and exits, in each arch's check order.
import type { OpOf } from "../../schema/ops.js";
import type { ExitFlagName, Outcome } from "../../schema/outcome.js";
import { bound, outside } from "../bound.js";
import { PAGE_SIZE, gfnOf } from "../consts.js";
import { memIsPrivate } from "../gmem/attributes.js";
import { GMEM_RULES, gmemGetPfn, gmemHostFault, vmHasPrivateMem } from "../gmem/file.js";
import { PKVM_RULES, pkvmPending } from "../gmem/pkvm.js";
import { replaceAt } from "../immutable.js";
import { FAULT_RULES, handleMmFault } from "../mm/fault.js";
import { locate, pointerTo, pteTarget, readAt, writeAt, type PageRef } from "../mm/pages.js";
import { get } from "../ranges.js";
import { rule, type Rule } from "../rules.js";
import { refuse, result, type State, type StepResult } from "../state.js";
import { DIRTY_LOG_RULES, markPageDirty } from "./dirty-log.js";
import { findSlot } from "./memslot.js";
import { hasFlag, hvaOf, installSpte, maxGmemLevel, maxSharedLevel, MMU_RULES, spteAt } from "./mmu.js";
import type { Memslot, Spte, Vm } from "./types.js";
import { USERFAULT_RULES, userfaultCheck } from "./userfault.js";
import { faultExit, VARIANT_RULES, withAccessFlag } from "./variants.js";
import { VM_RULES } from "./vm.js";
import { GUP_FAULT } from "../uffd/fault.js";
import { blockedOutcome } from "../uffd/thread.js";

const X86 = "arch/x86/kvm/mmu/mmu.c";
const ARM = "arch/arm64/kvm/mmu.c";

export const FAULT_PATH_RULES = {
  badVcpu: rule("vcpu.ebadf", "virt/kvm/kvm_main.c (kvm_vm_ioctl_create_vcpu): only config.vcpus vCPUs exist", "no such vCPU fd", "EBADF"),
  hit: rule("fault.spte-hit", `${X86} (direct_page_fault: no fault while the SPTE allows the access)`, "a present SPTE that allows the access: the guest completes it without a fault"),
  mismatch: rule("fault.private-mismatch", `${X86} (kvm_mmu_faultin_pfn)`, "the access's private bit differs from the gfn's PRIVATE attribute: memory-fault exit, EFAULT"),
  noSlotPrivate: rule("fault.noslot-private", `${X86} (kvm_handle_noslot_fault)`, "a private access with no memslot: memory-fault exit (PRIVATE), EFAULT"),
  mmio: rule("fault.mmio", `${X86} (kvm_handle_noslot_fault); ${ARM} (kvm_handle_guest_abort, io_mem_abort)`, "no memslot covers the gpa: emulated as MMIO, KVM_EXIT_MMIO"),
  roWrite: rule("fault.ro-write", `${X86} (kvm_handle_error_pfn, KVM_PFN_ERR_RO_FAULT); ${ARM} (kvm_handle_guest_abort)`, "a write to a READONLY memslot: KVM_EXIT_MMIO"),
  gmemNoFile: rule("fault.gmem-no-file", `${X86} (kvm_mmu_faultin_pfn_gmem)`, "a private or GMEM_ONLY fault on a slot without guest_memfd: memory-fault exit, EFAULT"),
  gmemError: rule("fault.gmem-error", `${X86} (kvm_mmu_faultin_pfn_gmem); ${ARM} (gmem_abort)`, "kvm_gmem_get_pfn failed: memory-fault exit carrying its errno"),
  gmemMap: rule("fault.gmem-map", `${X86} (kvm_mmu_faultin_pfn_gmem); ${ARM} (gmem_abort)`, "the fault maps the guest_memfd page at 4 KiB (order-0 folios)"),
  noVma: rule("fault.no-vma", `${ARM} (user_mem_abort: vma_lookup before kvm_do_userfault)`, "arm64: no VMA at the hva: KVM_RUN fails with a bare EFAULT", "EFAULT"),
  gupFailed: rule("fault.gup-efault", "virt/kvm/kvm_main.c (hva_to_pfn, KVM_PFN_ERR_FAULT)", "GUP of the hva fails (no VMA, protection, SIGBUS): bare EFAULT", "EFAULT"),
  hwpoison: rule(
    "fault.hwpoison-sigbus",
    "virt/kvm/kvm_main.c (hva_to_pfn: -EHWPOISON -> KVM_PFN_ERR_HWPOISON); " +
      `${X86} (kvm_handle_error_pfn -> kvm_send_hwpoison_signal: send_sig_mceerr(BUS_MCEERR_AR, hva, PAGE_SHIFT), RET_PF_RETRY); ` +
      `${ARM} (user_mem_abort -> kvm_send_hwpoison_signal(hva, vma_shift))`,
    "GUP of the hva hits a poisoned page (a poison marker): KVM sends the vCPU thread SIGBUS with BUS_MCEERR_AR at the hva, the VMM's to inject",
  ),
  hvaMap: rule("fault.hva-map", `${X86} (__kvm_mmu_faultin_pfn, kvm_mmu_hugepage_adjust); ${ARM} (user_mem_abort)`, "the fault maps the host page at the largest level the slot and host allow"),
};

/** A vCPU index against the vCPUs the VM has (config.vcpus). */
export const VCPU_BOUNDS = {
  vcpu: bound({
    rule: FAULT_PATH_RULES.badVcpu,
    ops: ["vcpu_access", "kvm_access"],
    unit: 1,
    unitName: "vCPU",
    limitName: "the vCPUs created (config.vcpus)",
    accepts: "lt",
    measure: (s, op) => ({ value: op.vcpu, limit: s.config.vcpus }),
  }),
};

const memoryFault = (gpa: number, flags: readonly ExitFlagName[], errno: "EFAULT" | "EIO" | "EHWPOISON" | "ENOMEM" = "EFAULT"): Outcome => ({
  result: "exit",
  exit: "memory_fault",
  errno,
  gpa,
  size: PAGE_SIZE,
  flags: [...flags],
});
/** kvm_send_hwpoison_signal: always BUS_MCEERR_AR (send_sig_mceerr), whatever do_sigbus would have said. */
const HWPOISON_SIGBUS: Outcome = { result: "SIGBUS", code: "BUS_MCEERR_AR" };
const mmio = (gpa: number, write: boolean): Outcome => ({ result: "exit", exit: "mmio", gpa, write });
const privateFlag = (isPrivate: boolean): ExitFlagName[] => (isPrivate ? ["PRIVATE"] : []);

interface Fault {
  readonly vmId: number;
  readonly gpa: number;
  readonly gfn: number;
  readonly write: boolean;
  readonly isPrivate: boolean;
  readonly byte: number;
}

export function vcpuAccess(s: State, op: OpOf<"vcpu_access">): StepResult {
  const vmId = s.kvm.names.get(op.vm);
  if (vmId === undefined) return refuse(s, VM_RULES.badFd);
  if (outside(VCPU_BOUNDS.vcpu, s, op)) return refuse(s, FAULT_PATH_RULES.badVcpu);
  const vm = s.kvm.vms[vmId]!;
  const gfn = gfnOf(op.gpa);
  const attrPrivate = memIsPrivate(s, vm, gfn);
  const isPrivate = vmHasPrivateMem(vm) ? (op.private ?? attrPrivate) : false;
  const f: Fault = { vmId, gpa: op.gpa, gfn, write: op.kind === "write", isPrivate, byte: op.byte ?? 0 };
  const spte = spteAt(vm, 0, gfn);
  if (spte !== undefined && spte.private === isPrivate && (!f.write || spte.writable)) {
    return complete(s, f, refThroughSpte(s, vm, gfn, spte), [FAULT_PATH_RULES.hit]);
  }
  const r = s.config.arch === "x86" ? faultX86(s, vm, f, attrPrivate) : faultArm64(s, vm, f);
  const outcome = withAccessFlag(s, r.outcome, f.write);
  return outcome === r.outcome ? r : { ...r, outcome, fired: [...r.fired, VARIANT_RULES.rwx.id] };
}

/** The page a present SPTE maps: guest_memfd for private and GMEM_ONLY slots (any guest_memfd slot on arm64, gmem_abort), else the host page at the hva. */
function refThroughSpte(s: State, vm: Vm, gfn: number, spte: Spte): PageRef {
  const slot = findSlot(vm, 0, gfn)!;
  if ((spte.private || slot.gmemOnly || s.config.arch === "arm64") && slot.gmem !== null) return { kind: "gmem", inode: slot.gmem.inode, index: slot.gmem.pgoff + gfn - slot.baseGfn };
  const at = locate(s, hvaOf(slot, gfn))!;
  return pteTarget(at.map, at.index, get(at.map.ptes, at.index)!);
}

/** The access itself, once a mapping reaches the page. */
function complete(s: State, f: Fault, ref: PageRef, fired: readonly Rule[]): StepResult {
  const inPage = f.gpa % PAGE_SIZE;
  if (f.write) return result(writeAt(s, ref, inPage, inPage + 1, f.byte), { result: "ok" }, ...fired);
  return result(s, { result: "ok", value: readAt(s, ref, inPage) }, ...fired);
}

function faultX86(s: State, vm: Vm, f: Fault, attrPrivate: boolean): StepResult {
  if (f.isPrivate !== attrPrivate) return result(s, memoryFault(f.gfn * PAGE_SIZE, privateFlag(f.isPrivate)), FAULT_PATH_RULES.mismatch);
  const slot = findSlot(vm, 0, f.gfn);
  if (slot === undefined) {
    if (f.isPrivate) return result(s, memoryFault(f.gfn * PAGE_SIZE, ["PRIVATE"]), FAULT_PATH_RULES.noSlotPrivate);
    return result(s, mmio(f.gpa, f.write), FAULT_PATH_RULES.mmio);
  }
  const uf = userfaultGate(s, vm, slot, f);
  if (uf !== undefined) return result(s, ...uf);
  if (f.isPrivate || slot.gmemOnly) return gmemFault(s, slot, f);
  if (f.write && hasFlag(slot, "READONLY")) return result(s, mmio(f.gpa, true), FAULT_PATH_RULES.roWrite);
  return hvaFault(s, slot, f);
}

function faultArm64(s: State, vm: Vm, f: Fault): StepResult {
  const slot = findSlot(vm, 0, f.gfn);
  if (slot === undefined) return result(s, mmio(f.gpa, f.write), FAULT_PATH_RULES.mmio);
  if (f.write && hasFlag(slot, "READONLY")) return result(s, mmio(f.gpa, true), FAULT_PATH_RULES.roWrite);
  if (slot.gmem !== null) {
    const uf = userfaultGate(s, vm, slot, f);
    return uf !== undefined ? result(s, ...uf) : gmemFault(s, slot, f);
  }
  if (locate(s, hvaOf(slot, f.gfn)) === undefined) return refuse(s, FAULT_PATH_RULES.noVma);
  const uf = userfaultGate(s, vm, slot, f);
  return uf !== undefined ? result(s, ...uf) : hvaFault(s, slot, f);
}

/** kvm_do_userfault: an exit or a bare EFAULT when the bitmap says so, else undefined to go on. */
function userfaultGate(s: State, vm: Vm, slot: Memslot, f: Fault): [Outcome, Rule] | undefined {
  // exit-on-missing: bit 3 is KVM_MEM_EXIT_ON_MISSING, which has no bitmap (hvaFault decides).
  if (faultExit(s) === "exit-on-missing") return undefined;
  const verdict = userfaultCheck(vm, slot, f.gfn);
  if (verdict === "unreadable") return [{ errno: "EFAULT" }, USERFAULT_RULES.unreadable];
  if (verdict === "exit") return [memoryFault(f.gfn * PAGE_SIZE, [...privateFlag(f.isPrivate), "USERFAULT"]), USERFAULT_RULES.exit];
  return undefined;
}

const withVm = (s: State, id: number, vm: Vm): State => ({ ...s, kvm: { ...s.kvm, vms: replaceAt(s.kvm.vms, id, vm) } });

function gmemFault(s: State, slot: Memslot, f: Fault): StepResult {
  const exitGpa = s.config.arch === "arm64" ? f.gpa : f.gfn * PAGE_SIZE;
  if (slot.gmem === null) return result(s, memoryFault(exitGpa, privateFlag(f.isPrivate)), FAULT_PATH_RULES.gmemNoFile);
  const pfn = gmemGetPfn(s, { ...slot, gmem: slot.gmem }, f.gfn);
  if (!pfn.ok) return result(s, memoryFault(exitGpa, privateFlag(f.isPrivate), pfn.rule.errno as "EFAULT"), pfn.rule, FAULT_PATH_RULES.gmemError);
  if (pkvmPending(pfn.state, pfn.inode, pfn.index)) return refuse(pfn.state, PKVM_RULES.guestBusy);
  const vm = pfn.state.kvm.vms[f.vmId]!;
  const ref: PageRef = { kind: "gmem", inode: pfn.inode, index: pfn.index };
  const spte: Spte = { level: maxGmemLevel(pfn.state, vm, slot, f.gfn, f.isPrivate), writable: true, private: f.isPrivate, page: pointerTo(ref, f.gfn) };
  const mapped = withVm(pfn.state, f.vmId, installSpte(vm, 0, f.gfn, spte));
  return complete(mapped, f, { kind: "gmem", inode: pfn.inode, index: pfn.index }, [GMEM_RULES.pfn, ...pfn.fired, FAULT_PATH_RULES.gmemMap]);
}

/** The variants that make a failed GUP a memory-fault exit for the gfn: exit-on-missing, and arm64-memory-fault-info on arm64. */
function annotatedGupFailure(s: State): Rule | undefined {
  if (faultExit(s) === "exit-on-missing") return VARIANT_RULES.exitOnMissing;
  return faultExit(s) === "arm64-memory-fault-info" && s.config.arch === "arm64" ? VARIANT_RULES.arm64Annotate : undefined;
}

/**
 * exit-on-missing: only the fast GUP path runs on a slot with bit 3, and it pins with FOLL_WRITE for a read too (the
 * fault paths pass `writable`): a present, writable host PTE, or the exit.
 */
function fastGupFails(s: State, slot: Memslot, map: Parameters<typeof handleMmFault>[1], index: number): boolean {
  if (faultExit(s) !== "exit-on-missing" || !hasFlag(slot, "USERFAULT")) return false;
  return get(map.ptes, index)?.writable !== true;
}

function hvaFault(s: State, slot: Memslot, f: Fault): StepResult {
  const at = locate(s, hvaOf(slot, f.gfn));
  const annotated = annotatedGupFailure(s);
  if (at === undefined) return annotated === undefined ? refuse(s, FAULT_PATH_RULES.gupFailed) : result(s, memoryFault(f.gfn * PAGE_SIZE, []), FAULT_PATH_RULES.gupFailed, annotated);
  if (fastGupFails(s, slot, at.map, at.index)) return result(s, memoryFault(f.gfn * PAGE_SIZE, []), VARIANT_RULES.exitOnMissing);
  const host = handleMmFault(s, at.map, at.index, f.write, gmemHostFault, GUP_FAULT);
  if (host.kind === "signal") {
    // KVM_PFN_ERR_HWPOISON is handled before any memory-fault annotation, on both arches.
    if (host.fired.includes(FAULT_RULES.poisoned)) return result(host.state ?? s, HWPOISON_SIGBUS, ...host.fired, FAULT_PATH_RULES.hwpoison);
    if (annotated !== undefined) return result(host.state ?? s, memoryFault(f.gfn * PAGE_SIZE, []), ...host.fired, FAULT_PATH_RULES.gupFailed, annotated);
    return refuse(host.state ?? s, FAULT_PATH_RULES.gupFailed, ...host.fired);
  }
  // GUP sleeps in handle_userfault like a user thread: KVM_RUN stays blocked until a wakeup, then retries.
  if (host.kind === "userfault") return { ...result(host.state, blockedOutcome(host.state, host.msg), ...host.fired), blocked: host.msg };
  const vm = host.state.kvm.vms[f.vmId]!;
  const writable = host.writable && !hasFlag(slot, "READONLY") && (f.write || !hasFlag(slot, "LOG_DIRTY_PAGES"));
  const level = maxSharedLevel(host.state, vm, slot, f.gfn);
  // make_spte / user_mem_abort: a writable mapping in a logged slot marks its page dirty.
  const logged = writable && vm.dirty.has(slot.slot);
  const installed = installSpte(logged ? markPageDirty(vm, slot, f.gfn) : vm, 0, f.gfn, { level, writable, private: false, page: pointerTo(host.ref, f.gfn) });
  const fired = [...host.fired, FAULT_PATH_RULES.hvaMap, ...(level > 0 ? [MMU_RULES.hugeRegion] : []), ...(logged ? [DIRTY_LOG_RULES.mark] : [])];
  return complete(withVm(host.state, f.vmId, installed), f, host.ref, fired);
}
