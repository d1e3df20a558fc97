// Dirty logging: memslot->dirty_bitmap, KVM_GET_DIRTY_LOG, KVM_CLEAR_DIRTY_LOG and KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
// in write-protect mode (no PML or D-bit harvesting, no dirty ring: kvm_use_dirty_bitmap is always true here).
import { decodeFlags, DIRTY_LOG_MANUAL_BITS, hasOther } from "../../schema/flags.js";
import type { OpOf } from "../../schema/ops.js";
import { LEVEL_PAGES } from "../consts.js";
import { ioctlTarget } from "../fd.js";
import { replaceAt, withEntry, withoutEntry } from "../immutable.js";
import { assign, EMPTY_RANGES, get, spans, type RangeMap } from "../ranges.js";
import { bound, outside } from "../bound.js";
import { check, rule, validate, type Rule } from "../rules.js";
import { userfaultV3 } from "../sources.js";
import { refuse, result, withPassed, type State, type StepResult } from "../state.js";
import { slotAsId, slotId } from "../u64.js";
import { mapStage2 } from "./mmu.js";
import type { Memslot, Spte, Vm } from "./types.js";
import { VM_RULES, nrMemslotAsIds } from "./vm.js";

const MAIN = "virt/kvm/kvm_main.c";
const MASKED = "arch/x86/kvm/mmu/mmu.c, arch/arm64/kvm/mmu.c (kvm_arch_mmu_enable_log_dirty_pt_masked)";

/** kvm->manual_dirty_log_protect bits (include/uapi/linux/kvm.h). */
export const MANUAL_PROTECT_ENABLE = 1;
export const INITIALLY_SET = 2;
/** The dirty bitmap is walked a long (64 pages) at a time; CLEAR's first_page and num_pages count in these. */
const WORD = 64;

export const DIRTY_LOG_RULES = {
  capArgs: rule(
    "dirtylog.cap-args",
    `${MAIN} (kvm_vm_ioctl_enable_cap_generic: KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2)`,
    "cap->flags nonzero, or args[0] with a bit other than ENABLE (other than ENABLE | INITIALLY_SET once ENABLE is in it)",
    "EINVAL",
  ),
  cap: rule("dirtylog.cap", `${MAIN} (kvm_vm_ioctl_enable_cap_generic)`, "kvm->manual_dirty_log_protect = args[0], at any time"),
  slotId: rule(
    "dirtylog.slot-id",
    `${MAIN} (kvm_get_dirty_log_protect, kvm_clear_dirty_log_protect)`,
    "the address space id >= kvm_arch_nr_memslot_as_ids, or (u16)slot >= KVM_USER_MEM_SLOTS",
    "EINVAL",
  ),
  firstPage: rule("dirtylog.clear-first-page", `${MAIN} (kvm_clear_dirty_log_protect: before the slot lookup)`, "first_page is not a multiple of 64", "EINVAL"),
  noBitmap: rule(
    "dirtylog.no-bitmap",
    `${MAIN} (kvm_get_dirty_log_protect, kvm_clear_dirty_log_protect: !memslot || !memslot->dirty_bitmap)`,
    "no memslot with that id, or it has no dirty bitmap (LOG_DIRTY_PAGES off)",
    "ENOENT",
  ),
  clearRange: rule(
    "dirtylog.clear-range",
    `${MAIN} (kvm_clear_dirty_log_protect)`,
    "first_page > npages, num_pages > npages - first_page, or num_pages not a multiple of 64 while the range stops short of the slot's end",
    "EINVAL",
  ),
  get: rule(
    "dirtylog.get",
    `${MAIN} (kvm_get_dirty_log_protect: xchg of each word under mmu_lock); ${MASKED}`,
    "without manual protect GET returns the bits and clears them, write-protecting the pages they name",
  ),
  getManual: rule("dirtylog.get-manual", `${MAIN} (kvm_get_dirty_log_protect)`, "with KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE, GET returns the bits and changes nothing"),
  clear: rule(
    "dirtylog.clear",
    `${MAIN} (kvm_clear_dirty_log_protect: atomic_long_fetch_andnot per word); ${MASKED}`,
    "CLEAR clears the given bits that were set and write-protects those pages; under INITIALLY_SET x86 also write-protects " +
      "the huge mappings holding each word's first and last such page, arm64 every mapping between them",
  ),
  bitmap: rule(
    "dirtylog.bitmap",
    `${MAIN} (kvm_prepare_memory_region, kvm_alloc_dirty_bitmap, kvm_commit_memory_region)`,
    "a slot has a dirty bitmap while it has LOG_DIRTY_PAGES: kept across MOVE and FLAGS_ONLY, a new one (all set under " +
      "INITIALLY_SET) when logging turns on, freed when it turns off or the slot goes",
  ),
  mark: rule(
    "dirtylog.mark",
    `${MAIN} (mark_page_dirty_in_slot, __kvm_write_guest_page); arch/x86/kvm/mmu/spte.c (make_spte); arch/arm64/kvm/mmu.c (user_mem_abort)`,
    "a fault that maps a page writable in a logged slot, or KVM's own write to it, sets the page's bit",
  ),
  initSetNoWp: rule(
    "dirtylog.init-set-no-wp",
    "arch/x86/kvm/x86.c (kvm_mmu_slot_apply_flags); arch/arm64/kvm/mmu.c (kvm_arch_commit_memory_region); " +
      '[PATCH v3 2/2] KVM: x86: Not wr-protect huge page with init_all_set dirty log (20210429034115.35560-3-zhukeqian1@huawei.com)',
    "under INITIALLY_SET, turning dirty logging on write-protects nothing: every bit starts set, and CLEAR protects lazily",
  ),
  userfaultOffLogging: rule(
    "dirtylog.userfault-off-logging",
    `${userfaultV3(5, "KVM: x86: Add support for KVM userfault exits")} (kvm_mmu_slot_apply_flags); ` +
      "20250730211120.4163536-1-jthoughton@google.com (recover_huge_pages_range returns while kvm_slot_dirty_track_enabled)",
    "x86: turning USERFAULT off while dirty logging stays on recovers no huge mappings (logging still wants 4 KiB)",
  ),
  loggingOffUserfault: rule(
    "faultline.dirtylog-off-userfault",
    `${userfaultV3(5, "KVM: x86: Add support for KVM userfault exits")} (kvm_mmu_slot_apply_flags: kvm_mmu_recover_huge_pages when logging ` +
      "goes off; only kvm_mmu_hugepage_adjust reads KVM_MEM_USERFAULT, not kvm_mmu_max_mapping_level)",
    "faultline's reading: turning dirty logging off on a slot that keeps USERFAULT recovers no huge mappings there; v3 as posted " +
      "would recover them over pages whose bit is set (seeded bug dirty-log-off-recover-userfault)",
  ),
};

const withVm = (s: State, id: number, vm: Vm): State => ({ ...s, kvm: { ...s.kvm, vms: replaceAt(s.kvm.vms, id, vm) } });
const initSet = (vm: Vm): boolean => (vm.manualDirtyLogProtect & INITIALLY_SET) !== 0;

/** kvm_prepare_memory_region's dirty bitmap for `next` (undefined: the slot goes), from `old`'s. */
export function dirtyBitmapFor(vm: Vm, old: Memslot | undefined, next: Memslot | undefined): { vm: Vm; fired: readonly Rule[] } {
  const logging = next !== undefined && next.flags.includes("LOG_DIRTY_PAGES");
  const had = old === undefined ? undefined : vm.dirty.get(old.slot);
  if (!logging) {
    if (old === undefined || had === undefined) return { vm, fired: [] };
    return { vm: { ...vm, dirty: withoutEntry(vm.dirty, old.slot) }, fired: [DIRTY_LOG_RULES.bitmap] };
  }
  const bits: RangeMap<true> = had ?? (initSet(vm) ? assign(EMPTY_RANGES, 0, next.npages, true) : EMPTY_RANGES);
  return { vm: { ...vm, dirty: withEntry(vm.dirty, next.slot, bits) }, fired: [DIRTY_LOG_RULES.bitmap] };
}

/** mark_page_dirty_in_slot: sets gfn's bit when the slot has a dirty bitmap. */
export function markPageDirty(vm: Vm, slot: Memslot, gfn: number): Vm {
  const bits = vm.dirty.get(slot.slot);
  if (bits === undefined || get(bits, gfn - slot.baseGfn) === true) return vm;
  return { ...vm, dirty: withEntry(vm.dirty, slot.slot, assign(bits, gfn - slot.baseGfn, gfn - slot.baseGfn + 1, true)) };
}

/** Write-protects every mapping `which` takes that touches [start, end), each whole (a span may hold several). */
const readOnly = (s2: RangeMap<Spte>, start: number, end: number, which: (sp: Spte) => boolean): RangeMap<Spte> => {
  let out = s2;
  for (const span of spans(s2, start, end)) {
    if (!span.value.writable || !which(span.value)) continue;
    const n = LEVEL_PAGES[span.value.level];
    const from = Math.floor(Math.max(span.start, start) / n) * n;
    const to = Math.ceil(Math.min(span.end, end) / n) * n;
    out = assign(out, from, to, { ...span.value, writable: false });
  }
  return out;
};

/**
 * kvm_arch_mmu_enable_log_dirty_pt_masked for one word's set bits (`pages`, gfns): x86 write-protects their 4 KiB
 * mappings, and under INITIALLY_SET first the huge ones holding the first and last of them (kvm_mmu_slot_gfn_write_protect
 * at PG_LEVEL_2M); arm64 write-protects every mapping from the first to the last (stage2_wp_range).
 */
export function protectMasked(s: State, vm: Vm, slot: Memslot, pages: readonly number[]): Vm {
  if (pages.length === 0) return vm;
  const first = pages[0]!;
  const last = pages[pages.length - 1]!;
  if (s.config.arch === "arm64") return mapStage2(vm, slot.as, (s2) => readOnly(s2, first, last + 1, () => true));
  return mapStage2(vm, slot.as, (s2) => {
    let out = s2;
    if (initSet(vm)) for (const g of [first, last]) out = readOnly(out, g, g + 1, (sp) => sp.level > 0);
    for (const g of pages) out = readOnly(out, g, g + 1, (sp) => sp.level === 0);
    return out;
  });
}

/** The set bits of a slot's bitmap in [start, end) (slot-relative), as gfns. */
const setGfns = (bits: RangeMap<true>, slot: Memslot, start: number, end: number): number[] =>
  spans(bits, start, end).flatMap((sp) => Array.from({ length: sp.end - sp.start }, (_, i) => slot.baseGfn + sp.start + i));

export const bitmapText = (bits: RangeMap<true>, npages: number): string => {
  const chars = new Array<string>(npages).fill("0");
  for (const sp of spans(bits, 0, npages)) chars.fill("1", sp.start, sp.end);
  return chars.join("");
};

/** KVM_ENABLE_CAP(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2). */
export function enableCap(s: State, op: OpOf<"enable_cap">): StepResult {
  const target = ioctlTarget(s, op.vm, "vm", VM_RULES.badFd);
  if (!target.ok) return refuse(s, target.rule);
  const args = decodeFlags(op.args0, DIRTY_LOG_MANUAL_BITS);
  const enable = args.names.includes("ENABLE");
  if ((op.flags ?? 0) !== 0 || hasOther(args, enable ? ["ENABLE", "INITIALLY_SET"] : ["ENABLE"])) return refuse(s, DIRTY_LOG_RULES.capArgs);
  const value = (enable ? MANUAL_PROTECT_ENABLE : 0) | (args.names.includes("INITIALLY_SET") ? INITIALLY_SET : 0);
  const vm = s.kvm.vms[target.id]!;
  return result(withVm(s, target.id, { ...vm, manualDirtyLogProtect: value }), { result: "ok" }, DIRTY_LOG_RULES.cap);
}

type LogTarget =
  | { readonly ok: false; readonly refused: StepResult }
  | { readonly ok: true; readonly vmId: number; readonly vm: Vm; readonly slot: Memslot; readonly bits: RangeMap<true>; readonly passed: readonly Rule[] };

/** The slot a dirty-log ioctl names, after the id check: the VM, and the slot with its bitmap, or the refusal. */
function logTarget(s: State, op: OpOf<"get_dirty_log"> | OpOf<"clear_dirty_log">, extra: readonly ReturnType<typeof check>[]): LogTarget {
  const target = ioctlTarget(s, op.vm, "vm", VM_RULES.badFd);
  if (!target.ok) return { ok: false, refused: refuse(s, target.rule) };
  const vm = s.kvm.vms[target.id]!;
  const slot = vm.slots.find((sl) => sl.slot === op.slot);
  const bits = slot === undefined ? undefined : vm.dirty.get(slot.slot);
  const v = validate([
    check(DIRTY_LOG_RULES.slotId, () => slotAsId(op.slot) >= nrMemslotAsIds(s, vm) || slotId(op.slot) >= s.config.kernel.userMemSlots),
    ...extra,
    check(DIRTY_LOG_RULES.noBitmap, () => bits === undefined),
  ]);
  if (v.failure !== undefined) return { ok: false, refused: withPassed(refuse(s, v.failure), v.passed) };
  return { ok: true, vmId: target.id, vm, slot: slot!, bits: bits!, passed: v.passed };
}

/** KVM_GET_DIRTY_LOG under slots_lock: the bitmap as it stands; without manual protect, harvested word by word. */
export function getDirtyLog(s: State, op: OpOf<"get_dirty_log">): StepResult {
  const t = logTarget(s, op, []);
  if (!t.ok) return t.refused;
  const { vmId, slot, bits } = t;
  const outcome = { result: "ok" as const, dirty_bitmap: bitmapText(bits, slot.npages) };
  if (t.vm.manualDirtyLogProtect & MANUAL_PROTECT_ENABLE) return withPassed(result(s, outcome, DIRTY_LOG_RULES.getManual), t.passed);
  let vm: Vm = { ...t.vm, dirty: withEntry(t.vm.dirty, slot.slot, EMPTY_RANGES) };
  for (let w = 0; w < slot.npages; w += WORD) vm = protectMasked(s, vm, slot, setGfns(bits, slot, w, Math.min(w + WORD, slot.npages)));
  return withPassed(result(withVm(s, vmId, vm), outcome, DIRTY_LOG_RULES.get), t.passed);
}

/** The logged slot a CLEAR names, when it has one. */
function clearedSlot(s: State, op: OpOf<"clear_dirty_log">): Memslot | undefined {
  const vmId = s.kvm.names.get(op.vm);
  const slot = vmId === undefined ? undefined : s.kvm.vms[vmId]!.slots.find((sl) => sl.slot === op.slot);
  return slot !== undefined && s.kvm.vms[vmId!]!.dirty.has(slot.slot) ? slot : undefined;
}

/** The slot's pages a CLEAR leaves out past its range: negative when the range runs past the slot's end. */
const pagesShort = (slot: Memslot, op: OpOf<"clear_dirty_log">): number => slot.npages - op.first_page - op.num_pages;

/** KVM_CLEAR_DIRTY_LOG's numeric checks (kvm_clear_dirty_log_protect), in pages. */
export const DIRTY_LOG_BOUNDS = {
  // first_page & 63 before the slot lookup: the page's offset in its 64-page bitmap word must be 0.
  firstPage: bound({
    rule: DIRTY_LOG_RULES.firstPage,
    ops: ["clear_dirty_log"],
    unit: 1,
    unitName: "page",
    limitName: "0 (first_page & 63: first_page's offset in its 64-page bitmap word)",
    accepts: "le",
    measure: (_s, op) => ({ value: op.first_page % WORD, limit: 0 }),
  }),
  // first_page > npages || num_pages > npages - first_page: the range's end against the slot's. Short of the end,
  // num_pages & 63 refuses first (the same rule), so the range's end is measured only where that clause passes.
  clearRange: bound({
    rule: DIRTY_LOG_RULES.clearRange,
    ops: ["clear_dirty_log"],
    unit: 1,
    unitName: "page",
    limitName: "the slot's npages (first_page + num_pages)",
    accepts: "le",
    measure: (s, op) => {
      const slot = op.first_page % WORD === 0 ? clearedSlot(s, op) : undefined;
      if (slot === undefined || (pagesShort(slot, op) > 0 && op.num_pages % WORD !== 0)) return undefined;
      return { value: op.first_page + op.num_pages, limit: slot.npages };
    },
  }),
};

/** KVM_CLEAR_DIRTY_LOG under slots_lock: clears the requested bits that were set, a word at a time under mmu_lock. */
export function clearDirtyLog(s: State, op: OpOf<"clear_dirty_log">): StepResult {
  const t = logTarget(s, op, [check(DIRTY_LOG_RULES.firstPage, () => outside(DIRTY_LOG_BOUNDS.firstPage, s, op))]);
  if (!t.ok) return t.refused;
  const { vmId, slot, bits } = t;
  const badRange = outside(DIRTY_LOG_BOUNDS.clearRange, s, op) || (pagesShort(slot, op) > 0 && op.num_pages % WORD !== 0);
  if (badRange) return withPassed(refuse(s, DIRTY_LOG_RULES.clearRange), t.passed);
  // copy_from_user takes whole longs: bits past num_pages in its last word count (past the slot's end nothing is set).
  const span = Math.ceil(op.num_pages / WORD) * WORD;
  const asked = new Set((op.pages ?? Array.from({ length: op.num_pages }, (_, i) => i)).filter((p) => p < span).map((p) => op.first_page + p));
  let next = bits;
  let vm = t.vm;
  for (let w = op.first_page; w < op.first_page + span; w += WORD) {
    const cleared = setGfns(bits, slot, w, w + WORD).filter((g) => asked.has(g - slot.baseGfn));
    for (const g of cleared) next = assign(next, g - slot.baseGfn, g - slot.baseGfn + 1, undefined);
    vm = protectMasked(s, vm, slot, cleared);
  }
  vm = { ...vm, dirty: withEntry(vm.dirty, slot.slot, next) };
  return withPassed(result(withVm(s, vmId, vm), { result: "ok" }, DIRTY_LOG_RULES.clear), t.passed);
}
