// UFFDIO_MOVE: userfaultfd_move's prologue, then move_pages: both VMAs found and validated (private, within one VMA
// each, same protection, writable, anonymous, the destination registered with this ctx), then page by page the
// source PTE goes to the destination, a hole skipped or refused, until the first failure.
import { decodeFlags, MOVE_MODE_BITS } from "../../schema/flags.js";
import type { OpOf } from "../../schema/ops.js";
import type { Errno, Outcome } from "../../schema/outcome.js";
import { PAGE_SIZE } from "../consts.js";
import { withoutKeysIn } from "../immutable.js";
import { invalidateHva } from "../kvm/mmu.js";
import { withMap } from "../mm/fault.js";
import { pteOf } from "../mm/pages.js";
import { mapBase } from "../mm/layout.js";
import type { Mapping, Pte } from "../mm/types.js";
import { assign, get } from "../ranges.js";
import { rule, type Rule } from "../rules.js";
import { result, type State, type StepResult } from "../state.js";
import { uffdTarget } from "./api.js";
import { ERRNO_NUMBER, IOCTL_RULES } from "./ioctl.js";
import { badRange, REGISTER_RULES } from "./register.js";
import { afterWake, wakeRange, type ThreadRunner } from "./thread.js";
import { markersOf, memType, vmaAt, type Vma } from "./vma.js";

const FS = "fs/userfaultfd.c (userfaultfd_move)";
const MM = "mm/userfaultfd.c";
const PROBE = "probe on 6.18.44";

export const MOVE_RULES = {
  noVma: rule("uffd.move-no-vma", `${MM} (uffd_move_lock, find_vmas_mm_locked); ${PROBE}`, "no VMA holds dst, or none holds src", "ENOENT"),
  shared: rule(
    "uffd.move-shared",
    `${MM} (move_pages: VM_SHARED); ${PROBE}`,
    "src or dst is a shared mapping (shmem, hugetlbfs, guest_memfd, MAP_SHARED | MAP_ANONYMOUS)",
    "EINVAL",
  ),
  vmaEnd: rule(
    "uffd.move-vma-end",
    `${MM} (move_pages: src_start + len > src_vma->vm_end, likewise dst); ${PROBE}`,
    "the range runs past the end of src's VMA or dst's",
    "EINVAL",
  ),
  prot: rule(
    "uffd.move-prot",
    `${MM} (validate_move_areas: VM_ACCESS_FLAGS and vm_page_prot differ, or !VM_WRITE); ${PROBE}`,
    "src and dst differ in protection, or are not writable",
    "EINVAL",
  ),
  hugetlb: rule(
    "uffd.move-hugetlb",
    `${MM} (validate_move_areas: vma_move_compatible, VM_HUGETLB)`,
    "src or dst is hugetlbfs (a private mapping of it)",
    "EINVAL",
  ),
  dstCtx: rule(
    "uffd.move-dst-ctx",
    `${MM} (validate_move_areas: dst_vma->vm_userfaultfd_ctx.ctx != ctx); ${PROBE}`,
    "dst's VMA is not registered with this userfaultfd",
    "EINVAL",
  ),
  notAnon: rule(
    "uffd.move-not-anon",
    `${MM} (validate_move_areas: vma_is_anonymous); ${PROBE}`,
    "src or dst is not anonymous memory (a MAP_PRIVATE file mapping)",
    "EINVAL",
  ),
  dstExists: rule(
    "uffd.move-dst-exists",
    `${MM} (move_pages_pte: !pte_none(orig_dst_pte)); ${PROBE}`,
    "a dst page is mapped or carries a marker",
    "EEXIST",
  ),
  srcHole: rule(
    "uffd.move-src-hole",
    `${MM} (move_pages, move_pages_pte: pte_none(orig_src_pte) without UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES); ${PROBE}`,
    "a src page is not mapped and ALLOW_SRC_HOLES was not asked for (with it the hole is skipped and counted)",
    "ENOENT",
  ),
  srcMarker: rule(
    "uffd.move-src-marker",
    `${MM} (move_pages_pte: a non-swap entry is neither a migration entry nor present); ${PROBE}`,
    "a src page carries a marker (poison)",
    "EFAULT",
  ),
  move: rule(
    "uffd.move",
    `${MM} (move_present_pte, move_zeropage_pte); ${FS}; ${PROBE}`,
    "each src PTE moves to dst (an anonymous page stays the same page, writable and without uffd-wp; the zero page " +
      "stays the zero page), src is left none, KVM hears of src",
  ),
};

/** What one page of the move did: the new state, and the rule that stopped the loop if it did. */
interface PageStep {
  readonly state: State;
  readonly stop?: Rule;
}

/** VM_SHARED: a shared mapping, unless do_mmap cleared it for a read-only fd. */
const vmShared = (m: Mapping): boolean => m.shared && m.fdReadOnly !== true;

/** move_pages' checks of the two VMAs, in its order, after both were found. */
/** One side of a move: its mapping, the VMA holding its first page, and that page. */
interface Side {
  readonly m: Mapping;
  readonly vma: Vma;
  readonly start: number;
}

function validateAreas(s: State, ctx: number, src: Side, dst: Side, n: number): Rule | undefined {
  if (vmShared(src.m)) return MOVE_RULES.shared;
  if (src.start + n > src.vma.end) return MOVE_RULES.vmaEnd;
  if (vmShared(dst.m)) return MOVE_RULES.shared;
  if (dst.start + n > dst.vma.end) return MOVE_RULES.vmaEnd;
  // validate_move_areas: access flags and pgprot (equal for equal prot on private mappings), then VM_WRITE.
  if (src.m.prot !== dst.m.prot || src.m.prot !== "rw") return MOVE_RULES.prot;
  if (memType(s, src.m) === "hugetlb" || memType(s, dst.m) === "hugetlb") return MOVE_RULES.hugetlb;
  if (dst.vma.reg?.ctx !== ctx) return MOVE_RULES.dstCtx;
  if (src.m.backing.kind !== "anon" || dst.m.backing.kind !== "anon") return MOVE_RULES.notAnon;
  return undefined;
}

/** move_pages_pte for one page: KVM hears of the src page first (the notifier range starts before the checks). */
function movePage(st: State, dstId: string, d: number, srcId: string, si: number, holes: boolean): PageStep {
  const srcBase = st.mm.maps.get(srcId)!.base + si * PAGE_SIZE;
  const s = invalidateHva(st, srcBase, srcBase + PAGE_SIZE);
  const dm = s.mm.maps.get(dstId)!;
  if (get(dm.ptes, d) !== undefined || get(markersOf(dm), d) !== undefined) return { state: s, stop: MOVE_RULES.dstExists };
  const sm = s.mm.maps.get(srcId)!;
  const pte = get(sm.ptes, si);
  if (pte === undefined) {
    if (get(markersOf(sm), si) !== undefined) return { state: s, stop: MOVE_RULES.srcMarker };
    return holes ? { state: s } : { state: s, stop: MOVE_RULES.srcHole };
  }
  const data = sm.anonData.get(si);
  const emptied = withMap(s, {
    ...sm,
    ptes: assign(sm.ptes, si, si + 1, undefined),
    anon: assign(sm.anon, si, si + 1, undefined),
    anonData: withoutKeysIn(sm.anonData, si, si + 1),
  });
  const target = emptied.mm.maps.get(dstId)!;
  const moved: Pte = pteOf(target, d, pte.target, pte.target === "anon");
  const anonData = data === undefined ? target.anonData : new Map([...target.anonData, [d, data]]);
  const anon = pte.target === "anon" ? assign(target.anon, d, d + 1, true) : target.anon;
  return { state: withMap(emptied, { ...target, ptes: assign(target.ptes, d, d + 1, moved), anon, anonData }) };
}

const moveOutcome = (errno: Errno | undefined, count: number | null): Outcome =>
  errno === undefined ? { result: "ok", move: count } : { errno, move: count };

/** userfaultfd_move: prologue (the count not written), move_pages (its result written back), then the wakeup. */
export function uffdioMove(s: State, op: OpOf<"uffdio_move">, run: ThreadRunner): StepResult {
  const unwritten = (r: Rule): StepResult => result(s, moveOutcome(r.errno, null), r);
  const fd = uffdTarget(s, op.uffd, IOCTL_RULES.badFd);
  if (!fd.ok) return unwritten(fd.rule);
  if (badRange(s, op.map, op.offset, op.len) || badRange(s, op.src, op.src_offset, op.len)) return unwritten(REGISTER_RULES.range);
  const mode = decodeFlags(op.mode, MOVE_MODE_BITS);
  if (mode.unknown.length > 0) return unwritten(IOCTL_RULES.mode);
  const failed = (r: Rule): StepResult => result(s, moveOutcome(r.errno, -ERRNO_NUMBER[r.errno!]!), r);
  const n = op.len / PAGE_SIZE;
  const dm = s.mm.maps.get(op.map);
  const sm = s.mm.maps.get(op.src);
  const dst = dm === undefined ? undefined : { m: dm, vma: vmaAt(dm, op.offset / PAGE_SIZE), start: op.offset / PAGE_SIZE };
  const src = sm === undefined ? undefined : { m: sm, vma: vmaAt(sm, op.src_offset / PAGE_SIZE), start: op.src_offset / PAGE_SIZE };
  if (dst?.vma === undefined || src?.vma === undefined) return failed(MOVE_RULES.noVma);
  const bad = validateAreas(s, fd.id, { ...src, vma: src.vma }, { ...dst, vma: dst.vma }, n);
  if (bad !== undefined) return failed(bad);
  let state = s;
  let done = 0;
  let stoppedBy: Rule | undefined;
  for (; done < n && stoppedBy === undefined; done++) {
    const r = movePage(state, op.map, dst.start + done, op.src, src.start + done, mode.names.includes("ALLOW_SRC_HOLES"));
    state = r.state;
    stoppedBy = r.stop;
  }
  if (stoppedBy !== undefined) done--;
  if (done === 0) return result(state, moveOutcome(stoppedBy!.errno, -ERRNO_NUMBER[stoppedBy!.errno!]!), stoppedBy!);
  const bytes = done * PAGE_SIZE;
  const res =
    stoppedBy === undefined
      ? result(state, moveOutcome(undefined, bytes), MOVE_RULES.move)
      : result(state, moveOutcome("EAGAIN", bytes), MOVE_RULES.move, stoppedBy, IOCTL_RULES.partial);
  if (mode.names.includes("DONTWAKE")) return res;
  const base = mapBase(op.map) + op.offset;
  return afterWake(res, wakeRange(res.state, fd.id, base, base + bytes, run));
}
