// The KVM MMU's slot-level operations: flushing a memslot, mapping levels, huge page recovery, and the
// mmu notifier that keeps stage-2 in step with host page tables.
import { LEVEL_PAGES, PAGE_SIZE, type Level } from "../../model/consts.js";
import type { Bugs } from "../bugs.js";
import type { Hooks } from "../hooks.js";
import type { Folio } from "../mm/folio.js";
import type { Mm, MmuNotifier } from "../mm/mm.js";
import { has, MEM, type ImplMemslot, type Kvm } from "./kvm.js";

export interface MmuCtx {
  readonly mm: Mm;
  readonly bugs: Bugs;
}

/** kvm_arch_flush_shadow_memslot: kvm_mmu_zap_all_fast with x86's SLOT_ZAP_ALL quirk, else the slot's range. */
export async function flushShadowMemslot(ctx: MmuCtx, kvm: Kvm, slot: ImplMemslot, h: Hooks): Promise<void> {
  await kvm.mmuLock.write(h);
  if (ctx.bugs.has("zap-frees-contents")) {
    for (const { leaf } of kvm.stage2[slot.as]!.leaves(slot.baseGfn, slot.baseGfn + slot.npages)) leaf.folio.sub.clear();
  }
  if (kvm.config.arch === "x86" && kvm.config.kernel.slotZapAll) {
    for (const s2 of kvm.stage2) s2.clear();
    kvm.rootGen++;
  } else {
    kvm.stage2[slot.as]!.zap(slot.baseGfn, slot.baseGfn + slot.npages);
  }
  kvm.mmuLock.writeUnlock();
}

export const hvaOf = (slot: ImplMemslot, gfn: number): number => slot.userspaceAddr + (gfn - slot.baseGfn) * PAGE_SIZE;

/** The host PTE at hva and its level (host_pfn_mapping_level). */
export function hostMapping(mm: Mm, hva: number): { level: Level; folio: Folio; sub: number } | undefined {
  const at = mm.locate(hva);
  const pte = at?.map.pte(at.index);
  if (at === undefined || pte === undefined) return undefined;
  const fp = at.map.backing.kind === "memfd" ? at.map.folioPages : 1;
  const level: Level = fp >= LEVEL_PAGES[2] ? 2 : fp >= LEVEL_PAGES[1] ? 1 : 0;
  return { level, folio: pte.pte.folio, sub: pte.sub };
}

/** kvm_mmu_max_mapping_level + kvm_mmu_hugepage_adjust for a shared, hva-backed fault. */
export function maxSharedLevel(mm: Mm, bugs: Bugs, kvm: Kvm, slot: ImplMemslot, gfn: number): Level {
  if (has(slot, "LOG_DIRTY_PAGES") || (has(slot, "USERFAULT") && !bugs.has("userfault-huge"))) return 0;
  const host = hostMapping(mm, hvaOf(slot, gfn))?.level ?? 0;
  const ugfn = slot.userspaceAddr / PAGE_SIZE;
  for (let l = host; l > 0; l--) {
    const n = LEVEL_PAGES[l as Level];
    const start = Math.floor(gfn / n) * n;
    if (start < slot.baseGfn || start + n > slot.baseGfn + slot.npages) continue;
    if ((((slot.baseGfn - ugfn) % n) + n) % n !== 0) continue;
    const mixed = kvm.attributes.get(start) === true ? !kvm.attributes.covers(start, start + n) : kvm.attributes.any(start, start + n);
    if (!mixed) return l as Level;
  }
  return 0;
}

/** kvm_mmu_recover_huge_pages over a slot: rebuild huge leaves where the max level grew (x86). */
export async function recoverHugePages(ctx: MmuCtx, kvm: Kvm, slot: ImplMemslot, h: Hooks): Promise<void> {
  await kvm.mmuLock.write(h);
  const s2 = kvm.stage2[slot.as]!;
  for (const { gfn } of s2.leaves(slot.baseGfn, slot.baseGfn + slot.npages)) {
    const current = s2.lookup(gfn);
    if (current === undefined || current.leaf.private || current.delta !== 0) continue;
    // KVM Userfault v3 as posted: kvm_mmu_max_mapping_level does not read KVM_MEM_USERFAULT, so turning dirty
    // logging off recovers huge leaves over pages whose userfault bit is set (the seeded design).
    const view = ctx.bugs.has("dirty-log-off-recover-userfault") ? { ...slot, flags: slot.flags & ~MEM.USERFAULT } : slot;
    const level = maxSharedLevel(ctx.mm, ctx.bugs, kvm, view, gfn);
    if (level <= current.leaf.level) continue;
    const start = Math.floor(gfn / LEVEL_PAGES[level]) * LEVEL_PAGES[level];
    // The huge leaf maps the host page of the region's first gfn; the seeded slip takes the 4 KiB leaf's own.
    const host = hostMapping(ctx.mm, hvaOf(slot, ctx.bugs.has("recover-huge-wrong-subpage") ? gfn : start))!;
    s2.install(start, { ...current.leaf, level, folio: host.folio, sub: host.sub });
  }
  kvm.mmuLock.writeUnlock();
}

/** eager-split's demotion on the USERFAULT 0->1 toggle (eager page splitting): each huge leaf becomes 4 KiB leaves of its pages. */
export async function splitHugePages(kvm: Kvm, slot: ImplMemslot, h: Hooks): Promise<void> {
  await kvm.mmuLock.write(h);
  const s2 = kvm.stage2[slot.as]!;
  for (const { gfn, leaf } of s2.leaves(slot.baseGfn, slot.baseGfn + slot.npages)) {
    if (leaf.level === 0) continue;
    s2.zap(gfn, gfn + 1);
    for (let i = 0; i < LEVEL_PAGES[leaf.level]; i++) s2.install(gfn + i, { ...leaf, level: 0, sub: leaf.sub + i });
  }
  kvm.mmuLock.writeUnlock();
}

/** userfault-v1 on arm64: turning USERFAULT off unmaps the slot's stage 2 (kvm_stage2_unmap_range over the slot). */
export async function zapSlot(kvm: Kvm, slot: ImplMemslot, h: Hooks): Promise<void> {
  await kvm.mmuLock.write(h);
  kvm.stage2[slot.as]!.zap(slot.baseGfn, slot.baseGfn + slot.npages);
  kvm.mmuLock.writeUnlock();
}

/** kvm_mmu_notifier_invalidate_range_start/_end: zap shared leaves of every slot mapping the hva range. */
export function mmuNotifier(kvm: Kvm): MmuNotifier {
  const overlapping = (start: number, end: number): { slot: ImplMemslot; g0: number; g1: number }[] =>
    kvm.memslots.flatMap((m) =>
      m.sorted.flatMap((slot) => {
        const slotEnd = slot.userspaceAddr + slot.npages * PAGE_SIZE;
        if (slot.userspaceAddr >= end || slotEnd <= start) return [];
        const g0 = slot.baseGfn + Math.floor((Math.max(start, slot.userspaceAddr) - slot.userspaceAddr) / PAGE_SIZE);
        const g1 = slot.baseGfn + Math.ceil((Math.min(end, slotEnd) - slot.userspaceAddr) / PAGE_SIZE);
        return [{ slot, g0, g1 }];
      }),
    );
  return {
    async invalidateRangeStart(start, end, h) {
      kvm.mnActiveInvalidateCount++;
      const hits = overlapping(start, end);
      if (hits.length === 0) return;
      await kvm.mmuLock.write(h);
      kvm.invalidateBegin();
      for (const { slot, g0, g1 } of hits) {
        kvm.invalidateRangeAdd(g0, g1);
        kvm.stage2[slot.as]!.zap(g0, g1, (l) => !l.private);
      }
      kvm.mmuLock.writeUnlock();
    },
    async invalidateRangeEnd(start, end, h) {
      if (overlapping(start, end).length > 0) {
        await kvm.mmuLock.write(h);
        kvm.invalidateEnd();
        kvm.mmuLock.writeUnlock();
      }
      kvm.mnActiveInvalidateCount--;
    },
  };
}
