// Private/shared as KVM reads it (kvm_mem_is_private, kvm_gmem_get_memory_attributes), the stage-2 level a
// guest_memfd page may be mapped at, and small readers other subsystems use.
import { LEVEL_PAGES, type Level } from "../../model/consts.js";
import type { Bugs } from "../bugs.js";
import { has, type ImplMemslot, type Kvm } from "../kvm/kvm.js";
import { gmemOwnsAttributes, type GmemInode } from "./gmem.js";

/** kvm_mem_is_private: the VM's attribute array, or the guest_memfd's tree behind the gfn's memslot (v7). */
export function kvmMemIsPrivate(gmemInodes: readonly GmemInode[], kvm: Kvm, gfn: number): boolean {
  if (!gmemOwnsAttributes(kvm.config)) return kvm.attributes.get(gfn) === true;
  const slot = kvm.memslots[0]!.find(gfn);
  if (slot === undefined || slot.gmem === null) return false;
  const inode = gmemInodes[slot.gmem.inode]!;
  return inode.open && gmemIsPrivate(inode, slot.gmem.pgoff + gfn - slot.baseGfn);
}

/** Every gfn of [start, end) is private. */
function allPrivate(gmemInodes: readonly GmemInode[], kvm: Kvm, slot: ImplMemslot, start: number, end: number): boolean {
  if (!gmemOwnsAttributes(kvm.config)) return kvm.attributes.covers(start, end);
  const inode = gmemInodes[slot.gmem!.inode]!;
  const shift = slot.baseGfn - slot.gmem!.pgoff;
  return inode.open && !inode.shared.any(start - shift, end - shift);
}

/** The stage-2 level of a guest_memfd fault: huge only for a private fault inside one unsplit huge folio. */
export function gmemMaxLevel(gmemInodes: readonly GmemInode[], bugs: Bugs, kvm: Kvm, slot: ImplMemslot, gfn: number, isPrivate: boolean): Level {
  if (!isPrivate || kvm.config.arch !== "x86" || slot.gmem === null || has(slot, "LOG_DIRTY_PAGES") || has(slot, "USERFAULT")) return 0;
  const inode = gmemInodes[slot.gmem.inode]!;
  const index = slot.gmem.pgoff + gfn - slot.baseGfn;
  const folio = inode.lookup(index);
  if (folio === undefined || (folio.entry.split && !bugs.has("gmem-huge-ignores-split"))) return 0;
  for (let l = inode.folioPages >= LEVEL_PAGES[2] ? 2 : inode.folioPages >= LEVEL_PAGES[1] ? 1 : 0; l > 0; l--) {
    const n = LEVEL_PAGES[l as Level];
    const start = Math.floor(gfn / n) * n;
    if (start < slot.baseGfn || start + n > slot.baseGfn + slot.npages) continue;
    if ((((slot.baseGfn - slot.gmem.pgoff) % n) + n) % n !== 0) continue;
    if (allPrivate(gmemInodes, kvm, slot, start, start + n) || bugs.has("gmem-huge-ignores-split")) return l as Level;
  }
  return 0;
}

/** The host may not fault this page in (v7: PRIVATE in the tree; 2024 RFC: not faultable). */
export const gmemIsPrivate = (inode: GmemInode, index: number): boolean => inode.shared.get(index) !== true;

/** The page is allocated in the inode's page cache. */
export const gmemHasPage = (inode: GmemInode, index: number): boolean => inode.lookup(index) !== undefined;
