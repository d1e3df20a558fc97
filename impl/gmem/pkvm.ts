// pKVM's mode (model/gmem/pkvm.ts says why): the guest's MEM_SHARE / MEM_UNSHARE set guest_memfd's faultability from
// inside the kernel, and a guest fault on a page the guest unshared while the host still maps or pins it gets -EAGAIN.
// Fuad Tabba's RFC v5 (20250117163001.2326672-6-tabba@google.com, -7-): kvm_gmem_{set,clear}_mappable under slots_lock,
// each file's range under its filemap invalidate lock; v4's guest_memfd_abort (20241213164811.2006197-14-tabba@google.com).
import { PAGE_SIZE } from "../../model/consts.js";
import type { Config } from "../../schema/config.js";
import type { OpOf } from "../../schema/ops.js";
import type { Outcome } from "../../schema/outcome.js";
import type { Hooks } from "../hooks.js";
import type { Kvm } from "../kvm/kvm.js";
import type { Mm } from "../mm/mm.js";
import type { Bugs } from "../bugs.js";
import type { GmemInode } from "./gmem.js";
import { hostMapped } from "./invalidate.js";

export const pkvmMode = (c: Config): boolean => c.arch === "arm64" && c.kernel.gmemInplaceConversion && c.gmemDesign === "rfc-2024";

interface PkvmCtx {
  readonly mm: Mm;
  readonly bugs: Bugs;
  readonly gmemInodes: readonly GmemInode[];
}

/**
 * KVM_GMEM_NONE_MAPPABLE, read from what holds the folio: unfaultable by the host, yet mapped or pinned by it. The
 * seeded slip counts the page cache's own reference as the host's, the "+1" v5's gmem_clear_mappable expects.
 */
export function pkvmPending(ctx: PkvmCtx, inodeId: number, index: number): boolean {
  const inode = ctx.gmemInodes[inodeId]!;
  if (!pkvmMode(inode.config) || inode.shared.get(index) === true) return false;
  if (ctx.bugs.has("pkvm-unshare-counts-cache-ref") && inode.lookup(index) !== undefined) return true;
  return (inode.pins.get(index) ?? 0) > 0 || hostMapped(ctx.mm, inodeId, index, index + 1).length > 0;
}

/** MEM_SHARE / MEM_UNSHARE, handled in the kernel: no exit, the VMM is not asked. */
export async function pkvmMemShare(ctx: PkvmCtx, kvm: Kvm, op: OpOf<"vcpu_hypercall">, h: Hooks): Promise<Outcome> {
  const share = op.nr === "MEM_SHARE";
  const first = Math.floor(op.gpa / PAGE_SIZE);
  const last = first + op.npages;
  await kvm.slotsLock.lock(h);
  try {
    for (const slot of kvm.memslots[0]!.sorted) {
      const a = Math.max(first, slot.baseGfn);
      const b = Math.min(last, slot.baseGfn + slot.npages);
      if (slot.gmem === null || a >= b) continue;
      const inode = ctx.gmemInodes[slot.gmem.inode]!;
      const start = slot.gmem.pgoff + a - slot.baseGfn;
      const end = start + b - a;
      await inode.invalidateLock.write(h);
      try {
        inode.shared.set(start, end, share ? true : undefined);
        // A shared page never sits in an unsplit huge folio ([RFC PATCH 39/39]).
        if (share && inode.folioPages > 1) for (const n of inode.foliosIn(start, end)) inode.cache.get(n)!.split = true;
      } finally {
        inode.invalidateLock.writeUnlock();
      }
    }
    return { result: "ok" };
  } finally {
    kvm.slotsLock.unlock();
  }
}
