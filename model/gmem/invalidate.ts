// What guest_memfd tears down when pages change hands: stage-2 mappings in every bound VM
// (kvm_gmem_invalidate_begin) and host PTEs of every mapping of the file (unmap_mapping_pages).
import { replaceAt } from "../immutable.js";
import { mapStage2, zapRange } from "../kvm/mmu.js";
import { zapMapRange } from "../mm/ops.js";
import type { Mapping } from "../mm/types.js";
import { PAGE_SIZE } from "../consts.js";
import { spans } from "../ranges.js";
import type { State } from "../state.js";

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
function window(map: Mapping, inodeId: number, start: number, end: number): { a: number; b: number } | undefined {
  if (map.backing.kind !== "gmem" || map.backing.inode !== inodeId) return undefined;
  const first = map.backing.offset / PAGE_SIZE;
  const a = Math.max(0, start - first);
  const b = Math.min(map.pages, end - first);
  return a < b ? { a, b } : undefined;
}

/**
 * unmap_mapping_pages: drops every host PTE of the file's pages [start, end), telling KVM. zap_page_range_single
 * runs the mmu notifier over each mapping's whole window, whether or not a PTE is present there. A hole punch
 * unmaps through truncate_inode_pages_range instead ("truncate": unmap_mapping_folio drops uffd-wp, no marker).
 */
export function unmapHost(s: State, inodeId: number, start: number, end: number, how: "unmap" | "truncate" = "unmap"): State {
  let next = s;
  for (const map of s.mm.maps.values()) {
    const w = window(map, inodeId, start, end);
    if (w !== undefined) next = zapMapRange(next, next.mm.maps.get(map.id)!, w.a, w.b, true, how);
  }
  return next;
}

/** The first file page of [start, end) that some host PTE maps. */
export function firstHostMapped(s: State, inodeId: number, start: number, end: number): number | undefined {
  let first: number | undefined;
  for (const map of s.mm.maps.values()) {
    const w = window(map, inodeId, start, end);
    const pte = w === undefined ? undefined : spans(map.ptes, w.a, w.b)[0];
    if (pte !== undefined && map.backing.kind === "gmem") first = Math.min(first ?? Infinity, map.backing.offset / PAGE_SIZE + pte.start);
  }
  return first;
}
