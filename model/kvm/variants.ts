// The fault-exit designs the threads weigh against KVM Userfault v3 (config.faultExit, docs/VARIANTS.md): each
// variant changes one decision of the fault path or of a memslot flag change, and the implementation follows it.
import type { FaultExitDesign } from "../../schema/config.js";
import type { ExitFlagName, Outcome } from "../../schema/outcome.js";
import { LEVEL_PAGES } from "../consts.js";
import { assign, spans } from "../ranges.js";
import { rule } from "../rules.js";
import type { State } from "../state.js";
import { mapStage2 } from "./mmu.js";
import type { Memslot, Vm } from "./types.js";

const MOORTHY_V7 = "KVM_EXIT_MEMORY_FAULT on stage-2 faults v7 (20240215235405.368539-1-amoorthy@google.com)";
const SEAN_2025_05_29 = "Sean Christopherson in the thread of KVM Userfault v2 (2025-01-09), 2025-05-29 (shared/seeds)";

export const VARIANT_RULES = {
  v1DisableZap: rule(
    "variant.userfault-v1-disable-zap",
    "KVM Userfault v1 06/13 KVM: arm64: Add support for KVM_MEM_USERFAULT (20241204191349.1730936-7-jthoughton@google.com) " +
      "(kvm_arch_commit_memory_region: kvm_arch_flush_shadow_memslot when a FLAGS_ONLY change toggles KVM_MEM_USERFAULT " +
      'either way); dropped in v2 (its changelog: "For arm64, no longer zap stage 2 when disabling KVM_MEM_USERFAULT")',
    "userfault-v1 (arm64): turning KVM_MEM_USERFAULT off drops the slot's stage-2 mappings",
  ),
  eagerSplit: rule(
    "variant.eager-split",
    `${SEAN_2025_05_29}: "KVM will need to unmap guest memory (or demote the mapping size a la eager page splitting?) ` +
      'when KVM_MEM_USERFAULT is toggled from 0=>1"',
    "eager-split: turning KVM_MEM_USERFAULT on demotes the slot's huge mappings to 4 KiB ones instead of dropping them",
  ),
  rwx: rule(
    "variant.memory-fault-rwx",
    `${MOORTHY_V7}, [PATCH v7 05/14] KVM: Define and communicate KVM_EXIT_MEMORY_FAULT RWX flags to userspace ` +
      "(20240215235405.368539-6-amoorthy@google.com) (kvm_prepare_memory_fault_exit: WRITE, else EXEC, else READ), after " +
      'Sean Christopherson\'s review of the 2023 posting ("We should also define a READ flag ... flags should never be zero"); ' +
      "merged without them (include/linux/kvm_host.h kvm_prepare_memory_fault_exit: " +
      '"RWX flags are not (yet) defined or communicated to userspace.")',
    "memory-fault-rwx: every KVM_EXIT_MEMORY_FAULT of a guest access carries READ or WRITE",
  ),
  arm64Annotate: rule(
    "variant.arm64-memory-fault-info",
    `${MOORTHY_V7}, 20240215235405.368539-9-amoorthy@google.com (arm64 user_mem_abort: is_error_noslot_pfn -> kvm_prepare_memory_fault_exit)`,
    "arm64-memory-fault-info: a GUP failure in user_mem_abort is a KVM_EXIT_MEMORY_FAULT for the gfn, not a bare EFAULT",
  ),
  exitOnMissing: rule(
    "variant.exit-on-missing",
    `${MOORTHY_V7}: 06/14 (20240215235405.368539-7-amoorthy@google.com): bit 3, like KVM_MEM_USERFAULT, is ` +
      "KVM_MEM_EXIT_ON_MISSING, and __gfn_to_pfn_memslot makes the GUP atomic (hva_to_pfn_fast only); 07/14 " +
      "(20240215235405.368539-8-amoorthy@google.com): x86 __kvm_faultin_pfn opts in, kvm_handle_error_pfn prepares the exit; " +
      "09/14 (20240215235405.368539-10-amoorthy@google.com): arm64 user_mem_abort opts in; virt/kvm/kvm_main.c (hva_to_pfn_fast: " +
      'get_user_page_fast_only with FOLL_WRITE when the caller passes writable; v7 dropped "fast GUP on read faults")',
    "exit-on-missing: bit 3 is KVM_MEM_EXIT_ON_MISSING (no bitmap): a page without a present, writable host PTE (fast " +
      "GUP with FOLL_WRITE, for a read too) is a KVM_EXIT_MEMORY_FAULT instead of a fault through userfaultfd; guest_memfd " +
      "faults are untouched",
  ),
};

export const faultExit = (s: State): FaultExitDesign => s.config.faultExit;

/** memory-fault-rwx: the access's READ or WRITE flag on a memory-fault exit; every other outcome as it is. */
export function withAccessFlag(s: State, outcome: Outcome, write: boolean): Outcome {
  if (faultExit(s) !== "memory-fault-rwx" || !("exit" in outcome) || outcome.exit !== "memory_fault") return outcome;
  const flag: ExitFlagName = write ? "WRITE" : "READ";
  return { ...outcome, flags: [flag, ...(outcome.flags ?? [])] };
}

/** eager-split: every huge mapping in the slot becomes 4 KiB mappings of the same pages (page pointers are gfn-relative). */
export const demoteSlot = (vm: Vm, slot: Memslot): Vm =>
  mapStage2(vm, slot.as, (s2) => {
    let out = s2;
    for (const span of spans(s2, slot.baseGfn, slot.baseGfn + slot.npages)) {
      if (span.value.level === 0) continue;
      const n = LEVEL_PAGES[span.value.level];
      out = assign(out, Math.floor(span.start / n) * n, Math.ceil(span.end / n) * n, { ...span.value, level: 0 });
    }
    return out;
  });
