// What guest_memfd tears down when pages change hands: stage-2 mappings in every bound VM
// (kvm_gmem_invalidate_begin) and host PTEs of every mapping of the file (unmap_mapping_pages).
import { replaceAt } from "../immutable.js";
import { mapStage2, zapRange } from "../kvm/mmu.js";
import { withMap } from "../mm/fault.js";
import { zapMapRange } from "../mm/ops.js";
import type { Mapping } from "../mm/types.js";
import { PAGE_SIZE } from "../consts.js";
import { assign, EMPTY_RANGES, spans, type RangeMap } from "../ranges.js";
import type { State } from "../state.js";
import { markersOf, withMarkers } from "../uffd/vma.js";

/** Zaps the SPTEs of every memslot bound to [start, end) of the inode. */
export function zapBindings(s: State, inodeId: number, start: number, end: number): State {
  let vms = s.kvm.vms;
  for (const b of spans(s.gmem.inodes[inodeId]!.bindings, start, end)) {
    const vm = vms[b.value.vm]!;
    const slot = vm.slots.find((sl) => sl.slot === b.value.slot)!;
    const g0 = slot.baseGfn + b.start - slot.gmem!.pgoff;
    vms = replaceAt(vms, b.value.vm, mapStage2(vm, slot.as, (s2) => zapRange(s2, g0, g0 + b.end - b.start)));
  }
  return vms === s.kvm.vms ? s : { ...s, kvm: { ...s.kvm, vms } };
}

/** The mapping-page range of a guest_memfd mapping that shows file pages [start, end), if any. */
function window(map: Mapping, inodeId: number, start: number, end: number): { first: number; a: number; b: number } | undefined {
  if (map.backing.kind !== "gmem" || map.backing.inode !== inodeId) return undefined;
  const first = map.backing.offset / PAGE_SIZE;
  const a = Math.max(0, start - first);
  const b = Math.min(map.pages, end - first);
  return a < b ? { first, a, b } : undefined;
}

/** File pages of [start, end) that some host PTE maps. */
function hostMappedPages(s: State, inodeId: number, start: number, end: number): RangeMap<true> {
  let mapped: RangeMap<true> = EMPTY_RANGES;
  for (const map of s.mm.maps.values()) {
    const w = window(map, inodeId, start, end);
    if (w !== undefined) for (const p of spans(map.ptes, w.a, w.b)) mapped = assign(mapped, w.first + p.start, w.first + p.end, true);
  }
  return mapped;
}

/** Drops the uffd-wp markers of a guest_memfd mapping (file page `first` at its page 0) on the file pages in `pages`. */
function dropWpMarkers(s: State, map: Mapping, first: number, pages: RangeMap<true>): State {
  let markers = markersOf(map);
  for (const p of pages) {
    for (const mk of spans(markers, p.start - first, p.end - first)) if (mk.value === "wp") markers = assign(markers, mk.start, mk.end, undefined);
  }
  return withMap(s, withMarkers(map, markers));
}

/**
 * unmap_mapping_pages: drops every host PTE of the file's pages [start, end), telling KVM. zap_page_range_single
 * runs the mmu notifier over each mapping's whole window, whether or not a PTE is present there. A hole punch
 * unmaps through truncate_inode_pages_range instead ("truncate"): truncate_cleanup_folio (mm/truncate.c) unmaps
 * each mapped folio from every mapping with ZAP_FLAG_DROP_MARKER (mm/memory.c, unmap_mapping_folio), so a uffd-wp
 * PTE leaves no marker and the uffd-wp markers other mappings hold on that folio go too. A host-mapped page is a
 * 4 KiB folio: a huge folio is split once any of its pages is shared (kvm_gmem_get_folio), and only shared pages
 * are host-mapped.
 */
export function unmapHost(s: State, inodeId: number, start: number, end: number, how: "unmap" | "truncate" = "unmap"): State {
  const mapped = how === "truncate" ? hostMappedPages(s, inodeId, start, end) : EMPTY_RANGES;
  let next = s;
  for (const map of s.mm.maps.values()) {
    const w = window(map, inodeId, start, end);
    if (w === undefined) continue;
    next = zapMapRange(next, next.mm.maps.get(map.id)!, w.a, w.b, true, how);
    next = dropWpMarkers(next, next.mm.maps.get(map.id)!, w.first, mapped);
  }
  return next;
}

/** The first file page of [start, end) that some host PTE maps. */
export const firstHostMapped = (s: State, inodeId: number, start: number, end: number): number | undefined => hostMappedPages(s, inodeId, start, end)[0]?.start;
