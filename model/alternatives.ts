// Outcomes the kernel may also give for an operation, besides step()'s, because of transient conditions the
// sequential model does not track (a reference held by a fault still in flight). The linearizability check
// accepts them; a sequential run never produces them. Each is admitted only when an operation overlapping in
// real time could cause it in the kernel: ALTERNATIVE_RULES names the path through which each kind of
// operation holds the condition, and the model's own step decides whether the operation takes that path.
import { match } from "ts-pattern";
import type { Op, OpOf } from "../schema/ops.js";
import { pagePieces } from "./bytes.js";
import { gfnOf, PAGE_SIZE } from "./consts.js";
import { gmemConvertTransient } from "./gmem/convert.js";
import { GMEM_RULES } from "./gmem/file.js";
import { replaceAt } from "./immutable.js";
import { FAULT_PATH_RULES } from "./kvm/fault.js";
import { findSlot } from "./kvm/memslot.js";
import { USERFAULT_RULES } from "./kvm/userfault.js";
import { hasFlag, hvaOf, installSpte, mapStage2, spteAt, zapRange } from "./kvm/mmu.js";
import type { Memslot, Vm } from "./kvm/types.js";
import { backingIndex, locate } from "./mm/pages.js";
import { get, type RangeMap } from "./ranges.js";
import { rule, type Rule } from "./rules.js";
import type { State, StepResult } from "./state.js";
import { step } from "./step.js";

const GMEM = "virt/kvm/guest_memfd.c";
const FAULT_USER = `${GMEM} (kvm_gmem_fault_user_mapping: kvm_gmem_get_folio); mm/memory.c (__do_fault, finish_fault)`;

/** The paths by which an operation in flight holds a guest_memfd folio (an extra reference, as folio_ref_count sees it). */
export const ALTERNATIVE_RULES = {
  hostFault: rule(
    "gmem.ref-host-fault",
    FAULT_USER,
    "a host access faulting through a guest_memfd mapping holds the folio from kvm_gmem_get_folio until finish_fault has set the PTE; " +
      "it gets there only where a VMA maps the page, the access is permitted and the page is within i_size and shared",
  ),
  pin: rule(
    "gmem.ref-pin",
    `mm/gup.c (__get_user_pages: faultin_page, follow_page_pte: try_grab_folio); ${FAULT_USER}`,
    "a pin in flight faults the page in through the guest_memfd mapping and holds the folio before its pin is counted",
  ),
  alias: rule(
    "gmem.ref-alias",
    FAULT_USER,
    "an access through a second mapping of the guest_memfd faults in each page it touches, up to the first it may not fault",
  ),
  getPfn: rule(
    "gmem.ref-get-pfn",
    `arch/x86/kvm/mmu/mmu.c (kvm_mmu_faultin_pfn_gmem: kvm_gmem_get_pfn; kvm_mmu_finish_page_fault: kvm_release_faultin_page); ` +
      `arch/arm64/kvm/mmu.c (gmem_abort); ${GMEM} (kvm_gmem_get_pfn)`,
    "a vCPU fault that goes to guest_memfd (a private access, a GMEM_ONLY slot; any guest_memfd slot on arm64) holds the folio " +
      "from kvm_gmem_get_pfn until its SPTE is installed; a fault that exits first (attribute mismatch, USERFAULT) never gets it",
  ),
  staleMiss: rule(
    "userfault.exit-stale-miss",
    "arch/x86/kvm/mmu/mmu.c (__kvm_mmu_faultin_pfn: kvm_do_userfault reads the bit after the SPTE missed, before mmu_lock); " +
      "arch/arm64/kvm/mmu.c (user_mem_abort); James Houghton, 2025-05-28, in the thread of KVM Userfault v2 (shared/seeds 000): a bit set on a live " +
      "USERFAULT slot does not unmap what is mapped",
    "a vCPU fault that found no SPTE before another vCPU mapped the page reads the bit the VMM set since: it exits USERFAULT although the " +
      "page is mapped by now (an extra exit for a marked page, never a read)",
  ),
  staleSlot: rule(
    "dirtylog.enable-stale-slot",
    "virt/kvm/kvm_main.c (kvm_set_memslot: kvm_swap_active_memslots, then kvm_commit_memory_region; __kvm_write_guest_page: " +
      "mark_page_dirty_in_slot of the slot it looked up); arch/x86/kvm/x86.c (kvm_mmu_slot_apply_flags); arch/x86/kvm/mmu/spte.c " +
      "(make_spte: kvm_slot_dirty_track_enabled of the fault's slot); arch/arm64/kvm/mmu.c (user_mem_abort: memslot_is_logging; " +
      "kvm_arch_commit_memory_region: kvm_mmu_wp_memory_region)",
    "a guest or KVM write while a flags-only KVM_SET_USER_MEMORY_REGION turns dirty logging on may use the slot it looked up before " +
      "the swap, or a writable SPTE the commit has not write-protected yet: the page is written and not logged, and its mapping ends " +
      "read-only; logging is certain only for writes that start after the ioctl returns",
  ),
  hva: rule(
    "gmem.ref-hva",
    `virt/kvm/kvm_main.c (hva_to_pfn: hva_to_pfn_slow, get_user_pages_unlocked); ${FAULT_USER}`,
    "a shared vCPU fault on a slot whose userspace address is a guest_memfd mapping GUPs the page through it and holds the folio " +
      "until its SPTE is installed",
  ),
};

const fires = (s: State, op: Op, r: Rule): boolean => step(s, op).fired.includes(r.id);

/** Page `index` of inode `id` is what page `page` of mapping `mapId` maps. */
function mapsPage(s: State, mapId: string, page: number, id: number, index: number): boolean {
  const map = s.mm.maps.get(mapId);
  const b = map?.backing;
  return map !== undefined && b?.kind === "gmem" && b.inode === id && page < map.pages && backingIndex(map, page) === index;
}

/** Whether a write_alias / read_alias faults page `index` in: its pages in order, up to the first it may not fault (a SIGBUS). */
function aliasReaches(s: State, o: OpOf<"write_alias"> | OpOf<"read_alias">, id: number, index: number): boolean {
  const map = s.mm.maps.get(o.map);
  if (map?.backing.kind !== "gmem" || map.backing.inode !== id) return false;
  const inode = s.gmem.inodes[id]!;
  const len = o.op === "write_alias" ? (o.len ?? 1) : 1;
  for (const p of pagePieces(map.backing.offset + o.offset, len)) {
    if (p.index * PAGE_SIZE >= inode.size || get(inode.shared, p.index) !== true) return false;
    if (p.index === index) return true;
  }
  return false;
}

/**
 * Whether a vCPU access reaches the folio, and by which path. Its own SPTE is left out: the access may have
 * started its fault before another vCPU mapped the page, so the model's SPTE hit does not rule it out.
 */
function vcpuHolder(s: State, o: OpOf<"vcpu_access">, id: number, index: number): Rule | undefined {
  const vmId = s.kvm.names.get(o.vm);
  const vm = vmId === undefined ? undefined : s.kvm.vms[vmId];
  const gfn = gfnOf(o.gpa);
  const slot = vm === undefined ? undefined : findSlot(vm, 0, gfn);
  if (vmId === undefined || vm === undefined || slot === undefined) return undefined;
  const unmapped = mapStage2(vm, 0, (s2) => zapRange(s2, gfn, gfn + 1));
  const faulting: State = { ...s, kvm: { ...s.kvm, vms: replaceAt(s.kvm.vms, vmId, unmapped) } };
  const fired = step(faulting, o).fired;
  if (fired.includes(GMEM_RULES.pfn.id)) {
    return slot.gmem?.inode === id && slot.gmem.pgoff + gfn - slot.baseGfn === index ? ALTERNATIVE_RULES.getPfn : undefined;
  }
  if (!fired.includes(GMEM_RULES.hostFault.id)) return undefined;
  const at = locate(faulting, hvaOf(slot, gfn));
  return at !== undefined && mapsPage(faulting, at.map.id, at.index, id, index) ? ALTERNATIVE_RULES.hva : undefined;
}

/**
 * The path by which `other`, running in state `s`, holds page `index` of guest_memfd inode `id`, or undefined
 * when it cannot. `s` is the state the transient condition is checked in (a conversion has unmapped the host
 * PTEs of its range by then, so a host access in flight faults).
 */
export function holderOf(s: State, other: Op, id: number, index: number): Rule | undefined {
  const pageOf = (offset: number): number => Math.floor(offset / PAGE_SIZE);
  return match(other)
    .with({ op: "access" }, (o) =>
      mapsPage(s, o.map, pageOf(o.offset), id, index) && fires(s, o, GMEM_RULES.hostFault) ? ALTERNATIVE_RULES.hostFault : undefined,
    )
    .with({ op: "pin" }, (o) =>
      mapsPage(s, o.map, pageOf(o.offset), id, index) && fires(s, o, GMEM_RULES.hostFault) ? ALTERNATIVE_RULES.pin : undefined,
    )
    .with({ op: "write_alias" }, { op: "read_alias" }, (o) => (aliasReaches(s, o, id, index) ? ALTERNATIVE_RULES.alias : undefined))
    .with({ op: "vcpu_access" }, (o) => vcpuHolder(s, o, id, index))
    .otherwise(() => undefined);
}

/**
 * A bit set under a live USERFAULT slot: the access hits an SPTE in the model, but another vCPU's access to the gfn
 * overlapped it, so it may have missed before that one mapped the page; then it read the bit, and the bit says exit.
 */
function staleMiss(s: State, o: OpOf<"vcpu_access">, concurrent: readonly Op[]): StepResult[] {
  const gfn = gfnOf(o.gpa);
  const racing = concurrent.some((c) => c.op === "vcpu_access" && c.vm === o.vm && c.vcpu !== o.vcpu && gfnOf(c.gpa) === gfn);
  const vmId = s.kvm.names.get(o.vm);
  if (!racing || vmId === undefined || !fires(s, o, FAULT_PATH_RULES.hit)) return [];
  const unmapped = mapStage2(s.kvm.vms[vmId]!, 0, (s2) => zapRange(s2, gfn, gfn + 1));
  const missed = step({ ...s, kvm: { ...s.kvm, vms: replaceAt(s.kvm.vms, vmId, unmapped) } }, o);
  if (!missed.fired.includes(USERFAULT_RULES.exit.id)) return [];
  return [{ state: s, outcome: missed.outcome, fired: [...missed.fired, ALTERNATIVE_RULES.staleMiss.id] }];
}

const withVm = (s: State, id: number, vm: Vm): State => ({ ...s, kvm: { ...s.kvm, vms: replaceAt(s.kvm.vms, id, vm) } });

/** `vm` with `slot` replaced by `by` and the dirty bitmap of its raw id set to `bits` (absent: none). */
function withSlot(vm: Vm, slot: Memslot, by: Memslot, bits: RangeMap<true> | undefined): Vm {
  const dirty = new Map(vm.dirty);
  if (bits === undefined) dirty.delete(slot.slot);
  else dirty.set(slot.slot, bits);
  return { ...vm, slots: vm.slots.map((sl) => (sl.slot === slot.slot ? by : sl)), dirty };
}

/**
 * A write that overlapped the flags-only update turning LOG_DIRTY_PAGES on for its slot, where the model has
 * already taken the update: it ran against the old slot, unlogged, and the commit then write-protected its
 * mapping. `before` (the state the segment started in) tells that the update turned logging on, not kept it.
 */
function staleSlotWrite(s: State, o: OpOf<"vcpu_access"> | OpOf<"kvm_access">, concurrent: readonly Op[], before: State): StepResult[] {
  const vmId = s.kvm.names.get(o.vm);
  const vm = vmId === undefined ? undefined : s.kvm.vms[vmId];
  const gfn = gfnOf(o.gpa);
  const slot = vm === undefined ? undefined : findSlot(vm, 0, gfn);
  if (o.kind !== "write" || vmId === undefined || vm === undefined || slot === undefined || !vm.dirty.has(slot.slot)) return [];
  const was = before.kvm.vms[vmId]?.slots.find((sl) => sl.slot === slot.slot);
  const enabling = concurrent.some(
    (c) => c.op === "set_memory_region" && c.vm === o.vm && c.slot === slot.slot && c.flags.includes("LOG_DIRTY_PAGES"),
  );
  if (!enabling || was === undefined || hasFlag(was, "LOG_DIRTY_PAGES")) return [];
  const old: Memslot = { ...slot, flags: slot.flags.filter((f) => f !== "LOG_DIRTY_PAGES") };
  const r = step(withVm(s, vmId, withSlot(vm, slot, old, undefined)), o);
  const after = withSlot(r.state.kvm.vms[vmId]!, old, slot, vm.dirty.get(slot.slot));
  const leaf = spteAt(after, 0, gfn);
  const protectedVm = leaf === undefined ? after : installSpte(after, 0, gfn, { ...leaf, writable: false });
  return [{ state: withVm(r.state, vmId, protectedVm), outcome: r.outcome, fired: [...r.fired, ALTERNATIVE_RULES.staleSlot.id] }];
}

/**
 * The step invariants a step taken by an alternative is exempt from: what the kernel's own rule permits there
 * (a write in the window of a logging enable is not logged).
 */
const RELAXES: ReadonlyMap<string, readonly string[]> = new Map([[ALTERNATIVE_RULES.staleSlot.id, ["dirty-log-write-marked"]]]);

export const relaxedBy = (fired: readonly string[]): ReadonlySet<string> => new Set(fired.flatMap((id) => RELAXES.get(id) ?? []));

/**
 * States besides step()'s that the kernel may reach with the same outcome, because an operation overlapping in
 * real time left a transient condition the model's atomic steps do not have. `before`: the state the concurrent
 * segment started in.
 */
export function alsoReached(s: State, op: Op, concurrent: readonly Op[], before: State): StepResult[] {
  return match(op)
    .with({ op: "vcpu_access" }, { op: "kvm_access" }, (o) => staleSlotWrite(s, o, concurrent, before))
    .otherwise(() => []);
}

/** `concurrent`: the operations that overlapped op in real time (a transient condition needs one of them to cause it). */
export function alternatives(s: State, op: Op, concurrent: readonly Op[]): Iterable<StepResult> {
  return match(op)
    .with({ op: "gmem_convert" }, (o) =>
      gmemConvertTransient(s, o, (t, id, index) => concurrent.map((c) => holderOf(t, c, id, index)).find((r) => r !== undefined)),
    )
    .with({ op: "vcpu_access" }, (o) => staleMiss(s, o, concurrent))
    .otherwise(() => []);
}
