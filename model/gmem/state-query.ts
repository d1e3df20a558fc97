// gmem_state: a read-only query of what guest_memfd holds per range (private as KVM reads it, faultability, folio
// size). No kernel offers one; Peter Xu asks for it on the 2024 RFC's thread ("the "real" shared / private status of a
// guest page", Zw7f3YrzqnH-iWwf@x1n), against KVM_SET_MEMORY_ATTRIBUTES's "there is no "get" API"
// (Documentation/virt/kvm/api.rst). faultline answers it from the model, so replays and properties can show it.
import type { OpOf } from "../../schema/ops.js";
import type { GmemRangeState } from "../../schema/outcome.js";
import { PAGE_SIZE, isPageAligned } from "../consts.js";
import { ioctlTarget } from "../fd.js";
import { get } from "../ranges.js";
import { check, rule, validate } from "../rules.js";
import { refuse, result, withPassed, type State, type StepResult } from "../state.js";
import { v8 } from "../sources.js";
import { gmemOwnsAttributes } from "./attributes.js";
import type { GmemInode } from "./types.js";

const ASK = "Peter Xu on [RFC PATCH 26/39] of the 2024 RFC (Zw7f3YrzqnH-iWwf@x1n): a query of the real shared/private status";

export const STATE_QUERY_RULES = {
  badFd: rule("gmem.state-ebadf", `${ASK}; fs/ioctl.c (ksys_ioctl: fdget)`, "the guest_memfd fd is not open", "EBADF"),
  range: rule("gmem.state-range", ASK, "size 0, offset or size not page aligned, or the range runs past i_size", "EINVAL"),
  state: rule(
    "gmem.state",
    `${ASK}; ${v8(9)} (kvm_gmem_is_private); include/linux/kvm_host.h (kvm_mem_is_private)`,
    "per run of equal pages: private as KVM reads it for the page, faultable by the host, and the folio holding it (none, 4K, 2M, 1G)",
  ),
};

const HUGE = { 512: "2M", 262144: "1G" } as const;

/** Whether KVM reads page `index` as private: guest_memfd's own attribute in place, else the VM's at the bound gfn. */
function pagePrivate(s: State, inode: GmemInode, index: number): boolean {
  if (gmemOwnsAttributes(s.config)) return get(inode.shared, index) !== true;
  const b = get(inode.bindings, index);
  const slot = b === undefined ? undefined : s.kvm.vms[b.vm]!.slots.find((sl) => sl.slot === b.slot);
  if (slot === undefined || slot.gmem === null) return false;
  return get(s.kvm.vms[b!.vm]!.attributes, slot.baseGfn + index - slot.gmem.pgoff) === true;
}

function folioOf(inode: GmemInode, index: number): GmemRangeState["folio"] {
  if (get(inode.present, index) !== true) return "none";
  if (inode.folioPages === 1 || get(inode.split, index) === true) return "4K";
  return HUGE[inode.folioPages as keyof typeof HUGE];
}

/** The query's answer: runs of pages that agree on all three, in index order (page by page: ranges are small). */
export function rangeStates(s: State, inode: GmemInode, start: number, end: number): GmemRangeState[] {
  const out: GmemRangeState[] = [];
  for (let i = start; i < end; i++) {
    const page = { private: pagePrivate(s, inode, i), faultable: get(inode.shared, i) === true, folio: folioOf(inode, i) };
    const last = out[out.length - 1];
    if (last !== undefined && last.private === page.private && last.faultable === page.faultable && last.folio === page.folio) last.size += PAGE_SIZE;
    else out.push({ offset: i * PAGE_SIZE, size: PAGE_SIZE, ...page });
  }
  return out;
}

/** gmem_state: EBADF, EINVAL for an empty, unaligned or out-of-file range, else the per-range state; changes nothing. */
export function gmemState(s: State, op: OpOf<"gmem_state">): StepResult {
  const target = ioctlTarget(s, op.gmem, "gmem", STATE_QUERY_RULES.badFd);
  if (!target.ok) return refuse(s, target.rule);
  const inode = s.gmem.inodes[target.id]!;
  const v = validate([
    check(STATE_QUERY_RULES.range, () => op.size === 0 || !isPageAligned(op.offset) || !isPageAligned(op.size) || op.offset + op.size > inode.size),
  ]);
  if (v.failure !== undefined) return withPassed(refuse(s, v.failure), v.passed);
  const start = op.offset / PAGE_SIZE;
  return result(s, { result: "ok", ranges: rangeStates(s, inode, start, start + op.size / PAGE_SIZE) }, STATE_QUERY_RULES.state);
}
