// Which faults userfaultfd takes, and what handle_userfault does with them: queue a message and put the thread to
// sleep, or SIGBUS. Kept free of the fault paths themselves, which call in here at the kernel's hook points.
import { BUS_ADRERR, type FaultFlagName, type SignalOutcome } from "../../schema/outcome.js";
import { PAGE_SIZE } from "../consts.js";
import { gmemFolioPresent, gmemPrivateHidden } from "../gmem/uffd-ops.js";
import type { Mapping } from "../mm/types.js";
import { get } from "../ranges.js";
import { rule, type Rule } from "../rules.js";
import { uffdGmemV2, v8 } from "../sources.js";
import type { State } from "../state.js";
import { designFault } from "./gmem-designs.js";
import type { Message } from "./types.js";
import { hasMode, memType, regAt, unitOf } from "./vma.js";

const FS = "fs/userfaultfd.c";
const RPPT12 = `${uffdGmemV2(12, "mm: generalize handling of userfaults in __do_fault()")} (__do_userfault)`;
const RPPT13 = `${uffdGmemV2(13, "KVM: guest_memfd: implement userfaultfd operations")} (kvm_gmem_get_folio_noalloc)`;

export const UFFD_FAULT_RULES = {
  missingAnon: rule("uffd.fault-missing-anon", "mm/memory.c (do_anonymous_page: userfaultfd_missing)", "a none PTE in a MISSING-registered anonymous VMA: MISSING message"),
  minorFile: rule("uffd.fault-minor", "mm/shmem.c (shmem_get_folio_gfp); mm/hugetlb.c (hugetlb_no_page)", "a none PTE, the page in the page cache, MINOR registered: MINOR message"),
  missingFile: rule("uffd.fault-missing-file", "mm/shmem.c (shmem_get_folio_gfp); mm/hugetlb.c (hugetlb_no_page)", "a none PTE, no page in the page cache, MISSING registered: MISSING message"),
  gmem: rule("uffd.fault-gmem", `${RPPT12}; ${RPPT13}`, "guest_memfd (mm-2026 design): a folio in the file gives MINOR, none gives MISSING, before ->fault"),
  gmemPrivate: rule(
    "faultline.uffd-gmem-private-fault",
    `docs/GMEM.md (userfaultfd on private pages); ${RPPT13}: no private check; ${v8(1)}: the host may not map a private page`,
    "faultline's assumption: a private guest_memfd page is as absent to userfaultfd as one past i_size, so its folio gives MISSING, never MINOR",
  ),
  wp: rule("uffd.fault-wp", "mm/memory.c (do_wp_page: userfaultfd_pte_wp); mm/hugetlb.c (hugetlb_fault)", "a write to a uffd-wp PTE in a WP-registered VMA: WP message"),
  wpAsync: rule("uffd.fault-wp-async", "mm/memory.c (do_wp_page: userfaultfd_wp_async)", "WP_ASYNC: the uffd-wp bit is cleared and the write goes on, no message"),
  sigbusFeature: rule("uffd.fault-sigbus-feature", `${FS} (handle_userfault: UFFD_FEATURE_SIGBUS)`, "the ctx asked for UFFD_FEATURE_SIGBUS: VM_FAULT_SIGBUS, a SIGBUS with BUS_ADRERR, no message"),
  userModeOnly: rule("uffd.fault-user-mode-only", `${FS} (handle_userfault: UFFD_USER_MODE_ONLY)`, "a kernel-mode fault (GUP) on a USER_MODE_ONLY ctx: SIGBUS, no message"),
  sleep: rule("uffd.fault-sleep", `${FS} (handle_userfault, userfault_msg)`, "the message is queued and the thread sleeps until a wakeup covers its address; address masked unless EXACT_ADDRESS"),
};

export type Reason = "MISSING" | "MINOR" | "WP";

/** Where a fault comes from: the byte offset in the page (for EXACT_ADDRESS), and whether it is a user-mode fault. */
export interface Origin {
  readonly inPage: number;
  readonly user: boolean;
}
export const USER_FAULT: Origin = { inPage: 0, user: true };
/** KVM's GUP of a memslot hva: page aligned, FAULT_FLAG_USER clear. */
export const GUP_FAULT: Origin = { inPage: 0, user: false };

export interface Userfault {
  readonly kind: "userfault";
  readonly msg: Message;
  /** The state the thread sleeps in: what earlier passes of the fault did (a page mapped through a marker) stays. */
  readonly state: State;
  readonly fired: readonly Rule[];
}
export type UserfaultVerdict = Userfault | { readonly kind: "signal"; readonly signal: SignalOutcome; readonly fired: readonly Rule[] };

/** The page-cache presence a fault on a none PTE looks up, per memory type (folio lookup before allocation). */
function pageCached(s: State, m: Mapping, index: number): boolean {
  const b = m.backing;
  if (b.kind === "anon") return false;
  const fileIndex = b.offset / PAGE_SIZE + index;
  if (b.kind === "memfd") return get(s.mm.files[b.file]!.present, fileIndex) === true;
  return gmemFolioPresent(s, b.inode, fileIndex) && !gmemPrivateHidden(s, b.inode, fileIndex);
}

/** The folio of a private guest_memfd page that the assumption hides (its MISSING is faultline's, not the series'). */
function hiddenFolio(s: State, m: Mapping, index: number): boolean {
  const b = m.backing;
  if (b.kind !== "gmem") return false;
  const fileIndex = b.offset / PAGE_SIZE + index;
  return gmemFolioPresent(s, b.inode, fileIndex) && gmemPrivateHidden(s, b.inode, fileIndex);
}

/**
 * The message a fault on a none PTE (or marker) raises, with the rule that says so, if the VMA asks for one; `state` is
 * what the fault did before it asked (the older guest_memfd designs allocate the folio first).
 */
export function noneReason(s: State, m: Mapping, index: number): { reason: "MISSING" | "MINOR"; rule: Rule; state?: State } | undefined {
  const reg = regAt(m, index);
  if (reg === undefined) return undefined;
  const type = memType(s, m);
  if (type === "anon") return hasMode(reg, "MISSING") ? { reason: "MISSING", rule: UFFD_FAULT_RULES.missingAnon } : undefined;
  if (type === "gmem" && s.config.uffdGmemDesign !== "vm-uffd-ops") return designFault(s, m, index, reg);
  const cached = pageCached(s, m, index);
  if (cached && hasMode(reg, "MINOR")) return { reason: "MINOR", rule: type === "gmem" ? UFFD_FAULT_RULES.gmem : UFFD_FAULT_RULES.minorFile };
  if (!cached && hasMode(reg, "MISSING")) {
    if (type !== "gmem") return { reason: "MISSING", rule: UFFD_FAULT_RULES.missingFile };
    return { reason: "MISSING", rule: hiddenFolio(s, m, index) ? UFFD_FAULT_RULES.gmemPrivate : UFFD_FAULT_RULES.gmem };
  }
  return undefined;
}

const FLAG_OF: Readonly<Record<Reason, FaultFlagName[]>> = { MISSING: [], MINOR: ["MINOR"], WP: ["WP"] };

/** handle_userfault: SIGBUS for a SIGBUS ctx or a kernel fault on a USER_MODE_ONLY ctx, else a message and sleep. */
export function handleUserfault(s: State, m: Mapping, index: number, reason: Reason, write: boolean, origin: Origin, why: Rule): UserfaultVerdict {
  const ctxId = regAt(m, index)!.ctx;
  const ctx = s.uffd.ctxs[ctxId]!;
  if (ctx.features.includes("SIGBUS")) return { kind: "signal", signal: BUS_ADRERR, fired: [why, UFFD_FAULT_RULES.sigbusFeature] };
  if (ctx.userModeOnly && !origin.user) return { kind: "signal", signal: BUS_ADRERR, fired: [why, UFFD_FAULT_RULES.userModeOnly] };
  const unit = unitOf(s, m) * PAGE_SIZE;
  const at = index * PAGE_SIZE + origin.inPage;
  const offset = ctx.features.includes("EXACT_ADDRESS") ? at : Math.floor(at / unit) * unit;
  const flags: FaultFlagName[] = [...(write ? (["WRITE"] as const) : []), ...FLAG_OF[reason]];
  return { kind: "userfault", msg: { ctx: ctxId, address: m.base + offset, flags }, state: s, fired: [why, UFFD_FAULT_RULES.sleep] };
}
