// The abstract stage-2 table: which gfns are mapped, at which level, writable or not, private or shared.
import { LEVEL_PAGES, PAGE_SIZE, type Level } from "../consts.js";
import { replaceAt } from "../immutable.js";
import { privateSpans } from "../gmem/attributes.js";
import { folioLevel, inUnsplitHugeFolio } from "../gmem/folio.js";
import { hostLevelAt } from "../mm/pages.js";
import { assign, covers, get, spans, type RangeMap } from "../ranges.js";
import { rule } from "../rules.js";
import type { State } from "../state.js";
import type { Memslot, Spte, Vm } from "./types.js";

const MMU = "arch/x86/kvm/mmu/mmu.c";

export const MMU_RULES = {
  zapAllQuirk: rule(
    "mmu.zap-all-quirk",
    "arch/x86/kvm/x86.c (kvm_arch_flush_shadow_memslot, kvm_memslot_flush_zap_all); 20240613060946.11806-1-yan.y.zhao@intel.com",
    "x86 with KVM_X86_QUIRK_SLOT_ZAP_ALL (default) drops every SPTE of the VM when a memslot is flushed",
  ),
  zapSlot: rule("mmu.zap-slot", `${MMU} (kvm_mmu_zap_memslot); arch/arm64/kvm/mmu.c (kvm_arch_flush_shadow_memslot)`, "flushing a memslot drops the SPTEs in its gfn range"),
  hugeRegion: rule(
    "mmu.huge-region",
    `${MMU} (kvm_mmu_max_mapping_level, kvm_alloc_memslot_metadata lpage_info)`,
    "a huge mapping needs its aligned region inside the slot, gfn and hva congruent, uniform attributes and a huge host page",
  ),
  recover: rule(
    "mmu.recover-huge",
    "arch/x86/kvm/mmu/tdp_mmu.c (kvm_tdp_mmu_recover_huge_pages); 20250618042424.330664-6-jthoughton@google.com",
    "x86 rebuilds huge mappings when dirty logging or USERFAULT is turned off (arm64 does not)",
  ),
  writeProtect: rule("mmu.write-protect", "arch/x86/kvm/x86.c (kvm_mmu_slot_apply_flags); arch/arm64/kvm/mmu.c (kvm_arch_commit_memory_region)", "enabling dirty logging write-protects the slot"),
};

const allSptes = (): boolean => true;

/** Drops every mapping that touches [start, end) (a huge mapping goes as a whole). */
export function zapRange(s2: RangeMap<Spte>, start: number, end: number, which: (s: Spte) => boolean = allSptes): RangeMap<Spte> {
  let out = s2;
  for (const span of spans(s2, start, end)) {
    if (!which(span.value)) continue;
    const n = LEVEL_PAGES[span.value.level];
    out = assign(out, Math.floor(span.start / n) * n, Math.ceil(span.end / n) * n, undefined);
  }
  return out;
}

export const mapStage2 = (vm: Vm, as: number, f: (s2: RangeMap<Spte>) => RangeMap<Spte>): Vm => ({
  ...vm,
  stage2: replaceAt(vm.stage2, as, f(vm.stage2[as] ?? [])),
});

export const zapSlot = (vm: Vm, slot: Memslot): Vm => mapStage2(vm, slot.as, (s2) => zapRange(s2, slot.baseGfn, slot.baseGfn + slot.npages));

export const zapAll = (vm: Vm): Vm => ({ ...vm, stage2: vm.stage2.map(() => []) });

/** kvm_arch_flush_shadow_memslot: the whole VM on x86 with the SLOT_ZAP_ALL quirk, else the slot's range. */
export function flushShadowMemslot(s: State, vm: Vm, slot: Memslot): { vm: Vm; rule: typeof MMU_RULES.zapAllQuirk } {
  if (s.config.arch === "x86" && s.config.kernel.slotZapAll) return { vm: zapAll(vm), rule: MMU_RULES.zapAllQuirk };
  return { vm: zapSlot(vm, slot), rule: MMU_RULES.zapSlot };
}

export const writeProtectSlot = (vm: Vm, slot: Memslot): Vm =>
  mapStage2(vm, slot.as, (s2) => {
    let out = s2;
    for (const span of spans(s2, slot.baseGfn, slot.baseGfn + slot.npages)) out = assign(out, span.start, span.end, { ...span.value, writable: false });
    return out;
  });

/** Installs one mapping of spte.level around gfn, replacing whatever overlapped its region. */
export function installSpte(vm: Vm, as: number, gfn: number, spte: Spte): Vm {
  const n = LEVEL_PAGES[spte.level];
  const start = Math.floor(gfn / n) * n;
  return mapStage2(vm, as, (s2) => assign(zapRange(s2, start, start + n), start, start + n, spte));
}

export const spteAt = (vm: Vm, as: number, gfn: number): Spte | undefined => get(vm.stage2[as] ?? [], gfn);

export const hvaOf = (slot: Memslot, gfn: number): number => slot.userspaceAddr + (gfn - slot.baseGfn) * PAGE_SIZE;

export const hasFlag = (slot: Memslot, f: Memslot["flags"][number]): boolean => slot.flags.includes(f);

/** Whether the aligned region of level l around gfn may be one mapping (the slot-side conditions). */
function regionAllowsLevel(vm: Vm, slot: Memslot, gfn: number, l: Level, congruentWith: number): boolean {
  const n = LEVEL_PAGES[l];
  const start = Math.floor(gfn / n) * n;
  if (start < slot.baseGfn || start + n > slot.baseGfn + slot.npages) return false;
  if ((((slot.baseGfn - congruentWith) % n) + n) % n !== 0) return false;
  return get(vm.attributes, start) === true ? covers(vm.attributes, start, start + n) : spans(vm.attributes, start, start + n).length === 0;
}

/** kvm_mmu_hugepage_adjust: dirty logging and USERFAULT force 4 KiB mappings. */
export const forces4K = (slot: Memslot): boolean => hasFlag(slot, "LOG_DIRTY_PAGES") || hasFlag(slot, "USERFAULT");

/** The largest level a shared (hva-backed) mapping of gfn may have, given the host mapping there. */
export function maxSharedLevel(s: State, vm: Vm, slot: Memslot, gfn: number): Level {
  if (forces4K(slot)) return 0;
  const host = hostLevelAt(s, hvaOf(slot, gfn));
  for (let l = host; l > 0; l--) {
    if (regionAllowsLevel(vm, slot, gfn, l as Level, slot.userspaceAddr / PAGE_SIZE)) return l as Level;
  }
  return 0;
}

/**
 * The largest level a guest_memfd-backed mapping may have: huge only for a private fault inside one unsplit
 * (hence wholly private) huge folio, aligned in slot and file; arm64's gmem_abort maps PAGE_SIZE only.
 */
export function maxGmemLevel(s: State, vm: Vm, slot: Memslot, gfn: number, isPrivate: boolean): Level {
  if (!isPrivate || s.config.arch !== "x86" || slot.gmem === null || forces4K(slot)) return 0;
  const inode = s.gmem.inodes[slot.gmem.inode]!;
  const index = slot.gmem.pgoff + gfn - slot.baseGfn;
  for (let l = folioLevel(inode); l > 0; l--) {
    const n = LEVEL_PAGES[l as Level];
    const start = Math.floor(gfn / n) * n;
    if (start < slot.baseGfn || start + n > slot.baseGfn + slot.npages) continue;
    if ((((slot.baseGfn - slot.gmem.pgoff) % n) + n) % n !== 0 || !inUnsplitHugeFolio(inode, index)) continue;
    if (covers(privateSpans(s, vm, start, start + n, slot.as), start, start + n)) return l as Level;
  }
  return 0;
}

/** kvm_mmu_recover_huge_pages over one slot: collapse regions whose max level grew (x86 only). */
export function recoverHugePages(s: State, vm: Vm, slot: Memslot): Vm {
  let out = vm;
  const s2 = vm.stage2[slot.as] ?? [];
  for (const span of spans(s2, slot.baseGfn, slot.baseGfn + slot.npages)) {
    if (span.value.private) continue;
    for (let gfn = span.start; gfn < span.end; gfn += LEVEL_PAGES[span.value.level]) {
      const current = spteAt(out, slot.as, gfn);
      if (current === undefined) continue;
      const l = maxSharedLevel(s, out, slot, gfn);
      if (l > current.level) out = installSpte(out, slot.as, gfn, { ...current, level: l });
    }
  }
  return out;
}

/**
 * mmu notifier: the host PTEs for [start, end) changed; drop shared SPTEs (never private ones) of every VM whose
 * slots map them. virt/kvm/kvm_main.c (kvm_mmu_notifier_invalidate_range_start, kvm_handle_hva_range).
 */
export function invalidateHva(s: State, start: number, end: number): State {
  const vms = s.kvm.vms.map((vm) => {
    let out = vm;
    for (const slot of vm.slots) {
      const slotEnd = slot.userspaceAddr + slot.npages * PAGE_SIZE;
      if (slot.userspaceAddr >= end || slotEnd <= start) continue;
      const g0 = slot.baseGfn + Math.floor((Math.max(start, slot.userspaceAddr) - slot.userspaceAddr) / PAGE_SIZE);
      const g1 = slot.baseGfn + Math.ceil((Math.min(end, slotEnd) - slot.userspaceAddr) / PAGE_SIZE);
      out = mapStage2(out, slot.as, (s2) => zapRange(s2, g0, g1, (sp) => !sp.private));
    }
    return out;
  });
  return vms.every((vm, i) => vm === s.kvm.vms[i]) ? s : { ...s, kvm: { ...s.kvm, vms } };
}
