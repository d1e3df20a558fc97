// The proposed bitmap re-scan ioctl (config.kernel.userfaultRescan; model/kvm/rescan.ts): under slots_lock, read the
// slot's bitmap, then zap what maps a marked page under mmu_lock inside an mmu_invalidate section, as the mmu
// notifier does, so a fault that read the bit clear before the VMM set it and maps after the zap is made to retry.
import type { OpOf } from "../../schema/ops.js";
import type { Outcome } from "../../schema/outcome.js";
import type { Bugs } from "../bugs.js";
import type { Hooks } from "../hooks.js";
import { has, type Kvm } from "./kvm.js";

export async function userfaultRescan(bugs: Bugs, kvm: Kvm, op: OpOf<"userfault_rescan">, h: Hooks): Promise<Outcome> {
  if (!kvm.config.kernel.userfaultRescan) return { errno: "ENOTTY" }; // userfault.rescan-absent
  await kvm.slotsLock.lock(h);
  try {
    const as = Math.floor(op.slot / 65536);
    const slot = kvm.memslots[as]?.get(op.slot);
    const bitmap = kvm.bitmaps.get(op.slot);
    // userfault.rescan-slot
    if (slot === undefined || !has(slot, "USERFAULT") || slot.userfaultBitmap !== null || bitmap === undefined) return { errno: "EINVAL" };
    const marked = bitmap.runs().filter((r) => r.start < slot.npages).map((r) => ({ start: slot.baseGfn + r.start, end: slot.baseGfn + Math.min(r.end, slot.npages) }));
    await h.yield("kvm_userfault_rescan:get_user");
    await kvm.mmuLock.write(h);
    // The seeded slip zaps without an invalidate section: a fault in flight keeps its mmu_seq and maps after the zap.
    const section = !bugs.has("rescan-no-invalidate");
    if (section) {
      kvm.invalidateBegin();
      for (const r of marked) kvm.invalidateRangeAdd(r.start, r.end);
    }
    for (const r of marked) kvm.stage2[slot.as]!.zap(r.start, r.end);
    if (section) kvm.invalidateEnd();
    kvm.mmuLock.writeUnlock();
    return { result: "ok" };
  } finally {
    kvm.slotsLock.unlock();
  }
}
