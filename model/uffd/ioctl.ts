// The resolving ioctls: UFFDIO_CONTINUE / COPY / ZEROPAGE / POISON (mfill_atomic), UFFDIO_WRITEPROTECT and
// UFFDIO_WAKE, each in the kernel's check order, with partial progress and the wakeup of the range they filled.
import { decodeFlags, FILL_MODE_BITS, hasOther, WRITEPROTECT_MODE_BITS } from "../../schema/flags.js";
import type { OpOf } from "../../schema/ops.js";
import type { Errno, Outcome } from "../../schema/outcome.js";
import { fill, type PageBytes } from "../bytes.js";
import { bound, isBeyond, outside, type Measured } from "../bound.js";
import { PAGE_SIZE } from "../consts.js";
import { gmemAllocFolio, gmemFolioPresent, gmemPrivateHidden } from "../gmem/uffd-ops.js";
import { ensureCached, withFile, withMap } from "../mm/fault.js";
import { mapBase } from "../mm/layout.js";
import { backingIndex, pteOf } from "../mm/pages.js";
import type { Mapping, Pte } from "../mm/types.js";
import { assign, get } from "../ranges.js";
import { rule, type Rule } from "../rules.js";
import { uffdGmemV2, v8 } from "../sources.js";
import { refuse, result, withPassed, type State, type StepResult } from "../state.js";
import { uffdTarget } from "./api.js";
import { badRange, REGISTER_RULES } from "./register.js";
import { designContinueHole, designFills, UFFD_DESIGN_RULES } from "./gmem-designs.js";
import { afterWake, wakeRange, type ThreadRunner } from "./thread.js";
import { hasMode, markersOf, memType, unitOf, vmaAt, vmasIn, withMarkers, type MemType } from "./vma.js";
import { WP_RULES, wpRange } from "./wp.js";

const FS = "fs/userfaultfd.c";
const MM = "mm/userfaultfd.c";
const RPPT08 = uffdGmemV2(8, "shmem, userfaultfd: use a VMA callback to handle UFFDIO_CONTINUE");
const RPPT09 = uffdGmemV2(9, "userfaultfd: introduce vm_uffd_ops->alloc_folio()");
const RPPT13 = uffdGmemV2(13, "KVM: guest_memfd: implement userfaultfd operations");
const PRIVATE_ASSUMPTION = `docs/GMEM.md (userfaultfd on private pages); ${RPPT13}: no private check; ${v8(1)}: the host may not map a private page`;
const PROBE = "probe on 6.18.44";

export const IOCTL_RULES = {
  badFd: rule("uffd.ioctl-ebadf", "fs/file.c (fget)", "the uffd is not an open fd; the count field is never written", "EBADF"),
  mode: rule(
    "uffd.ioctl-mode",
    `${FS} (userfaultfd_copy, _zeropage, _continue, _poison, _writeprotect, _move: mode & ~(...))`,
    "a mode bit the ioctl does not take (WP on ZEROPAGE or POISON, any unknown bit); the count field is not written",
    "EINVAL",
  ),
  noVma: rule("uffd.mfill-no-vma", `${MM} (find_dst_vma)`, "no VMA holds dst", "ENOENT"),
  vmaEnd: rule("uffd.mfill-vma-end", `${MM} (find_dst_vma); ${PROBE}`, "the range runs past the end of dst's VMA", "ENOENT"),
  unregistered: rule("uffd.mfill-unregistered", `${MM} (find_dst_vma: !vm_userfaultfd_ctx.ctx); ${PROBE}`, "dst's VMA is not registered with any userfaultfd (the mode and the ctx are not checked)", "ENOENT"),
  wpMode: rule("uffd.mfill-wp-mode", `${MM} (mfill_atomic: MFILL_ATOMIC_WP without VM_UFFD_WP); ${PROBE}`, "MODE_WP on a VMA not registered for WP", "EINVAL"),
  type: rule("uffd.mfill-type", `${MM} (mfill_atomic: neither anonymous nor shmem)`, "the VMA's memory has no userfaultfd fill support (guest_memfd on the running kernel)", "EINVAL"),
  continueAnon: rule("uffd.continue-anon", `${MM} (mfill_atomic: CONTINUE on a non-shmem VMA); 20210115190451.3135416-1-axelrasmussen@google.com`, "CONTINUE on anonymous memory", "EINVAL"),
  hugeZeropage: rule("uffd.hugetlb-zeropage", `${MM} (mfill_atomic_hugetlb)`, "ZEROPAGE on hugetlbfs", "EINVAL"),
  hugeAlign: rule("uffd.hugetlb-align", `${MM} (mfill_atomic_hugetlb)`, "dst or len not a multiple of the huge page size", "EINVAL"),
  eof: rule("uffd.mfill-eof", `${MM} (mfill_atomic_install_pte, mfill_file_over_size); mm/shmem.c (shmem_mfill_atomic_pte); ${PROBE}`, "the page lies at or beyond i_size", "EFAULT"),
  continueEof: rule(
    "uffd.continue-eof",
    `mm/shmem.c (shmem_get_folio_gfp: SGP_NOALLOC <= SGP_CACHE i_size check); ${PROBE} (mm-2026 gives EFAULT)`,
    "CONTINUE on a shmem page at or beyond i_size",
    "EINVAL",
  ),
  continueHole: rule(
    "uffd.continue-hole",
    `${MM} (mfill_atomic_pte_continue: -ENOENT becomes -EFAULT); mm/hugetlb.c (hugetlb_mfill_atomic_pte); ${RPPT08} (mfill_atomic_pte_continue: get_folio_noalloc IS_ERR_OR_NULL, -EFAULT)`,
    "CONTINUE where the page cache has no page",
    "EFAULT",
  ),
  privateContinue: rule(
    "faultline.uffd-gmem-private-continue",
    PRIVATE_ASSUMPTION,
    "faultline's assumption: CONTINUE on a private guest_memfd page fails as on a hole; the series would map the private page",
    "EFAULT",
  ),
  ptePresent: rule("uffd.mfill-pte-exists", `${MM} (mfill_atomic_install_pte: !pte_none_mostly); mm/hugetlb.c (huge_pte_none_mostly)`, "a PTE is already present (markers may be overwritten)", "EEXIST"),
  pteNotNone: rule("uffd.mfill-pte-not-none", `${MM} (mfill_atomic_pte_zeropage, mfill_atomic_pte_poison: !pte_none); ${PROBE}`, "ZEROPAGE and POISON need a none PTE: a marker counts as present", "EEXIST"),
  cached: rule(
    "uffd.mfill-page-cached",
    `mm/shmem.c (shmem_mfill_atomic_pte: shmem_add_to_page_cache); mm/hugetlb.c (hugetlbfs_pagecache_present); ${RPPT13} (kvm_gmem_filemap_add: filemap_add_folio)`,
    "COPY or ZEROPAGE into a shared mapping whose page cache already holds the page",
    "EEXIST",
  ),
  gmemAlloc: rule(
    "uffd.gmem-alloc",
    `${RPPT13} (kvm_gmem_folio_alloc: pgoff >= i_size, NULL); ${RPPT09} (__mfill_atomic_pte: no folio, -ENOMEM)`,
    "guest_memfd COPY/ZEROPAGE at or beyond i_size: alloc_folio gives no folio",
    "ENOMEM",
  ),
  privateFill: rule(
    "faultline.uffd-gmem-private-fill",
    PRIVATE_ASSUMPTION,
    "faultline's assumption: COPY/ZEROPAGE onto a private guest_memfd page fails as past i_size; the series would allocate and map it",
    "ENOMEM",
  ),
  continue: rule("uffd.continue", `${MM} (mfill_atomic_pte_continue, mfill_atomic_install_pte)`, "CONTINUE maps the page-cache page: writable iff shared, VM_WRITE and not MODE_WP; a private mapping gets it read-only"),
  copy: rule("uffd.copy", `${MM} (mfill_atomic_pte_copy); mm/shmem.c (shmem_mfill_atomic_pte)`, "COPY installs a new page: a private copy in private mappings, a new page-cache page in shared ones"),
  zeropage: rule("uffd.zeropage", `${MM} (mfill_atomic_pte_zeropage); mm/shmem.c (shmem_mfill_atomic_pte)`, "ZEROPAGE maps the zero page privately, or adds a zeroed page-cache page to a shared mapping"),
  poison: rule("uffd.poison", `${MM} (mfill_atomic_pte_poison)`, "POISON installs a poison marker: later accesses SIGBUS"),
  partial: rule("uffd.mfill-partial", `${FS} (userfaultfd_continue etc.: ret != len)`, "a page failed after others were filled: EAGAIN with the byte count written back", "EAGAIN"),
  wpBoth: rule("uffd.writeprotect-mode", `${FS} (userfaultfd_writeprotect); ${PROBE}`, "WP and DONTWAKE together", "EINVAL"),
  wpNoVma: rule("uffd.writeprotect-no-vma", `${MM} (mwriteprotect_range); ${PROBE}`, "no VMA in range", "ENOENT"),
  wpNotWp: rule("uffd.writeprotect-not-wp", `${MM} (mwriteprotect_range: !userfaultfd_wp); 20210115190451.3135416-1-axelrasmussen@google.com; ${PROBE}`, "a VMA in range is not registered for WP (earlier VMAs were already changed)", "ENOENT"),
  wpHuge: rule("uffd.writeprotect-huge-align", `${MM} (mwriteprotect_range)`, "a hugetlbfs VMA with start or len not huge-page aligned", "EINVAL"),
  writeprotect: rule("uffd.writeprotect", `${MM} (mwriteprotect_range, uffd_wp_range)`, "the range is write-protected, or resolved (and woken unless DONTWAKE)"),
  wake: rule("uffd.wake", `${FS} (userfaultfd_wake, wake_userfault)`, "sleepers whose message address lies in the range are woken"),
};

export const ERRNO_NUMBER: Readonly<Partial<Record<Errno, number>>> = { ENOENT: 2, EIO: 5, EAGAIN: 11, ENOMEM: 12, EFAULT: 14, EEXIST: 17, EINVAL: 22 };

type MfillOp = OpOf<"uffdio_continue"> | OpOf<"uffdio_copy"> | OpOf<"uffdio_zeropage"> | OpOf<"uffdio_poison">;
type Kind = "continue" | "copy" | "zeropage" | "poison";
const KIND: Readonly<Record<MfillOp["op"], Kind>> = { uffdio_continue: "continue", uffdio_copy: "copy", uffdio_zeropage: "zeropage", uffdio_poison: "poison" };
export const COUNT_FIELD = { uffdio_continue: "mapped", uffdio_copy: "copy", uffdio_zeropage: "zeropage", uffdio_poison: "updated" } as const;
const TAKES_WP: Readonly<Record<Kind, boolean>> = { continue: true, copy: true, zeropage: false, poison: false };
const DONE: Readonly<Record<Kind, Rule>> = { continue: IOCTL_RULES.continue, copy: IOCTL_RULES.copy, zeropage: IOCTL_RULES.zeropage, poison: IOCTL_RULES.poison };

/** What one page (or huge page) of an mfill did: the new state, or the rule that stopped the loop. */
/** One page of an mfill: done, or stopped by a rule (after the bounded checks in `passed` passed on that page). */
type PageStep = { readonly ok: true; readonly state: State; readonly fired?: Rule } | { readonly ok: false; readonly rule: Rule; readonly passed?: readonly Rule[] };
const stop = (r: Rule, passed?: readonly Rule[]): PageStep => (passed === undefined ? { ok: false, rule: r } : { ok: false, rule: r, passed });

interface Fill {
  readonly kind: Kind;
  readonly map: Mapping;
  readonly type: MemType;
  readonly wp: boolean;
  /** The source page for COPY (filled with the op's byte); undefined is all zero. */
  readonly data: PageBytes | undefined;
}

const fileSize = (s: State, m: Mapping): number | undefined =>
  m.backing.kind === "memfd" ? s.mm.files[m.backing.file]!.size : m.backing.kind === "gmem" ? s.gmem.inodes[m.backing.inode]!.size : undefined;

/** A page's start in the backing file against i_size (undefined for anonymous memory). */
function eofOf(s: State, m: Mapping, index: number): Measured | undefined {
  const size = fileSize(s, m);
  return size === undefined ? undefined : { value: backingIndex(m, index) * PAGE_SIZE, limit: size };
}

const pastEof = (s: State, m: Mapping, index: number): boolean => isBeyond(IOCTL_BOUNDS.eof, eofOf(s, m, index));

/** The last page of an mfill's range: its start against i_size, and its end against the end of the VMA it starts in. */
function lastPage(s: State, op: MfillOp): { m: Mapping; start: number; n: number } | undefined {
  const m = s.mm.maps.get(op.map);
  return m === undefined || op.len === 0 || op.offset % PAGE_SIZE !== 0 || op.len % PAGE_SIZE !== 0 ? undefined : { m, start: op.offset / PAGE_SIZE, n: op.len / PAGE_SIZE };
}

const MFILL_OPS = ["uffdio_continue", "uffdio_copy", "uffdio_zeropage", "uffdio_poison"] as const;

export const IOCTL_BOUNDS = {
  vmaEnd: bound({
    rule: IOCTL_RULES.vmaEnd,
    ops: MFILL_OPS,
    unit: 1,
    unitName: "page",
    limitName: "the end of dst's VMA",
    accepts: "le",
    measure: (s, op: MfillOp) => {
      const p = lastPage(s, op);
      const vma = p === undefined ? undefined : vmaAt(p.m, p.start);
      return p === undefined || vma === undefined ? undefined : { value: p.start + p.n, limit: vma.end };
    },
  }),
  eof: bound({
    rule: IOCTL_RULES.eof,
    ops: ["uffdio_copy", "uffdio_zeropage", "uffdio_poison"],
    unit: PAGE_SIZE,
    unitName: "page",
    limitName: "i_size",
    accepts: "lt",
    measure: (s, op: MfillOp) => {
      const p = lastPage(s, op);
      return p === undefined ? undefined : eofOf(s, p.m, p.start + p.n - 1);
    },
  }),
  continueEof: bound({
    rule: IOCTL_RULES.continueEof,
    ops: ["uffdio_continue"],
    unit: PAGE_SIZE,
    unitName: "page",
    limitName: "i_size (shmem)",
    accepts: "lt",
    measure: (s, op: MfillOp) => {
      const p = lastPage(s, op);
      return p === undefined || memType(s, p.m) !== "shmem" ? undefined : eofOf(s, p.m, p.start + p.n - 1);
    },
  }),
};

function fileCached(s: State, m: Mapping, index: number): boolean {
  if (m.backing.kind === "memfd") return get(s.mm.files[m.backing.file]!.present, backingIndex(m, index)) === true;
  if (m.backing.kind === "gmem") return gmemFolioPresent(s, m.backing.inode, backingIndex(m, index));
  return false;
}

/** mfill_atomic_install_pte: maps pages [a, b), clearing any marker; MODE_WP write-protects them. */
function install(s: State, m: Mapping, a: number, b: number, target: Pte["target"], wp: boolean): State {
  const writable = m.prot === "rw" && target !== "zero" && !(target === "file" && !m.shared) && !wp;
  const current = s.mm.maps.get(m.id)!;
  const pte = pteOf(current, a, target, wp ? false : writable, wp);
  return withMap(s, withMarkers({ ...current, ptes: assign(current.ptes, a, b, pte) }, assign(markersOf(current), a, b, undefined)));
}

/** Stores data (or zero) into keys [a, b) of a page map, with one copy of the map. */
function storeRange(m: ReadonlyMap<number, PageBytes>, a: number, b: number, key: (i: number) => number, data: PageBytes | undefined): ReadonlyMap<number, PageBytes> {
  const out = new Map(m);
  for (let i = a; i < b; i++) {
    if (data === undefined) out.delete(key(i));
    else out.set(key(i), data);
  }
  return out;
}

/** A new private page per mapping page of [a, b) holding data (COPY into a private mapping). */
function privatePages(s: State, m: Mapping, a: number, b: number, data: PageBytes | undefined): State {
  const current = s.mm.maps.get(m.id)!;
  return withMap(s, { ...current, anon: assign(current.anon, a, b, true), anonData: storeRange(current.anonData, a, b, (i) => i, data) });
}

/** A new page-cache page for the file pages behind [a, b) holding data (COPY / ZEROPAGE into a shared mapping). */
function cachePages(s: State, m: Mapping, a: number, b: number, data: PageBytes | undefined): State {
  if (m.backing.kind === "gmem") return gmemAllocFolio(s, m.backing.inode, backingIndex(m, a), data);
  if (m.backing.kind !== "memfd") throw new Error("cachePages on anonymous memory");
  const file = ensureCached(s.mm.files[m.backing.file]!, backingIndex(m, a));
  return withFile(s, m.backing.file, { ...file, data: storeRange(file.data, a, b, (i) => backingIndex(m, i), data) });
}

/** One page of an mfill on anonymous, shmem or guest_memfd memory. */
function fillPage(s: State, f: Fill, i: number): PageStep {
  const m = s.mm.maps.get(f.map.id)!;
  const pte = get(m.ptes, i);
  const marker = get(markersOf(m), i);
  const shared = m.shared && f.type !== "anon";
  if (f.kind === "continue") {
    if (f.type === "shmem" && isBeyond(IOCTL_BOUNDS.continueEof, eofOf(s, m, i))) return stop(IOCTL_RULES.continueEof);
    const eofPassed = f.type === "shmem" ? [IOCTL_RULES.continueEof] : [];
    // The older guest_memfd designs allocate a hole's folio on the way (a fault, or guestmem_grab_folio).
    const grabbed = m.backing.kind === "gmem" && !fileCached(s, m, i) ? designContinueHole(s, m.backing.inode, backingIndex(m, i)) : undefined;
    if (grabbed !== undefined) {
      if (pte !== undefined) return stop(IOCTL_RULES.ptePresent);
      return { ok: true, state: install(grabbed.state, m, i, i + 1, "file", f.wp), fired: grabbed.rule };
    }
    if (!fileCached(s, m, i)) return stop(IOCTL_RULES.continueHole, eofPassed);
    if (m.backing.kind === "gmem" && gmemPrivateHidden(s, m.backing.inode, backingIndex(m, i))) return stop(IOCTL_RULES.privateContinue);
    if (pte !== undefined) return stop(IOCTL_RULES.ptePresent, eofPassed);
    // shmem_get_folio(SGP_NOALLOC) initializes a falloced folio (marks it uptodate) before it is mapped.
    const ready = m.backing.kind === "memfd" ? withFile(s, m.backing.file, ensureCached(s.mm.files[m.backing.file]!, backingIndex(m, i))) : s;
    return { ok: true, state: install(ready, m, i, i + 1, "file", f.wp) };
  }
  if (f.kind === "poison" || (f.kind === "zeropage" && !shared)) {
    if (pastEof(s, m, i)) return stop(IOCTL_RULES.eof);
    if (pte !== undefined || marker !== undefined) return stop(IOCTL_RULES.pteNotNone);
    if (f.kind === "zeropage") return { ok: true, state: install(s, m, i, i + 1, "zero", false) };
    return { ok: true, state: withMap(s, withMarkers(m, assign(markersOf(m), i, i + 1, "poison"))) };
  }
  const data = f.kind === "copy" ? f.data : undefined;
  if (!shared) {
    if (pastEof(s, m, i)) return stop(IOCTL_RULES.eof);
    if (pte !== undefined) return stop(IOCTL_RULES.ptePresent);
    return { ok: true, state: install(privatePages(s, m, i, i + 1, data), m, i, i + 1, "anon", f.wp) };
  }
  if (f.type === "gmem") {
    if (pastEof(s, m, i)) return stop(IOCTL_RULES.gmemAlloc);
    if (gmemPrivateHidden(s, (m.backing as { inode: number }).inode, backingIndex(m, i))) return stop(IOCTL_RULES.privateFill);
    if (fileCached(s, m, i)) return stop(IOCTL_RULES.cached);
  } else {
    if (pastEof(s, m, i)) return stop(IOCTL_RULES.eof);
    if (fileCached(s, m, i)) return stop(IOCTL_RULES.cached);
  }
  return { ok: true, state: install(cachePages(s, m, i, i + 1, data), m, i, i + 1, "file", f.wp) };
}

/** One huge page [a, a+unit) of an mfill on hugetlbfs (hugetlb_mfill_atomic_pte). */
function fillHuge(s: State, f: Fill, a: number, unit: number): PageStep {
  const m = s.mm.maps.get(f.map.id)!;
  const pte = get(m.ptes, a);
  const marker = get(markersOf(m), a);
  if (f.kind !== "continue" && pte !== undefined) return stop(IOCTL_RULES.ptePresent);
  if (f.kind === "poison") {
    if (marker !== undefined) return stop(IOCTL_RULES.pteNotNone);
    return { ok: true, state: withMap(s, withMarkers(m, assign(markersOf(m), a, a + unit, "poison"))) };
  }
  if (f.kind === "continue") {
    if (!fileCached(s, m, a)) return stop(IOCTL_RULES.continueHole);
    if (pastEof(s, m, a)) return stop(IOCTL_RULES.eof);
    if (pte !== undefined) return stop(IOCTL_RULES.ptePresent);
    return { ok: true, state: install(s, m, a, a + unit, "file", f.wp) };
  }
  if (m.shared && fileCached(s, m, a)) return stop(IOCTL_RULES.cached);
  if (pastEof(s, m, a)) return stop(IOCTL_RULES.eof);
  if (m.shared) return { ok: true, state: install(cachePages(s, m, a, a + unit, f.data), m, a, a + unit, "file", f.wp) };
  return { ok: true, state: install(privatePages(s, m, a, a + unit, f.data), m, a, a + unit, "anon", f.wp) };
}

interface Filled {
  readonly state: State;
  readonly bytes: number;
  /** Rules a filled page fired on the way (a design's allocation). */
  readonly along?: readonly Rule[];
  readonly stoppedBy?: Rule;
  /** Bounded checks the stopping page passed. */
  readonly passed?: readonly Rule[];
}

/** mfill_atomic: the target VMA checks, then page by page until the first failure. */
function mfillAtomic(s: State, op: MfillOp, kind: Kind): Filled {
  const failed = (r: Rule): Filled => ({ state: s, bytes: 0, stoppedBy: r });
  const m = s.mm.maps.get(op.map);
  const start = op.offset / PAGE_SIZE;
  const n = op.len / PAGE_SIZE;
  const vma = m === undefined ? undefined : vmaAt(m, start);
  if (m === undefined || vma === undefined) return failed(IOCTL_RULES.noVma);
  if (outside(IOCTL_BOUNDS.vmaEnd, s, op)) return failed(IOCTL_RULES.vmaEnd);
  if (vma.reg === undefined) return failed(IOCTL_RULES.unregistered);
  const wp = fillMode(op).names.includes("WP");
  if (wp && !hasMode(vma.reg, "WP")) return failed(IOCTL_RULES.wpMode);
  const type = memType(s, m);
  const unit = unitOf(s, m);
  if (type === "hugetlb" && kind === "zeropage") return failed(IOCTL_RULES.hugeZeropage);
  if (type === "hugetlb" && (start % unit !== 0 || n % unit !== 0)) return failed(IOCTL_RULES.hugeAlign);
  if (type === "gmem" && !s.config.kernel.uffdGuestMemfd) return failed(IOCTL_RULES.type);
  if (type === "gmem" && (kind === "copy" || kind === "zeropage") && !designFills(s.config.uffdGmemDesign)) return failed(UFFD_DESIGN_RULES.fillUnsupported);
  if (type === "anon" && kind === "continue") return failed(IOCTL_RULES.continueAnon);
  const byte = op.op === "uffdio_copy" ? (op.byte ?? 0) : 0;
  const f: Fill = { kind, map: m, type, wp, data: byte === 0 ? undefined : fill(undefined, 0, PAGE_SIZE, byte) };
  let state = s;
  const along: Rule[] = [];
  for (let i = start; i < start + n; i += unit) {
    const r = unit > 1 ? fillHuge(state, f, i, unit) : fillPage(state, f, i);
    // What the stopping page passed counts for the range's bounds only when it is the range's last page.
    const last = i + unit >= start + n;
    if (!r.ok) return { state, bytes: (i - start) * PAGE_SIZE, stoppedBy: r.rule, along, ...(r.passed === undefined || !last ? {} : { passed: r.passed }) };
    state = r.state;
    if (r.fired !== undefined && !along.includes(r.fired)) along.push(r.fired);
  }
  return { state, bytes: op.len, along };
}

/** The mode word of COPY, CONTINUE, ZEROPAGE and POISON (WP is bit 1 in all four; only COPY and CONTINUE take it). */
export const fillMode = (op: MfillOp) => decodeFlags(op.mode, FILL_MODE_BITS);
export const writeprotectMode = (op: OpOf<"uffdio_writeprotect">) => decodeFlags(op.mode, WRITEPROTECT_MODE_BITS);

const countOutcome = (op: MfillOp, errno: Errno | undefined, count: number | null): Outcome =>
  errno === undefined ? { result: "ok", [COUNT_FIELD[op.op]]: count } : { errno, [COUNT_FIELD[op.op]]: count };

/** userfaultfd_continue / _copy / _zeropage / _poison: prologue, mfill_atomic, count write-back, wakeup. */
export function mfill(s: State, op: MfillOp, run: ThreadRunner): StepResult {
  const kind = KIND[op.op];
  const unwritten = (r: Rule): StepResult => result(s, countOutcome(op, r.errno, null), r);
  const fd = uffdTarget(s, op.uffd, IOCTL_RULES.badFd);
  if (!fd.ok) return unwritten(fd.rule);
  const ctx = fd.id;
  if (badRange(s, op.map, op.offset, op.len)) return unwritten(REGISTER_RULES.range);
  const mode = fillMode(op);
  if (hasOther(mode, TAKES_WP[kind] ? ["DONTWAKE", "WP"] : ["DONTWAKE"])) return unwritten(IOCTL_RULES.mode);
  const r = mfillAtomic(s, op, kind);
  if (r.bytes === 0) {
    const errno = r.stoppedBy!.errno!;
    return withPassed(result(s, countOutcome(op, errno, -ERRNO_NUMBER[errno]!), r.stoppedBy!), [REGISTER_RULES.range, ...(r.passed ?? [])]);
  }
  const partial = r.bytes < op.len;
  const along = r.along ?? [];
  const res = partial
    ? withPassed(result(r.state, countOutcome(op, "EAGAIN", r.bytes), DONE[kind], ...along, r.stoppedBy!, IOCTL_RULES.partial), r.passed ?? [])
    : result(r.state, countOutcome(op, undefined, r.bytes), DONE[kind], ...along);
  if (mode.names.includes("DONTWAKE")) return res;
  const base = mapBase(op.map) + op.offset;
  return afterWake(res, wakeRange(res.state, ctx, base, base + r.bytes, run));
}

export function writeprotect(s: State, op: OpOf<"uffdio_writeprotect">, run: ThreadRunner): StepResult {
  const fd = uffdTarget(s, op.uffd, IOCTL_RULES.badFd);
  if (!fd.ok) return refuse(s, fd.rule);
  const ctx = fd.id;
  if (badRange(s, op.map, op.offset, op.len)) return refuse(s, REGISTER_RULES.range);
  const mode = writeprotectMode(op);
  if (mode.unknown.length > 0) return refuse(s, IOCTL_RULES.mode);
  const enable = mode.names.includes("WP");
  const dontwake = mode.names.includes("DONTWAKE");
  if (enable && dontwake) return refuse(s, IOCTL_RULES.wpBoth);
  const m = s.mm.maps.get(op.map);
  const start = op.offset / PAGE_SIZE;
  const end = start + op.len / PAGE_SIZE;
  const vmas = m === undefined ? [] : vmasIn(m, start, end);
  if (m === undefined || vmas.length === 0) return withPassed(refuse(s, IOCTL_RULES.wpNoVma), [REGISTER_RULES.range]);
  const unit = unitOf(s, m);
  let next = s;
  for (const v of vmas) {
    if (!hasMode(v.reg, "WP")) return result(next, { errno: "ENOENT" }, IOCTL_RULES.wpNotWp);
    if (unit > 1 && (start % unit !== 0 || (end - start) % unit !== 0)) return result(next, { errno: "EINVAL" }, IOCTL_RULES.wpHuge);
    const owner = s.uffd.ctxs[v.reg!.ctx]!;
    next = wpRange(next, next.mm.maps.get(m.id)!, Math.max(v.start, start), Math.min(v.end, end), enable, owner.features.includes("WP_UNPOPULATED"));
  }
  const res = result(next, { result: "ok" }, IOCTL_RULES.writeprotect, enable ? WP_RULES.protect : WP_RULES.resolve);
  if (enable || dontwake) return res;
  return afterWake(res, wakeRange(next, ctx, mapBase(op.map) + op.offset, mapBase(op.map) + op.offset + op.len, run));
}

export function wake(s: State, op: OpOf<"uffdio_wake">, run: ThreadRunner): StepResult {
  const fd = uffdTarget(s, op.uffd, IOCTL_RULES.badFd);
  if (!fd.ok) return refuse(s, fd.rule);
  const ctx = fd.id;
  if (badRange(s, op.map, op.offset, op.len)) return refuse(s, REGISTER_RULES.range);
  const start = mapBase(op.map) + op.offset;
  return afterWake(result(s, { result: "ok" }, IOCTL_RULES.wake), wakeRange(s, ctx, start, start + op.len, run));
}

