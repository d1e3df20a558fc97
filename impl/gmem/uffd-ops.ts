// guest_memfd's vm_uffd_ops (mm-2026 design, 20260306171815.3160826-14-rppt@kernel.org): get_folio_noalloc for
// faults and CONTINUE, alloc_folio + filemap_add for COPY / ZEROPAGE. Under faultline's assumption (uffdGmemPrivate
// "absent") private pages are never handed out, as absent as pages beyond i_size; "as-posted" looks at i_size only,
// as the series does.
import { PAGE_SIZE } from "../../model/consts.js";
import { pageOf, type Folio } from "../mm/folio.js";
import { VersionedMap } from "../util/versioned.js";
import type { GmemInode } from "./gmem.js";

/** The 4 KiB folio a page of a (split) huge folio is, as the host fault maps it: it holds that very page. */
const view = (f: Folio, sub: number): Folio => (f.pages === 1 ? f : { pages: 1, sub: new VersionedMap([[0, pageOf(f, sub)]]) });

export const gmemPastEof = (inode: GmemInode, index: number): boolean => index * PAGE_SIZE >= inode.size;

const hostMayMap = (inode: GmemInode, index: number): boolean =>
  !gmemPastEof(inode, index) && (inode.config.uffdGmemPrivate === "as-posted" || inode.shared.get(index) === true);

/** Within i_size and shared: what the older designs' ->fault lets through to its userfaultfd hook (model/uffd/gmem-designs.ts). */
export const gmemHostFaultable = (inode: GmemInode, index: number): boolean => !gmemPastEof(inode, index) && inode.shared.get(index) === true;

/** get_folio_noalloc (__filemap_get_folio without FGP_CREAT). */
export function gmemGetFolioNoalloc(inode: GmemInode, index: number): Folio | undefined {
  const at = hostMayMap(inode, index) ? inode.lookup(index) : undefined;
  return at === undefined ? undefined : view(at.entry.folio, at.sub);
}

/** alloc_folio refuses pgoff >= i_size; under the assumption a private page is refused the same way. */
export const gmemCanAlloc = (inode: GmemInode, index: number): boolean => hostMayMap(inode, index);

/** alloc_folio + filemap_add at a page the caller found free. */
export function gmemAddFolio(inode: GmemInode, index: number): Folio {
  const at = inode.getFolio(index);
  return view(at.folio, at.sub);
}
