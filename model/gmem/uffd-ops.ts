// guest_memfd's vm_uffd_ops in the mm-2026 design ("[PATCH v2 13/15] KVM: guest_memfd: implement userfaultfd
// operations", 20260306171815.3160826-14-rppt@kernel.org): can_userfault needs INIT_SHARED (checked with the
// other VMA rules in model/uffd/register.ts), get_folio_noalloc finds a folio without allocating, alloc_folio +
// filemap_add put a new one in the file for COPY / ZEROPAGE. None of them looks at private/shared: the series was
// written against a tree where an INIT_SHARED file has no private page. With in-place conversion it has; faultline
// assumes a private page is as absent to userfaultfd as one past i_size (config.uffdGmemPrivate "absent"), and
// "as-posted" follows the patches as they are (docs/GMEM.md shows what that lets the host map).
import type { PageBytes } from "../bytes.js";
import { PAGE_SIZE } from "../consts.js";
import type { State } from "../state.js";
import { gmemHasPage, gmemIsPrivate } from "./attributes.js";
import { withInode } from "./file.js";
import { getFolio } from "./folio.js";

/** get_folio_noalloc (kvm_gmem_get_folio_noalloc, __filemap_get_folio without FGP_CREAT): the page has a folio. */
export function gmemFolioPresent(s: State, inode: number, index: number): boolean {
  return index * PAGE_SIZE < s.gmem.inodes[inode]!.size && gmemHasPage(s, inode, index);
}

/** faultline's assumption (uffdGmemPrivate "absent"): a private page is hidden from userfaultfd. */
export const gmemPrivateHidden = (s: State, inode: number, index: number): boolean => s.config.uffdGmemPrivate === "absent" && gmemIsPrivate(s, inode, index);

/** alloc_folio + filemap_add (callers have ruled out i_size, hidden private pages and an occupied slot): a new folio holding data. */
export function gmemAllocFolio(s: State, inode: number, index: number, data: PageBytes | undefined): State {
  const allocated = getFolio(s.gmem.inodes[inode]!, index);
  const out = new Map(allocated.data);
  if (data === undefined) out.delete(index);
  else out.set(index, data);
  return withInode(s, inode, { ...allocated, data: out });
}
