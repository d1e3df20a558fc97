// KVM's own accesses to guest memory (kvm_vcpu_read_guest / kvm_vcpu_write_guest, and the x86 emulator that uses
// them): the memslot lookup under the vCPU's SRCU read lock, the hva, and a uaccess that faults the host page in
// as a kernel-mode fault, sleeping in userfaultfd where the hva is registered. No stage-2 fault, no userfault bitmap.
import { PAGE_SIZE } from "../../model/consts.js";
import type { OpOf } from "../../schema/ops.js";
import type { Outcome } from "../../schema/outcome.js";
import { gmemGetPfn } from "../gmem/gmem.js";
import type { Hooks } from "../hooks.js";
import { ZERO_FOLIO, pageOf, peekPage, type Folio } from "../mm/folio.js";
import { blockedOutcome } from "../uffd/ctx.js";
import { fillPage, readPage } from "../util/pagedata.js";
import type { FaultCtx } from "./fault.js";
import { markPageDirty } from "./dirty-log.js";
import { has, type ImplMemslot, type Kvm } from "./kvm.js";
import { hvaOf } from "./mmu.js";

type Op = OpOf<"kvm_access">;

/** A failed guest copy: -EFAULT to the caller, or the emulator's fallback (MMIO for a load or store, an internal error for a fetch). */
function failed(op: Op): Outcome {
  if (op.kind === "exec") return { result: "exit", exit: "internal_error", gpa: op.gpa };
  if (op.emulate === true) return { result: "exit", exit: "mmio", gpa: op.gpa, write: op.kind === "write" };
  return { errno: "EFAULT" };
}

function copy(folio: Folio, sub: number, op: Op): Outcome {
  const inPage = op.gpa % PAGE_SIZE;
  if (op.kind === "write") {
    fillPage(pageOf(folio, sub), inPage, inPage + 1, op.byte ?? 0);
    return { result: "ok" };
  }
  const page = folio === ZERO_FOLIO ? undefined : peekPage(folio, sub);
  return { result: "ok", value: page === undefined ? 0 : readPage(page, inPage) };
}

export async function kvmAccess(ctx: FaultCtx, kvm: Kvm, op: Op, h: Hooks): Promise<Outcome> {
  if (op.vcpu >= kvm.config.vcpus) return { errno: "EBADF" };
  if (kvm.config.arch === "arm64" && (op.emulate === true || op.kind === "exec")) return { errno: "ENOTTY" };
  const gfn = Math.floor(op.gpa / PAGE_SIZE);
  // KVM_RUN (and the vCPU ioctls that touch guest memory) hold kvm->srcu across the copy.
  const idx = kvm.srcu.readLock();
  try {
    const slot = kvm.memslots[0]!.find(gfn);
    await h.yield("kvm_vcpu_gfn_to_memslot");
    return await readWriteGuestPage(ctx, slot, gfn, op, h);
  } finally {
    kvm.srcu.readUnlock(idx);
  }
}

/** __kvm_read_guest_page / __kvm_write_guest_page: __gfn_to_hva_many, then the uaccess. */
async function readWriteGuestPage(ctx: FaultCtx, slot: ImplMemslot | undefined, gfn: number, op: Op, h: Hooks): Promise<Outcome> {
  const write = op.kind === "write";
  if (slot === undefined || slot.invalid) return failed(op);
  if (write && has(slot, "READONLY")) return failed(op);
  // The seeded design reads guest_memfd directly through kvm_gmem_get_pfn, as for slots without a userspace address.
  if (ctx.bugs.has("uaccess-gmem-direct") && slot.gmem !== null) {
    const inode = ctx.gmemInodes[slot.gmem.inode]!;
    const index = slot.gmem.pgoff + gfn - slot.baseGfn;
    const pfn = await gmemGetPfn(inode, index, h, ctx.bugs);
    if ("errno" in pfn) return failed(op);
    // The copy goes through the folio's kernel address: on a NO_DIRECT_MAP file, a direct-map entry it removed.
    inode.touchDirectMap(inode.lookup(index)!.entry, index);
    return copy(pfn.folio, pfn.sub, op);
  }
  const at = ctx.mm.locate(hvaOf(slot, gfn));
  if (at === undefined) return failed(op);
  await h.yield("__kvm_read_guest_page:__copy_from_user");
  const r = await ctx.mm.fault(at.map, at.index, write, h, { inPage: op.gpa % PAGE_SIZE, user: false });
  if (r.kind === "signal") return failed(op);
  // handle_userfault put the vCPU thread to sleep: the VMM's resolution wakes it and the copy runs again.
  if (r.kind === "userfault") return blockedOutcome(r.waiter);
  const done = copy(r.folio, r.sub, op);
  // __kvm_write_guest_page marks the page after the copy; the seeded mistake writes behind dirty logging's back.
  if (write && !ctx.bugs.has("dirty-log-uaccess-unmarked")) markPageDirty(slot, gfn);
  return done;
}
