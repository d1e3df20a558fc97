// Secret hiding: a guest_memfd taken out of the kernel's direct map (GUEST_MEMFD_FLAG_NO_DIRECT_MAP, the direct map
// removal series v12), and the folio's "prepared" (uptodate) state that decides whether a fault clears it. Tracked
// only on files created with NO_DIRECT_MAP or WRITE, the two flags where either is observable (docs/GMEM.md).
import { EMPTY_RANGES, assign, get, some } from "../ranges.js";
import { rule, type Rule } from "../rules.js";
import { directMapV12 as dm } from "../sources.js";
import { folioRange } from "./folio.js";
import type { GmemInode } from "./types.js";

const G = "virt/kvm/guest_memfd.c";

export const DIRECT_MAP_RULES = {
  flag: rule(
    "gmem.no-direct-map-flag",
    `${dm(10)} (kvm_gmem_get_supported_flags); ${dm(8)} (x86: can_set_direct_map, not TDX or SNP); ${dm(9)} (arm64: and FEAT_S2FWB)`,
    "GUEST_MEMFD_FLAG_NO_DIRECT_MAP is a supported flag where the arch can change the direct map (every VM type faultline models)",
  ),
  zapFault: rule(
    "gmem.no-direct-map-zap-fault",
    `${dm(10)} (kvm_gmem_fault_user_mapping: kvm_gmem_folio_zap_direct_map after the uptodate check)`,
    "a host fault on a NO_DIRECT_MAP file takes the folio out of the direct map, under its lock, before the PTE goes in",
  ),
  zapGetPfn: rule(
    "gmem.no-direct-map-zap-get-pfn",
    `${dm(10)} (kvm_gmem_get_pfn: zap then prepare, "to avoid having guest-owned pages being temporarily mapped on by host")`,
    "kvm_gmem_get_pfn takes the folio out of the direct map before KVM maps it into the guest",
  ),
  restore: rule(
    "gmem.no-direct-map-restore",
    `${dm(10)} (kvm_gmem_free_folio: invalidate then kvm_gmem_folio_restore_direct_map)`,
    "a folio freed by PUNCH_HOLE goes back into the direct map; a new folio at that index starts in it",
  ),
  gup: rule(
    "gmem.no-direct-map-gup",
    `${dm(6)} (AS_NO_DIRECT_MAP; mm/gup.c check_vma_flags: vma_has_no_direct_map, gup_fast_folio_allowed)`,
    "GUP refuses a mapping of a NO_DIRECT_MAP file, as it refuses memfd_secret: a long-term pin is EFAULT",
    "EFAULT",
  ),
  uaccess: rule(
    "gmem.no-direct-map-uaccess",
    `${dm(10)} (commit message: "KVM retains access to guest memory via userspace mappings of guest_memfd, ` +
      `which are reflected back into KVM's memslots via userspace_addr")`,
    "KVM's own accesses to a NO_DIRECT_MAP file go through the memslot's userspace address, never the direct map",
  ),
  prepared: rule(
    "gmem.prepared",
    `${G} (kvm_gmem_get_pfn, kvm_gmem_fault_user_mapping: folio_test_uptodate, clear_highpage, folio_mark_uptodate; kvm_gmem_prepare_folio)`,
    "a fault clears a folio only while it is not uptodate, then marks it: a prepared folio keeps its contents",
  ),
};

/** Whether faultline tracks the prepared and direct-map state of this file (NO_DIRECT_MAP or WRITE). */
export const tracksPrepared = (flags: GmemInode["flags"]): boolean => flags.includes("NO_DIRECT_MAP") || flags.includes("WRITE");

/** The state fields a new file starts with: none, unless it is tracked. */
export function secretFields(flags: GmemInode["flags"]): Pick<GmemInode, "prepared" | "noDirectMap"> {
  if (!tracksPrepared(flags)) return {};
  return flags.includes("NO_DIRECT_MAP") ? { prepared: EMPTY_RANGES, noDirectMap: EMPTY_RANGES } : { prepared: EMPTY_RANGES };
}

/**
 * A fault's preparation of the folio holding index (the page is present): marked uptodate, and on a NO_DIRECT_MAP file
 * out of the direct map. `zap` names the rule of the path; it fires only when the folio was still in the direct map.
 */
export function prepareFolio(inode: GmemInode, index: number, zap: Rule): { inode: GmemInode; fired: readonly Rule[] } {
  if (inode.prepared === undefined) return { inode, fired: [] };
  const f = folioRange(inode, index);
  const prepared = get(inode.prepared, index) === true ? inode.prepared : assign(inode.prepared, f.start, f.end, true);
  const fired = prepared === inode.prepared ? [] : [DIRECT_MAP_RULES.prepared];
  if (inode.noDirectMap === undefined || get(inode.noDirectMap, index) === true) return { inode: { ...inode, prepared }, fired };
  return { inode: { ...inode, prepared, noDirectMap: assign(inode.noDirectMap, f.start, f.end, true) }, fired: [...fired, zap] };
}

/** Folios of [start, end) freed (PUNCH_HOLE): no longer prepared, back in the direct map. */
export function freeFolios(inode: GmemInode, start: number, end: number): { inode: GmemInode; fired: readonly Rule[] } {
  if (inode.prepared === undefined) return { inode, fired: [] };
  const prepared = assign(inode.prepared, start, end, undefined);
  if (inode.noDirectMap === undefined) return { inode: { ...inode, prepared }, fired: [] };
  const fired = some(inode.noDirectMap, start, end) ? [DIRECT_MAP_RULES.restore] : [];
  return { inode: { ...inode, prepared, noDirectMap: assign(inode.noDirectMap, start, end, undefined) }, fired };
}

/** Whether the page at index of a NO_DIRECT_MAP file is out of the direct map ("sealed"). */
export const outOfDirectMap = (inode: GmemInode, index: number): boolean => inode.noDirectMap !== undefined && get(inode.noDirectMap, index) === true;
