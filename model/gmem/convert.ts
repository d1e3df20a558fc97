// In-place conversion between shared and private: KVM_SET_MEMORY_ATTRIBUTES2 on the guest_memfd (v8, June 2026, and
// its v7 variant), or inside KVM_SET_MEMORY_ATTRIBUTES with guest_memfd's faultability (the 2024 RFC), as
// config.gmemDesign says. Each rule cites the v8 patch and the v7 one it replaces.
import type { OpOf } from "../../schema/ops.js";
import { bound, outside } from "../bound.js";
import { PAGE_SIZE, TWO_64, isPageAligned } from "../consts.js";
import { ioctlTarget } from "../fd.js";
import { assign, covers, some, spans } from "../ranges.js";
import { check, rule, validate, type Rule } from "../rules.js";
import { refuse, result, withPassed, type State, type StepResult } from "../state.js";
import { rfc2024 as rfc, v7, v8 } from "../sources.js";
import { gmemOwnsAttributes, inplaceDesign, rfc2024 } from "./attributes.js";
import { vmHasPrivateMem, withInode } from "./file.js";
import { FOLIO_RULES, mergeRange, splitRange } from "./folio.js";
import { firstHostMapped, unmapHost, zapBindings } from "./invalidate.js";
import type { GmemInode } from "./types.js";
import { ALLOC_FAIL_RULES, failingAttempt } from "./alloc-fail.js";

const RFC29 = rfc(29);
const RFC39 = rfc(39);

export const CONVERT_RULES = {
  badFd: rule("gmem.convert-ebadf", "fs/ioctl.c (ksys_ioctl: fdget)", "the guest_memfd fd is not open", "EBADF"),
  noIoctl: rule(
    "gmem.convert-enotty",
    `virt/kvm/guest_memfd.c (kvm_gmem_fops: no unlocked_ioctl); ${v8(13)} (kvm_gmem_ioctl); ${v7(9)}`,
    "no KVM_SET_MEMORY_ATTRIBUTES2 on guest_memfd: in-place conversion is not in this kernel",
    "ENOTTY",
  ),
  vmAttributes: rule(
    "gmem.convert-vm-attributes",
    `${v8(13)} (kvm_gmem_ioctl: !gmem_in_place_conversion); ${v8(24)}; ${v7(18)}`,
    "in-place conversion is off (v8: gmem_in_place_conversion=0, the default with per-VM attributes built in; v7: vm_memory_attributes=1): ENOTTY",
    "ENOTTY",
  ),
  unsupported: rule(
    "gmem.convert-unsupported",
    `${v8(13)} (kvm_gmem_set_attributes: !kvm_arch_has_private_mem(f->kvm)); ${v7(9)} (kvm_gmem_set_attributes: kvm_supported_mem_attributes(f->kvm))`,
    "a guest_memfd of a VM without private memory: v8 refuses any conversion, v7 only one to PRIVATE",
    "EINVAL",
  ),
  range: rule("gmem.convert-range", `${v8(13)} (kvm_gmem_set_attributes); ${v7(9)}`, "size is 0 or offset + size wraps", "EINVAL"),
  align: rule("gmem.convert-align", `${v8(13)} (kvm_gmem_set_attributes); ${v7(9)}`, "offset or size not page aligned", "EINVAL"),
  beyond: rule("gmem.convert-beyond", `${v8(13)} (kvm_gmem_set_attributes); ${v7(9)}`, "offset at or past i_size, or offset + size past i_size", "EINVAL"),
  noop: rule(
    "gmem.convert-noop",
    `${v8(16)} (kvm_gmem_range_has_attributes); ${v7(12)}`,
    "the whole range already has the requested attributes: 0, nothing invalidated",
  ),
  unmap: rule(
    "gmem.convert-unmap",
    `${v8(14)} (__kvm_gmem_set_attributes: unmap_mapping_pages); ${v7(10)}`,
    "to private: host PTEs of the range are unmapped first",
  ),
  busy: rule(
    "gmem.convert-eagain",
    `${v8(14)} (kvm_gmem_is_safe_for_conversion); ${v8(18)} (lru_add_drain_all once before giving up); ${v7(10)}`,
    "to private: a page of the range still has an extra reference (a pin): EAGAIN, error_offset = that page, attributes unchanged",
    "EAGAIN",
  ),
  transient: rule(
    "gmem.convert-transient-ref",
    `${v8(14)} (kvm_gmem_is_safe_for_conversion: folio_ref_count); ${v7(10)}`,
    "to private: a page whose folio a concurrent host fault or kvm_gmem_get_pfn still holds has an extra reference too: EAGAIN at that page",
    "EAGAIN",
  ),
  commit: rule(
    "gmem.convert",
    `${v8(13)} (__kvm_gmem_set_attributes: invalidate_start, store, invalidate_end); ${v8(15)} (kvm_gmem_invalidate on to-shared); ${v7(9)}; ${v7(11)}`,
    "the range's SPTEs are zapped in every bound VM and the attributes stored; contents are kept",
  ),
  rfcFaultability: rule("gmem.rfc-set-faultable", `${RFC29} (kvm_gmem_should_set_attributes); ${RFC39} (kvm_gmem_try_set_faultable_slot)`, "2024 RFC: guest_memfd's faultability follows the new attribute in every bound slot"),
  rfcBusy: rule(
    "gmem.rfc-mapped",
    `${RFC29} (kvm_gmem_no_mappings_range: folio_mapped || folio_maybe_dma_pinned); ${RFC39} (kvm_gmem_should_set_attributes)`,
    "2024 RFC: to private while a page is host-mapped or pinned: faultability is rolled back to faultable over the range, EINVAL",
    "EINVAL",
  ),
};

/** The first page of [start, end) holding a long-term pin. */
export const firstPinned = (inode: GmemInode, start: number, end: number): number | undefined => spans(inode.pins, start, end)[0]?.start;

/** Stores the new shared/private state of [start, end), splitting before sharing and merging once private. */
function store(inode: GmemInode, start: number, end: number, toPrivate: boolean): { inode: GmemInode; fired: Rule[] } {
  if (!toPrivate) {
    const split = splitRange(inode, start, end);
    return { inode: { ...split, shared: assign(split.shared, start, end, true) }, fired: split === inode ? [] : [FOLIO_RULES.split] };
  }
  const stored = { ...inode, shared: assign(inode.shared, start, end, undefined) };
  const merged = mergeRange(stored, start, end);
  return { inode: merged, fired: merged.split === stored.split ? [] : [FOLIO_RULES.merge] };
}

/** The range's end against 2^64 and against the file's size. */
export const CONVERT_BOUNDS = {
  range: bound({
    rule: CONVERT_RULES.range,
    ops: ["gmem_convert"],
    unit: PAGE_SIZE,
    unitName: "page",
    limitName: "2^64 (offset + size wraps)",
    accepts: "lt",
    measure: (_s, op) => (op.size === 0 ? undefined : { value: op.offset + op.size, limit: TWO_64 }),
  }),
  beyond: bound({
    rule: CONVERT_RULES.beyond,
    ops: ["gmem_convert"],
    unit: PAGE_SIZE,
    unitName: "page",
    limitName: "the guest_memfd's size",
    accepts: "le",
    measure: (s, op) => {
      const id = s.gmem.names.get(op.gmem);
      return id === undefined || op.size === 0 ? undefined : { value: op.offset + op.size, limit: s.gmem.inodes[id]!.size };
    },
  }),
};

/** KVM_SET_MEMORY_ATTRIBUTES2 on a guest_memfd (kvm_gmem_set_attributes, v8; v7 where the two differ). */
export function gmemConvert(s: State, op: OpOf<"gmem_convert">): StepResult {
  const target = ioctlTarget(s, op.gmem, "gmem", CONVERT_RULES.badFd);
  if (!target.ok) return refuse(s, target.rule);
  const id = target.id;
  const inode = s.gmem.inodes[id]!;
  const toPrivate = op.to === "private";
  const v = validate([
    check(CONVERT_RULES.noIoctl, () => !inplaceDesign(s.config)),
    check(CONVERT_RULES.vmAttributes, () => !gmemOwnsAttributes(s.config)),
    check(CONVERT_RULES.unsupported, () => (toPrivate || s.config.gmemDesign === "v8") && !vmHasPrivateMem(s.kvm.vms[inode.vm]!)),
    check(CONVERT_RULES.range, () => op.size === 0 || outside(CONVERT_BOUNDS.range, s, op)),
    check(CONVERT_RULES.align, () => !isPageAligned(op.offset) || !isPageAligned(op.size)),
    check(CONVERT_RULES.beyond, () => op.offset >= inode.size || outside(CONVERT_BOUNDS.beyond, s, op)),
  ]);
  if (v.failure !== undefined) return withPassed(refuse(s, v.failure), v.passed);
  const start = op.offset / PAGE_SIZE;
  const end = start + op.size / PAGE_SIZE;
  const already = toPrivate ? !some(inode.shared, start, end) : covers(inode.shared, start, end);
  if (already) return result(s, { result: "ok" }, CONVERT_RULES.noop);
  if (failingAttempt(op.fail_nth, 0, 1) !== undefined) {
    return result(s, { errno: "ENOMEM", error_offset: op.offset }, ALLOC_FAIL_RULES.failNth, ALLOC_FAIL_RULES.convertPrealloc);
  }
  let next = s;
  const fired: Rule[] = [];
  if (toPrivate) {
    next = unmapHost(next, id, start, end);
    fired.push(CONVERT_RULES.unmap);
    const pinned = firstPinned(inode, start, end);
    if (pinned !== undefined) return result(next, { errno: "EAGAIN", error_offset: pinned * PAGE_SIZE }, ...fired, CONVERT_RULES.busy);
  }
  next = zapBindings(next, id, start, end);
  const stored = store(next.gmem.inodes[id]!, start, end, toPrivate);
  return result(withInode(next, id, stored.inode), { result: "ok" }, ...fired, CONVERT_RULES.commit, ...stored.fired);
}

/** What holds page `index` of inode `id` in state `s`: the rule of the path an operation in flight takes to its folio, if any. */
export type Holder = (s: State, id: number, index: number) => Rule | undefined;

/**
 * What else an in-place to-private conversion may return: EAGAIN at a page (before the first pinned one) whose folio
 * an operation running at the same time holds, as a fault in flight does (it may even have allocated the folio).
 * `holder` is asked in the state the reference check sees, with the range's host PTEs unmapped. Only the
 * linearizability check uses these; with nothing in flight the conversion is deterministic.
 */
export function* gmemConvertTransient(s: State, op: OpOf<"gmem_convert">, holder: Holder): Generator<StepResult> {
  const primary = gmemConvert(s, op);
  if (op.to !== "private" || !primary.fired.includes(CONVERT_RULES.unmap.id)) return;
  const id = s.gmem.names.get(op.gmem)!;
  const start = op.offset / PAGE_SIZE;
  const end = start + op.size / PAGE_SIZE;
  const o = primary.outcome;
  const limit = "errno" in o && !("result" in o) && o.error_offset !== undefined ? o.error_offset / PAGE_SIZE : end;
  const unmapped = unmapHost(s, id, start, end);
  for (let p = start; p < limit; p++) {
    const why = holder(unmapped, id, p);
    if (why === undefined) continue;
    yield result(unmapped, { errno: "EAGAIN", error_offset: p * PAGE_SIZE }, CONVERT_RULES.unmap, CONVERT_RULES.transient, why);
  }
}

/** What a faultability walk did: the state, whether it may go on, the allocation attempts counted so far. */
interface Walk {
  readonly state: State;
  readonly ok: boolean;
  readonly fired: Rule[];
  readonly used: number;
}

/**
 * Sets faultability of [start, end) in every guest_memfd slot of the VM (kvm_gmem_try_set_faultable_vm), in the kernel's
 * order: address space, then gfn. Only storing FAULT allocates (one attempt per index here); a failure stops that
 * slot's loop at its index and is dropped, so the walk goes on with the next slot.
 */
function setFaultableVm(s: State, vmId: number, start: number, end: number, faultable: boolean, nth: number | undefined, used0: number): Walk {
  let next = s;
  let used = used0;
  const fired: Rule[] = [];
  const slots = [...s.kvm.vms[vmId]!.slots].sort((x, y) => x.as - y.as || x.baseGfn - y.baseGfn);
  for (const slot of slots) {
    const a = Math.max(start, slot.baseGfn);
    const b = Math.min(end, slot.baseGfn + slot.npages);
    if (a >= b || slot.gmem === null || !next.gmem.inodes[slot.gmem.inode]!.open) continue;
    const id = slot.gmem.inode;
    const i0 = slot.gmem.pgoff + a - slot.baseGfn;
    let i1 = i0 + b - a;
    const inode = next.gmem.inodes[id]!;
    if (!faultable) {
      // Unfaultable first, then kvm_gmem_no_mappings_range; a mapped or pinned page leaves the store for the rollback.
      const cleared = { ...inode, shared: assign(inode.shared, i0, i1, undefined) };
      if (firstHostMapped(next, id, i0, i1) !== undefined || firstPinned(inode, i0, i1) !== undefined) return { state: withInode(next, id, cleared), ok: false, fired, used };
      const merged = mergeRange(cleared, i0, i1);
      next = withInode(next, id, merged);
      if (merged.split !== cleared.split) fired.push(FOLIO_RULES.merge);
      continue;
    }
    const failed = failingAttempt(nth, used, i1 - i0);
    used += failed === undefined ? i1 - i0 : failed + 1;
    if (failed !== undefined) {
      i1 = i0 + failed;
      fired.push(ALLOC_FAIL_RULES.failNth, ALLOC_FAIL_RULES.rfcLoop);
    }
    if (i0 === i1) continue;
    const stored = store(inode, i0, i1, false);
    next = withInode(next, id, stored.inode);
    fired.push(...stored.fired);
  }
  return { state: next, ok: true, fired, used };
}

/**
 * kvm_gmem_should_set_attributes (2024 RFC), called by KVM_SET_MEMORY_ATTRIBUTES after its zap: `refused` when
 * a page is still mapped or pinned; the state then has faultability rolled back over the whole range. `used`
 * allocation attempts of the call (KVM's reservation) came before; the call's `nth` fails (fail_nth).
 */
export function gmemShouldSetAttributes(
  s: State,
  vmId: number,
  start: number,
  end: number,
  toPrivate: boolean,
  nth?: number,
  used = 0,
): { state: State; fired: Rule[]; refused?: Rule } {
  if (!rfc2024(s.config)) return { state: s, fired: [] };
  const r = setFaultableVm(s, vmId, start, end, !toPrivate, nth, used);
  if (r.ok) return { state: r.state, fired: [CONVERT_RULES.rfcFaultability, ...r.fired] };
  const rolledBack = setFaultableVm(r.state, vmId, start, end, true, nth, r.used);
  return { state: rolledBack.state, fired: [CONVERT_RULES.rfcFaultability, ...rolledBack.fired], refused: CONVERT_RULES.rfcBusy };
}
