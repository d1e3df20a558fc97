// pKVM's mode: the guest, not the VMM, decides what the host may fault. The 2024 RFC kept faultability apart from
// KVM_MEMORY_ATTRIBUTE_PRIVATE because "pKVM cannot trust userspace's configuration of private/shared" (Ackerley Tng on
// [RFC PATCH 26/39]); Fuad Tabba's RFC v5 (January 2025) gives pKVM that state: the guest's MEM_SHARE / MEM_UNSHARE
// hypercalls, handled in the kernel, set it; the VMM has no ioctl for it (KVM_SET_MEMORY_ATTRIBUTES is not built on
// arm64). faultline runs it on the RFC's faultability (config: arm64 with gmemDesign "rfc-2024"). v5's transient
// KVM_GMEM_NONE_MAPPABLE is not stored: it is exactly an unfaultable page the host still maps or pins, and its
// kvm_gmem_handle_folio_put turns into KVM_GMEM_GUEST_MAPPABLE when the last such reference goes.
import type { Config } from "../../schema/config.js";
import type { OpOf } from "../../schema/ops.js";
import { gfnOf } from "../consts.js";
import { assign, get } from "../ranges.js";
import { replaceAt } from "../immutable.js";
import { rule } from "../rules.js";
import { result, type State, type StepResult } from "../state.js";
import { splitRange } from "./folio.js";
import { firstHostMapped } from "./invalidate.js";
import type { GmemInode } from "./types.js";

const withInode = (s: State, id: number, inode: GmemInode): State => ({ ...s, gmem: { ...s.gmem, inodes: replaceAt(s.gmem.inodes, id, inode) } });

const V5 = (n: number, id: number, subject: string): string =>
  `Fuad Tabba, [RFC PATCH v5 ${String(n).padStart(2, "0")}/15] ${subject}, 20250117163001.2326672-${id}-tabba@google.com`;
const STATES = V5(5, 6, "KVM: guest_memfd: Folio mappability states and functions that manage their transition");
const PUT = V5(6, 7, "KVM: guest_memfd: Handle final folio_put() of guest_memfd pages");
const GUEST = "drivers/virt/coco/pkvm-guest/arm-pkvm-guest.c (pkvm_set_memory_decrypted / _encrypted: MEM_SHARE / MEM_UNSHARE per page)";

export const PKVM_RULES = {
  notProtected: rule(
    "pkvm.not-protected",
    `arch/arm64/kvm/hypercalls.c (kvm_smccc_call_handler: a function outside the VM's bitmap is SMCCC_RET_NOT_SUPPORTED); ${GUEST}`,
    "MEM_SHARE / MEM_UNSHARE outside pKVM's mode (arm64 with the 2024 RFC's faultability), or MAP_GPA_RANGE-style calls there: not supported",
    "ENOTTY",
  ),
  share: rule(
    "pkvm.mem-share",
    `${STATES} (gmem_set_mappable: "Usually called when guest shares memory with the host"); ${PUT} (a pending folio restored); ${GUEST}`,
    "the guest's MEM_SHARE makes every bound page of the range host-faultable (KVM_GMEM_ALL_MAPPABLE) inside the kernel: no exit, the VMM has no say",
  ),
  unshare: rule(
    "pkvm.mem-unshare",
    `${STATES} (gmem_clear_mappable); ${PUT} (kvm_gmem_handle_folio_put); ${GUEST}`,
    "the guest's MEM_UNSHARE makes the range unfaultable by the host at once, without unmapping: a page the host still maps or pins is mappable by nobody until its last host reference goes, then by the guest",
  ),
  guestBusy: rule(
    "pkvm.guest-fault-eagain",
    "Fuad Tabba, [RFC PATCH v4 13/14] KVM: arm64: Handle guest_memfd()-backed guest page faults (20241213164811.2006197-14-tabba@google.com): " +
      "guest_memfd_abort: !kvm_slot_gmem_is_guest_mappable -> -EAGAIN, returned as 0, so KVM_RUN re-enters the guest; docs/VOCABULARY.md (vcpu_access)",
    "a guest fault on a page the guest unshared while the host still maps or pins it: -EAGAIN, the vCPU re-enters and faults again until the host lets go (faultline reports one round)",
    "EAGAIN",
  ),
  range: rule(
    "pkvm.range-einval",
    `${GUEST}; docs/VOCABULARY.md (vcpu_hypercall: the range's shape is checked as for MAP_GPA_RANGE)`,
    "an unaligned address or no pages: SMCCC_RET_INVALID_PARAMETER to the guest, nothing changes",
    "EINVAL",
  ),
};

export const pkvmMode = (c: Config): boolean => c.arch === "arm64" && c.kernel.gmemInplaceConversion && c.gmemDesign === "rfc-2024";

/** KVM_GMEM_NONE_MAPPABLE: the host may not fault the page, yet still maps or pins it. */
export function pkvmPending(s: State, inodeId: number, index: number): boolean {
  const inode = s.gmem.inodes[inodeId]!;
  if (!pkvmMode(s.config) || get(inode.shared, index) === true) return false;
  return (get(inode.pins, index) ?? 0) > 0 || firstHostMapped(s, inodeId, index, index + 1) !== undefined;
}

/** MEM_SHARE / MEM_UNSHARE: faultability over every bound page of the range, slot by slot (kvm_gmem_{set,clear}_mappable). */
export function pkvmMemShare(s: State, op: OpOf<"vcpu_hypercall">): StepResult {
  const share = op.nr === "MEM_SHARE";
  const vm = s.kvm.vms[s.kvm.names.get(op.vm)!]!;
  const first = gfnOf(op.gpa);
  const last = first + op.npages;
  let out = s;
  for (const slot of vm.slots) {
    const a = Math.max(first, slot.baseGfn);
    const b = Math.min(last, slot.baseGfn + slot.npages);
    if (slot.as !== 0 || slot.gmem === null || a >= b) continue;
    const start = slot.gmem.pgoff + a - slot.baseGfn;
    const end = start + b - a;
    const inode = out.gmem.inodes[slot.gmem.inode]!;
    // Shared pages of a huge folio are split first, as anywhere else in the RFC ([RFC PATCH 39/39]).
    const stored = { ...inode, shared: assign(inode.shared, start, end, share ? true : undefined) };
    out = withInode(out, slot.gmem.inode, share ? splitRange(stored, start, end) : stored);
  }
  return result(out, { result: "ok" }, share ? PKVM_RULES.share : PKVM_RULES.unshare);
}

