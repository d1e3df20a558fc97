// What guest_memfd tears down when pages change hands: SPTEs in every bound VM inside an mmu_invalidate
// window (kvm_gmem_invalidate_begin/_end), and host PTEs of every mapping of the file (unmap_mapping_pages).
import { PAGE_SIZE } from "../../model/consts.js";
import type { Hooks } from "../hooks.js";
import type { Kvm } from "../kvm/kvm.js";
import type { Mapping } from "../mm/mapping.js";
import type { Mm } from "../mm/mm.js";
import type { GmemInode } from "./gmem.js";

/**
 * kvm_gmem_invalidate_begin: for each memslot bound to [start, end), under mmu_lock, start (once per VM) an
 * mmu_invalidate window covering its gfns and zap them. Returns the VMs whose window invalidateEnd closes.
 */
export async function invalidateBegin(vms: readonly Kvm[], inode: GmemInode, start: number, end: number, h: Hooks, zap: boolean): Promise<Kvm[]> {
  const hit: Kvm[] = [];
  for (const b of [...inode.bindings.spans(start, end)]) {
    const kvm = vms[b.value.vm]!;
    const slot = kvm.memslots[Math.floor(b.value.slot / 65536)]?.get(b.value.slot);
    if (slot === undefined || slot.gmem === null) continue;
    const g0 = slot.baseGfn + b.start - slot.gmem.pgoff;
    const g1 = g0 + b.end - b.start;
    await kvm.mmuLock.write(h);
    if (!hit.includes(kvm)) {
      kvm.invalidateBegin();
      hit.push(kvm);
    }
    kvm.invalidateRangeAdd(g0, g1);
    if (zap) kvm.stage2[slot.as]!.zap(g0, g1);
    kvm.mmuLock.writeUnlock();
  }
  return hit;
}

/** kvm_gmem_invalidate_end. */
export async function invalidateEnd(hit: readonly Kvm[], h: Hooks): Promise<void> {
  for (const kvm of hit) {
    await kvm.mmuLock.write(h);
    kvm.invalidateEnd();
    kvm.mmuLock.writeUnlock();
  }
}

/** The PTE keys (mapping page indexes) of each mapping of the inode that map file pages [start, end). */
function ptesIn(mm: Mm, inodeId: number, start: number, end: number): { map: Mapping; first: number; keys: number[] }[] {
  const out: { map: Mapping; first: number; keys: number[] }[] = [];
  for (const map of mm.maps.values()) {
    if (map.backing.kind !== "gmem" || map.backing.inode !== inodeId) continue;
    const first = map.backing.offset / PAGE_SIZE;
    const keys = [...map.ptes.keys()].filter((k) => k + first >= start && k + first < end);
    if (keys.length > 0) out.push({ map, first, keys });
  }
  return out;
}

/** Indexes of [start, end) some host PTE maps. */
export function hostMapped(mm: Mm, inodeId: number, start: number, end: number): number[] {
  return ptesIn(mm, inodeId, start, end).flatMap(({ first, keys }) => keys.map((k) => k + first));
}

/**
 * unmap_mapping_pages: drop the host PTEs of [start, end) in every mapping, inside an mmu notifier call over its
 * whole window. A hole punch unmaps through truncate_inode_pages_range ("truncate"): each host-mapped (4 KiB)
 * folio is unmapped from every mapping with ZAP_FLAG_DROP_MARKER, which leaves no uffd-wp marker and drops those
 * other mappings hold on it.
 */
export async function unmapMappingPages(mm: Mm, inodeId: number, start: number, end: number, h: Hooks, how: "unmap" | "truncate" = "unmap"): Promise<void> {
  const mapped = how === "truncate" ? hostMapped(mm, inodeId, start, end) : [];
  for (const map of [...mm.maps.values()]) {
    if (map.backing.kind !== "gmem" || map.backing.inode !== inodeId) continue;
    const first = map.backing.offset / PAGE_SIZE;
    const a = Math.max(0, start - first);
    const b = Math.min(map.pages, end - first);
    // Stryker disable next-line ConditionalExpression,EqualityOperator: an empty window only notifies KVM of an empty range (in-flight faults retry once more)
    if (a >= b) continue;
    await mm.invalidate(map.base + a * PAGE_SIZE, map.base + b * PAGE_SIZE, h, () => {
      mm.dropPages(map, a, b, how);
      for (const index of mapped) if (map.markers.get(index - first) === "wp") map.markers.set(index - first, index - first + 1, undefined);
    });
  }
}
