// guest_memfd's vm_uffd_ops in the mm-2026 design ("[PATCH v2 13/15] KVM: guest_memfd: implement userfaultfd
// operations", 20260306171815.3160826-14-rppt@kernel.org): can_userfault needs INIT_SHARED (checked with the
// other VMA rules in model/uffd/register.ts), get_folio_noalloc finds a folio without allocating, alloc_folio +
// filemap_add put a new one in the file for COPY / ZEROPAGE. Private pages are never handed out: the host may
// not map them, so for userfaultfd they are as absent as a page beyond i_size.
import type { PageBytes } from "../bytes.js";
import { PAGE_SIZE } from "../consts.js";
import type { State } from "../state.js";
import { gmemHasPage, gmemIsPrivate } from "./attributes.js";
import { withInode } from "./file.js";
import { getFolio } from "./folio.js";

/** get_folio_noalloc: the page has a folio in the file that the host may map. */
export function gmemFolioPresent(s: State, inode: number, index: number): boolean {
  return index * PAGE_SIZE < s.gmem.inodes[inode]!.size && gmemHasPage(s, inode, index) && !gmemIsPrivate(s, inode, index);
}

/** alloc_folio + filemap_add (callers have ruled out i_size, private pages and an occupied slot): a new folio holding data. */
export function gmemAllocFolio(s: State, inode: number, index: number, data: PageBytes | undefined): State {
  const allocated = getFolio(s.gmem.inodes[inode]!, index);
  const out = new Map(allocated.data);
  if (data === undefined) out.delete(index);
  else out.set(index, data);
  return withInode(s, inode, { ...allocated, data: out });
}
