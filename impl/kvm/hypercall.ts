// A guest's hypercall on KVM_RUN. x86's KVM_HC_MAP_GPA_RANGE (arch/x86/kvm/x86.c, ____kvm_emulate_hypercall): the
// range's shape is checked and the request goes to userspace as KVM_EXIT_HYPERCALL, touching no lock and no guest
// memory. pKVM's MEM_SHARE / MEM_UNSHARE stay in the kernel (impl/gmem/pkvm.ts).
import { PAGE_SIZE, TWO_64 } from "../../model/consts.js";
import type { OpOf } from "../../schema/ops.js";
import type { Outcome } from "../../schema/outcome.js";
import { pkvmMemShare, pkvmMode } from "../gmem/pkvm.js";
import type { Hooks } from "../hooks.js";
import type { FaultCtx } from "./fault.js";
import type { Kvm } from "./kvm.js";

export async function vcpuHypercall(ctx: FaultCtx, kvm: Kvm, op: OpOf<"vcpu_hypercall">, h: Hooks): Promise<Outcome> {
  if (op.vcpu >= kvm.config.vcpus) return { errno: "EBADF" }; // vcpu.ebadf
  const gfn = Math.floor(op.gpa / PAGE_SIZE);
  const malformed = op.gpa % PAGE_SIZE !== 0 || op.npages === 0 || gfn + op.npages >= TWO_64;
  if (op.nr !== "MAP_GPA_RANGE") {
    if (!pkvmMode(kvm.config)) return { errno: "ENOTTY" }; // pkvm.not-protected
    return malformed ? { errno: "EINVAL" } : pkvmMemShare(ctx, kvm, op, h); // pkvm.range-einval
  }
  if (kvm.config.arch === "arm64") return { errno: "ENOTTY" }; // hypercall.map-gpa-range-arm64
  // hypercall.map-gpa-range-einval: the guest reads -KVM_EINVAL, KVM_RUN goes on.
  if (malformed) return { errno: "EINVAL" };
  const encrypted = op.attributes?.includes("ENCRYPTED") === true;
  return { result: "exit", exit: "hypercall", gpa: op.gpa, npages: op.npages, flags: encrypted ? ["PRIVATE"] : [] };
}
