// A confidential guest asking for a conversion: x86's KVM_HC_MAP_GPA_RANGE, which KVM hands to userspace as
// KVM_EXIT_HYPERCALL with the range (SEV-SNP's page state changes and TDX's MapGPA end up in the same exit). KVM checks
// only the range's shape; converting is the VMM's job (props/gmem/conversion.ts), and the guest's RAX is whatever
// the VMM writes into hypercall.ret before the next KVM_RUN (complete_hypercall_exit), which faultline does not track.
// pKVM's MEM_SHARE / MEM_UNSHARE never reach the VMM: the kernel sets faultability itself (model/gmem/pkvm.ts).
import type { OpOf } from "../../schema/ops.js";
import { gfnOf, isPageAligned } from "../consts.js";
import { PKVM_RULES, pkvmMemShare, pkvmMode } from "../gmem/pkvm.js";
import { rule } from "../rules.js";
import { refuse, result, type State, type StepResult } from "../state.js";
import { addWraps } from "../u64.js";
import { FAULT_PATH_RULES } from "./fault.js";
import { VM_RULES } from "./vm.js";

const X86 = "arch/x86/kvm/x86.c";

export const HYPERCALL_RULES = {
  arm64: rule(
    "hypercall.map-gpa-range-arm64",
    "arch/arm64/kvm/hypercalls.c (kvm_smccc_call_handler: an unknown function is SMCCC_RET_NOT_SUPPORTED); docs/VOCABULARY.md (vcpu_hypercall)",
    "arm64 has no KVM_HC_MAP_GPA_RANGE: the guest's call is refused inside KVM, nothing exits",
    "ENOTTY",
  ),
  enabled: rule(
    "faultline.hypercall-exit-enabled",
    `${X86} (____kvm_emulate_hypercall: user_exit_on_hypercall; kvm_vm_ioctl_enable_cap: KVM_CAP_EXIT_HYPERCALL)`,
    "the VMM enabled KVM_CAP_EXIT_HYPERCALL with 1 << KVM_HC_MAP_GPA_RANGE, as every confidential-VM VMM does (faultline has no enable_cap for it; without it the guest gets -KVM_ENOSYS)",
  ),
  invalid: rule(
    "hypercall.map-gpa-range-einval",
    `${X86} (____kvm_emulate_hypercall, case KVM_HC_MAP_GPA_RANGE: !PAGE_ALIGNED(gpa) || !npages || gpa_to_gfn(gpa) + npages <= gpa_to_gfn(gpa))`,
    "an unaligned gpa, no pages or a range that wraps: the guest's RAX is -KVM_EINVAL and KVM_RUN does not exit",
    "EINVAL",
  ),
  exit: rule(
    "hypercall.map-gpa-range",
    `${X86} (____kvm_emulate_hypercall: KVM_EXIT_HYPERCALL, args gpa, npages, attrs; complete_userspace_io = complete_hypercall_exit)`,
    "KVM_RUN exits to userspace with KVM_EXIT_HYPERCALL and the range (gpa, npages; PRIVATE = KVM_MAP_GPA_RANGE_ENCRYPTED); the guest resumes with the VMM's hypercall.ret",
  ),
};

/** vcpu_hypercall: the guest executes the hypercall on KVM_RUN; nothing in KVM changes, the exit carries the request. */
export function vcpuHypercall(s: State, op: OpOf<"vcpu_hypercall">): StepResult {
  if (!s.kvm.names.has(op.vm)) return refuse(s, VM_RULES.badFd);
  if (op.vcpu >= s.config.vcpus) return refuse(s, FAULT_PATH_RULES.badVcpu);
  const malformed = !isPageAligned(op.gpa) || op.npages === 0 || addWraps(gfnOf(op.gpa), op.npages);
  if (op.nr !== "MAP_GPA_RANGE") {
    if (!pkvmMode(s.config)) return refuse(s, PKVM_RULES.notProtected);
    return malformed ? refuse(s, PKVM_RULES.range) : pkvmMemShare(s, op);
  }
  if (s.config.arch === "arm64") return refuse(s, HYPERCALL_RULES.arm64);
  if (malformed) return refuse(s, HYPERCALL_RULES.invalid, HYPERCALL_RULES.enabled);
  const flags = op.attributes?.includes("ENCRYPTED") === true ? (["PRIVATE"] as const) : [];
  return result(s, { result: "exit", exit: "hypercall", gpa: op.gpa, npages: op.npages, flags: [...flags] }, HYPERCALL_RULES.enabled, HYPERCALL_RULES.exit);
}
