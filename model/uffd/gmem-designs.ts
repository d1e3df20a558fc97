// The userfaultfd-on-guest_memfd designs before vm_uffd_ops, as variants (config.uffdGmemDesign; docs/UFFD.md, "The
// designs"). Each differs from vm_uffd_ops (model/gmem/uffd-ops.ts) in four places: which message a first touch raises,
// what CONTINUE does on a hole, which registrations guest_memfd takes, and whether COPY / ZEROPAGE fill it. Their hooks
// sit inside guest_memfd's ->fault, after its i_size and private checks, so they apply only to pages the host may map:
// any other page SIGBUSes as it does without userfaultfd (their trees had no private page in a mappable file).
import type { UffdGmemDesign } from "../../schema/config.js";
import type { UffdModeName } from "../../schema/flags.js";
import { PAGE_SIZE } from "../consts.js";
import { gmemIsPrivate } from "../gmem/attributes.js";
import { gmemAllocFolio, gmemFolioPresent } from "../gmem/uffd-ops.js";
import type { Mapping } from "../mm/types.js";
import { rule, type Rule } from "../rules.js";
import { kalyazinUffd as k } from "../sources.js";
import type { State } from "../state.js";
import type { UffdReg } from "./types.js";
import { hasMode } from "./vma.js";

const V1_COVER = "[RFC PATCH 0/5] KVM: guest_memfd: support for uffd missing (20250303133011.44095-1-kalyazin@amazon.com)";
const V3_HUNK = `the hunk its author posted in reply to Peter Xu's review of ${k("v3", 4, "KVM: guest_memfd: add support for userfaultfd minor")}`;

export const UFFD_DESIGN_RULES = {
  v1Missing: rule(
    "uffd.gmem-v1-missing",
    `${k("v1", 2, "KVM: guest_memfd: add support for uffd missing")} (kvm_gmem_fault: filemap_get_entry, userfaultfd_missing)`,
    "v1-hybrid: a hole in the file raises MISSING before anything is allocated; a folio in the file is mapped as it is (v1 raises no MINOR)",
  ),
  minorFirst: rule(
    "uffd.gmem-minor-first",
    `${k("v2", 4, "KVM: guest_memfd: add support for userfaultfd minor")} (kvm_gmem_fault); ${k("v3", 4, "KVM: guest_memfd: add support for userfaultfd minor")}; ` +
      `${k("v6", 1, "mm: guestmem: introduce guestmem library")} (guestmem_fault_user_mapping)`,
    "v2-minor-first and guestmem-v6: the fault grabs the folio first (allocating and zeroing it), then raises MINOR if registered; MISSING is never raised",
  ),
  continueAlloc: rule(
    "uffd.gmem-continue-alloc",
    `${k("v2", 1, "mm: userfaultfd: generic continue for non hugetlbfs")} (mfill_atomic_pte_continue: vm_ops->fault with FAULT_FLAG_NO_USERFAULT_MINOR); ` +
      `${k("v6", 2, "userfaulfd: add minor mode for guestmem")} (mfill_atomic_pte_continue: guestmem_grab_folio)`,
    "v2-minor-first and guestmem-v6: CONTINUE on a hole allocates the folio and maps it (v6's filemap_grab_folio leaves it uncleared; faultline reads it as zero)",
  ),
  registerMinor: rule(
    "uffd.gmem-register-minor",
    `${k("v3", 3, "mm: userfaultfd: use can_userfault vma operation")} (vma_can_userfault: can_userfault(vma, vm_flags)); ${V3_HUNK} (kvm_gmem_can_userfault: vm_flags & VM_UFFD_MINOR)`,
    "v2-minor-first: a guest_memfd VMA registers only when MINOR is among the modes",
    "EINVAL",
  ),
  registerAny: rule(
    "uffd.gmem-register-any",
    `${k("v1", 3, "mm: userfaultfd: allow to register userfaultfd for guest_memfd")} (vma_can_userfault: kvm_gmem_vma_is_gmem); ` +
      `${k("v6", 2, "userfaulfd: add minor mode for guestmem")} (vma_can_userfault: guestmem_vma_is_guestmem)`,
    "v1-hybrid and guestmem-v6: a guest_memfd VMA registers in any mode (no INIT_SHARED check)",
  ),
  fillUnsupported: rule(
    "faultline.uffd-gmem-fill-unsupported",
    `${V1_COVER}: "we can't use UFFDIO_COPY here because userfaulfd code does not know how to prepare guest_memfd pages"; ` +
      `${k("v1", 4, "mm: userfaultfd: support continue for guest_memfd")}, ${k("v6", 2, "userfaulfd: add minor mode for guestmem")} (mfill_atomic: a shared guest_memfd VMA reaches shmem_mfill_atomic_pte)`,
    "faultline's reading of v1-hybrid, v2-minor-first and guestmem-v6: COPY and ZEROPAGE do not fill guest_memfd (the posted code would run shmem's fill on a guest_memfd inode)",
    "EINVAL",
  ),
};

/** The designs where the fault allocates before it asks userspace, and CONTINUE allocates a hole. */
const allocatesFirst = (d: UffdGmemDesign): boolean => d === "v2-minor-first" || d === "guestmem-v6";

/** The page is within i_size and shared: what the older designs' ->fault lets through to its userfaultfd hook. */
function faultable(s: State, inode: number, index: number): boolean {
  return index * PAGE_SIZE < s.gmem.inodes[inode]!.size && !gmemIsPrivate(s, inode, index);
}

/**
 * The message a fault on a none PTE of a guest_memfd VMA raises under an older design, the rule, and the state the
 * thread sleeps in (v2/v3 and v6 allocated the folio first). Undefined: ->fault maps the page (or SIGBUSes).
 */
export function designFault(s: State, m: Mapping, index: number, reg: UffdReg): { reason: "MISSING" | "MINOR"; rule: Rule; state: State } | undefined {
  if (m.backing.kind !== "gmem") return undefined;
  const inode = m.backing.inode;
  const fileIndex = m.backing.offset / PAGE_SIZE + index;
  if (!faultable(s, inode, fileIndex)) return undefined;
  const present = gmemFolioPresent(s, inode, fileIndex);
  if (!allocatesFirst(s.config.uffdGmemDesign)) {
    return !present && hasMode(reg, "MISSING") ? { reason: "MISSING", rule: UFFD_DESIGN_RULES.v1Missing, state: s } : undefined;
  }
  if (!hasMode(reg, "MINOR")) return undefined;
  return { reason: "MINOR", rule: UFFD_DESIGN_RULES.minorFirst, state: present ? s : gmemAllocFolio(s, inode, fileIndex, undefined) };
}

/** CONTINUE on a guest_memfd hole: the state with the folio allocated (v2/v3, v6) and the rule, or undefined (EFAULT). */
export function designContinueHole(s: State, inode: number, fileIndex: number): { state: State; rule: Rule } | undefined {
  if (!allocatesFirst(s.config.uffdGmemDesign) || !faultable(s, inode, fileIndex)) return undefined;
  return { state: gmemAllocFolio(s, inode, fileIndex, undefined), rule: UFFD_DESIGN_RULES.continueAlloc };
}

/** vma_can_userfault for a guest_memfd VMA under an older design: v2/v3 want MINOR, v1 and v6 take anything. */
export const designCanUserfault = (d: UffdGmemDesign, modes: readonly UffdModeName[]): boolean => d !== "v2-minor-first" || modes.includes("MINOR");

/** COPY and ZEROPAGE fill guest_memfd only under vm_uffd_ops (alloc_folio + filemap_add). */
export const designFills = (d: UffdGmemDesign): boolean => d === "vm-uffd-ops";
