// KVM_SET_USER_MEMORY_REGION(2): validation in kernel check order, then CREATE / DELETE / MOVE / FLAGS_ONLY / no-op.
import { decodeFlags, hasOther, MEMSLOT_FLAG_BITS } from "../../schema/flags.js";
import type { MemslotFlagName, OpOf } from "../../schema/ops.js";
import { KVM_MEM_MAX_NR_PAGES, PAGE_SIZE, TASK_SIZE, TWO_64, X86_MAX_GFN, isPageAligned } from "../consts.js";
import { ioctlTarget } from "../fd.js";
import { GMEM_RULES, gmemBind, gmemUnbind } from "../gmem/file.js";
import { replaceAt, withEntry, withoutEntry } from "../immutable.js";
import { mapBase } from "../mm/layout.js";
import { EMPTY_RANGES } from "../ranges.js";
import { bound, outside } from "../bound.js";
import { check, rule, validate, type Rule } from "../rules.js";
import { userfaultV3 } from "../sources.js";
import { refuse, result, withPassed, type State, type StepResult } from "../state.js";
import { slotAsId, slotId } from "../u64.js";
import { MMU_RULES, flushShadowMemslot, recoverHugePages, writeProtectSlot, zapSlot } from "./mmu.js";
import type { Memslot, Vm } from "./types.js";
import { DIRTY_LOG_RULES, dirtyBitmapFor, INITIALLY_SET } from "./dirty-log.js";
import { demoteSlot, VARIANT_RULES } from "./variants.js";
import { VM_RULES, nrMemslotAsIds } from "./vm.js";

const MAIN = "virt/kvm/kvm_main.c";
const V3_04 = userfaultV3(4, "KVM: Add common infrastructure for KVM Userfaults");
const V3_07 = userfaultV3(7, "KVM: Enable and advertise support for KVM userfault exits");

export const MEMSLOT_RULES = {
  v1Flags: rule(
    "memslot.v1-flags",
    `${MAIN} (kvm_vm_ioctl, KVM_SET_USER_MEMORY_REGION_V1_FLAGS)`,
    "the v1 ioctl takes only LOG_DIRTY_PAGES and READONLY (any other bit, known or not)",
    "EINVAL",
  ),
  slotId: rule("memslot.slot-id", `${MAIN} (kvm_vm_ioctl_set_memory_region)`, "(u16)slot >= KVM_USER_MEM_SLOTS", "EINVAL"),
  flags: rule(
    "memslot.flags",
    `${MAIN} (check_memory_region_flags); ${V3_07} (check_memory_region_flags: valid_flags |= KVM_MEM_USERFAULT)`,
    "a flag not valid here: a bit KVM does not know (internal ones included), GUEST_MEMFD unsupported, READONLY with " +
      "GUEST_MEMFD or unsupported, LOG_DIRTY_PAGES with GUEST_MEMFD, USERFAULT without KVM Userfault",
    "EINVAL",
  ),
  sizeAlign: rule("memslot.size-align", `${MAIN} (kvm_set_memory_region)`, "memory_size not page aligned", "EINVAL"),
  gpaAlign: rule("memslot.gpa-align", `${MAIN} (kvm_set_memory_region)`, "guest_phys_addr not page aligned", "EINVAL"),
  hva: rule("memslot.hva", `${MAIN} (kvm_set_memory_region)`, "userspace_addr unaligned, tagged, or !access_ok(userspace_addr, memory_size)", "EINVAL"),
  gmemOffset: rule("memslot.gmem-offset", `${MAIN} (kvm_set_memory_region)`, "guest_memfd_offset unaligned, or guest_memfd_offset + memory_size wraps", "EINVAL"),
  asId: rule("memslot.as-id", `${MAIN} (kvm_set_memory_region)`, "address space id >= kvm_arch_nr_memslot_as_ids", "EINVAL"),
  gpaWrap: rule("memslot.gpa-wrap", `${MAIN} (kvm_set_memory_region)`, "guest_phys_addr + memory_size wraps", "EINVAL"),
  maxPages: rule("memslot.max-pages", `${MAIN} (kvm_set_memory_region)`, "memory_size >> PAGE_SHIFT > KVM_MEM_MAX_NR_PAGES", "EINVAL"),
  bitmap: rule("memslot.userfault-bitmap", `${MAIN} (kvm_set_memory_region); ${V3_04}`, "USERFAULT with a userfault_bitmap that is tagged or fails access_ok", "EINVAL"),
  deleteMissing: rule("memslot.delete-missing", `${MAIN} (kvm_set_memory_region)`, "DELETE of a slot that does not exist", "EINVAL"),
  gmemImmutable: rule("memslot.gmem-immutable", `${MAIN} (kvm_set_memory_region): "Private memslots are immutable"`, "a guest_memfd slot can only be deleted (kernels without KVM Userfault)", "EINVAL"),
  modifyMismatch: rule(
    "memslot.modify-mismatch",
    `${MAIN} (kvm_set_memory_region: userspace_addr, npages, (flags ^ old->flags) & KVM_MEM_READONLY)`,
    "changing userspace_addr or size, or toggling READONLY, of an existing slot",
    "EINVAL",
  ),
  gmemToggle: rule(
    "faultline.memslot-gmem-toggle",
    `${MAIN} (kvm_set_memory_region: the modify branch compares READONLY only; kvm_gmem_bind runs for a CREATE only); ` +
      `virt/kvm/guest_memfd.c (kvm_gmem_bind: "memslots of flag KVM_MEM_GUEST_MEMFD are immutable to change"); docs/VOCABULARY.md`,
    "faultline's assumption: toggling GUEST_MEMFD on an existing slot is refused; the kernel lets a FLAGS_ONLY change turn it off " +
      "(with KVM Userfault v3 also on), leaving guest_memfd's bindings on the freed old slot",
    "EINVAL",
  ),
  gmemMove: rule("memslot.gmem-move", `${MAIN} (kvm_set_memory_region); ${V3_04}`, "moving a guest_memfd slot (KVM Userfault v3 relaxes immutability to this)", "EINVAL"),
  overlap: rule("memslot.overlap", `${MAIN} (kvm_check_memslot_overlap)`, "CREATE or MOVE overlaps another slot of the same address space", "EEXIST"),
  maxGfn: rule(
    "memslot.max-gfn",
    "arch/x86/kvm/x86.c (kvm_arch_prepare_memory_region, kvm_mmu_max_gfn)",
    "x86: a CREATE or MOVE ending past the largest gfn the MMU can map (after the guest_memfd bind; a MOVE has already zapped)",
    "EINVAL",
  ),
  noop: rule("memslot.noop", `${MAIN} (kvm_set_memory_region)`, "nothing changed: return 0 and do nothing"),
  create: rule("memslot.create", `${MAIN} (kvm_set_memslot, kvm_create_memslot)`, "CREATE installs the slot"),
  delete: rule("memslot.delete", `${MAIN} (kvm_set_memslot, kvm_invalidate_memslot, kvm_delete_memslot)`, "DELETE zaps the slot's mappings before it goes"),
  move: rule("memslot.move", `${MAIN} (kvm_set_memslot, kvm_invalidate_memslot, kvm_move_memslot)`, "MOVE zaps the old mappings and installs the slot at its new gfn"),
  flagsOnly: rule("memslot.flags-only", `${MAIN} (kvm_update_flags_memslot)`, "FLAGS_ONLY replaces the slot in place, without a zap as an intermediate step"),
  padUnread: rule(
    "memslot.pad-unread",
    `${MAIN} (kvm_vm_ioctl: copy_from_user of the whole struct, then kvm_vm_ioctl_set_memory_region; nothing reads pad1 or pad2); probe on 6.18.44`,
    "kvm_userspace_memory_region2's pad1 and pad2 are never checked: nonzero pads change nothing (with KVM Userfault v3, pad2[0] is userfault_bitmap)",
  ),
  userfaultEnable: rule("userfault.enable-zap", `${MAIN} (kvm_commit_memory_region, kvm_arch_userfault_enabled); ${V3_04}`, "turning USERFAULT on drops the slot's translations"),
};

const requestOf = (op: OpOf<"set_memory_region">): { hva: number; npages: number; baseGfn: number; gmemOffset: number } => ({
  hva: userspaceAddr(op),
  npages: op.memory_size / PAGE_SIZE,
  baseGfn: op.guest_phys_addr / PAGE_SIZE,
  gmemOffset: op.guest_memfd_offset ?? 0,
});

/** CREATE or MOVE: a request that installs the slot at a gfn range it did not cover (what overlap and max-gfn check). */
function placement(s: State, op: OpOf<"set_memory_region">): { vm: Vm; baseGfn: number; npages: number } | undefined {
  const vmId = s.kvm.names.get(op.vm);
  if (vmId === undefined || op.memory_size === 0) return undefined;
  const vm = s.kvm.vms[vmId]!;
  const old = vm.slots.find((sl) => sl.slot === op.slot);
  const { baseGfn, npages } = requestOf(op);
  return old === undefined || old.baseGfn !== baseGfn ? { vm, baseGfn, npages } : undefined;
}

/** The most pages the request shares with another slot of its address space (zero: adjacent, below zero: a gap). */
function overlapPages(s: State, op: OpOf<"set_memory_region">): number | undefined {
  const p = placement(s, op);
  const others = p?.vm.slots.filter((sl) => sl.as === slotAsId(op.slot) && sl.slot !== op.slot) ?? [];
  if (p === undefined || others.length === 0) return undefined;
  return Math.max(...others.map((o) => Math.min(p.baseGfn + p.npages, o.baseGfn + o.npages) - Math.max(p.baseGfn, o.baseGfn)));
}

const REGION = "set_memory_region" as const;

/** The numeric bounds of KVM_SET_USER_MEMORY_REGION2's checks, each in the unit its rule counts in. */
export const MEMSLOT_BOUNDS = {
  slotId: bound({
    rule: MEMSLOT_RULES.slotId,
    ops: [REGION],
    unit: 1,
    unitName: "slot id",
    limitName: "KVM_USER_MEM_SLOTS",
    accepts: "lt",
    measure: (s, op) => ({ value: slotId(op.slot), limit: s.config.kernel.userMemSlots }),
  }),
  hva: bound({
    rule: MEMSLOT_RULES.hva,
    ops: [REGION],
    unit: PAGE_SIZE,
    unitName: "page",
    limitName: "TASK_SIZE (access_ok)",
    accepts: "le",
    measure: (s, op) => (isPageAligned(requestOf(op).hva) ? { value: requestOf(op).hva + op.memory_size, limit: TASK_SIZE[s.config.arch] } : undefined),
  }),
  gmemOffset: bound({
    rule: MEMSLOT_RULES.gmemOffset,
    ops: [REGION],
    unit: PAGE_SIZE,
    unitName: "page",
    limitName: "2^64 (guest_memfd_offset + memory_size wraps)",
    accepts: "lt",
    measure: (_s, op) => {
      const { gmemOffset } = requestOf(op);
      return decodeFlags(op.flags, MEMSLOT_FLAG_BITS).names.includes("GUEST_MEMFD") && isPageAligned(gmemOffset) ? { value: gmemOffset + op.memory_size, limit: TWO_64 } : undefined;
    },
  }),
  asId: bound({
    rule: MEMSLOT_RULES.asId,
    ops: [REGION],
    unit: 1,
    unitName: "address space",
    limitName: "kvm_arch_nr_memslot_as_ids",
    accepts: "lt",
    measure: (s, op) => {
      const vmId = s.kvm.names.get(op.vm);
      return vmId === undefined ? undefined : { value: slotAsId(op.slot), limit: nrMemslotAsIds(s, s.kvm.vms[vmId]!) };
    },
  }),
  gpaWrap: bound({
    rule: MEMSLOT_RULES.gpaWrap,
    ops: [REGION],
    unit: PAGE_SIZE,
    unitName: "page",
    limitName: "2^64 (guest_phys_addr + memory_size wraps)",
    accepts: "lt",
    measure: (_s, op) => ({ value: op.guest_phys_addr + op.memory_size, limit: TWO_64 }),
  }),
  maxPages: bound({
    rule: MEMSLOT_RULES.maxPages,
    ops: [REGION],
    unit: 1,
    unitName: "page",
    limitName: "KVM_MEM_MAX_NR_PAGES",
    accepts: "le",
    measure: (_s, op) => ({ value: requestOf(op).npages, limit: KVM_MEM_MAX_NR_PAGES }),
  }),
  bitmap: bound({
    rule: MEMSLOT_RULES.bitmap,
    ops: [REGION],
    unit: 8,
    unitName: "64-bit bitmap word",
    limitName: "TASK_SIZE (access_ok of the bitmap, npages rounded up to 64)",
    accepts: "le",
    measure: (s, op) => {
      const ptr = userfaultBitmapArg(s, op);
      return decodeFlags(op.flags, MEMSLOT_FLAG_BITS).names.includes("USERFAULT") && typeof ptr === "number"
        ? { value: ptr + bitmapBytes(requestOf(op).npages), limit: TASK_SIZE[s.config.arch] }
        : undefined;
    },
  }),
  overlap: bound({
    rule: MEMSLOT_RULES.overlap,
    ops: [REGION],
    unit: 1,
    unitName: "page shared with another slot",
    limitName: "0 (kvm_check_memslot_overlap: exclusive ends)",
    accepts: "le",
    measure: (s, op) => {
      const pages = overlapPages(s, op);
      return pages === undefined ? undefined : { value: pages, limit: 0 };
    },
  }),
  maxGfn: bound({
    rule: MEMSLOT_RULES.maxGfn,
    ops: [REGION],
    unit: 1,
    unitName: "gfn",
    limitName: "kvm_mmu_max_gfn (x86)",
    accepts: "le",
    measure: (s, op) => {
      const p = placement(s, op);
      return s.config.arch === "x86" && p !== undefined ? { value: p.baseGfn + p.npages - 1, limit: X86_MAX_GFN } : undefined;
    },
  }),
};

const FLAG_ORDER: readonly MemslotFlagName[] = ["LOG_DIRTY_PAGES", "READONLY", "GUEST_MEMFD", "USERFAULT"];

/** check_memory_region_flags. */
function validFlags(s: State, requested: readonly MemslotFlagName[]): readonly MemslotFlagName[] {
  const k = s.config.kernel;
  const gmem = requested.includes("GUEST_MEMFD");
  const valid: MemslotFlagName[] = gmem ? [] : ["LOG_DIRTY_PAGES"];
  if (k.guestMemfd) valid.push("GUEST_MEMFD");
  if (k.readonlyMem && !gmem) valid.push("READONLY");
  if (k.userfault) valid.push("USERFAULT");
  return valid;
}

export const userspaceAddr = (op: OpOf<"set_memory_region">): number => (op.userspace === null ? 0 : mapBase(op.userspace)) + (op.userspace_offset ?? 0);

const bitmapBytes = (npages: number): number => Math.ceil(npages / 64) * 8;

export const findSlot = (vm: Vm, as: number, gfn: number): Memslot | undefined =>
  vm.slots.find((sl) => sl.as === as && gfn >= sl.baseGfn && gfn < sl.baseGfn + sl.npages);

const withVm = (s: State, id: number, vm: Vm): State => ({ ...s, kvm: { ...s.kvm, vms: replaceAt(s.kvm.vms, id, vm) } });
const withSlots = (vm: Vm, slots: readonly Memslot[]): Vm => ({ ...vm, slots: [...slots].sort((a, b) => a.slot - b.slot) });

type Change = "CREATE" | "DELETE" | "MOVE" | "FLAGS_ONLY" | "NONE";

/**
 * The userfault_bitmap KVM Userfault v3 reads: the field, else the pad2[0] word it occupies in the struct (a raw
 * address); undefined passes the VMM's own buffer (docs/VOCABULARY.md).
 */
export function userfaultBitmapArg(s: State, op: OpOf<"set_memory_region">): number | null | undefined {
  if (op.userfault_bitmap !== undefined || !s.config.kernel.userfault) return op.userfault_bitmap;
  const word = op.pad2?.[0] ?? 0;
  return word === 0 ? undefined : word;
}

/** Whether a pad word the running kernel never reads is nonzero (pad2[0] is read under KVM Userfault). */
function padsSet(s: State, op: OpOf<"set_memory_region">): boolean {
  const pad2 = s.config.kernel.userfault ? (op.pad2 ?? []).slice(1) : (op.pad2 ?? []);
  return (op.pad1 ?? 0) !== 0 || pad2.some((w) => w !== 0);
}

export function setMemoryRegion(s: State, op: OpOf<"set_memory_region">): StepResult {
  const r = kvmSetMemoryRegion(s, op);
  return padsSet(s, op) ? { ...r, fired: [MEMSLOT_RULES.padUnread.id, ...r.fired] } : r;
}

function kvmSetMemoryRegion(s: State, op: OpOf<"set_memory_region">): StepResult {
  const target = ioctlTarget(s, op.vm, "vm", VM_RULES.badFd);
  if (!target.ok) return refuse(s, target.rule);
  const vmId = target.id;
  const decoded = decodeFlags(op.flags, MEMSLOT_FLAG_BITS);
  const flags = decoded.names;
  const gmem = flags.includes("GUEST_MEMFD");
  const hva = userspaceAddr(op);
  const size = op.memory_size;
  const gmemOffset = op.guest_memfd_offset ?? 0;
  const b = MEMSLOT_BOUNDS;
  const v = validate([
    check(MEMSLOT_RULES.v1Flags, () => op.ioctl === "REGION" && hasOther(decoded, ["LOG_DIRTY_PAGES", "READONLY"])),
    check(MEMSLOT_RULES.slotId, () => outside(b.slotId, s, op)),
    check(MEMSLOT_RULES.flags, () => hasOther(decoded, validFlags(s, flags))),
    check(MEMSLOT_RULES.sizeAlign, () => !isPageAligned(size)),
    check(MEMSLOT_RULES.gpaAlign, () => !isPageAligned(op.guest_phys_addr)),
    check(MEMSLOT_RULES.hva, () => !isPageAligned(hva) || outside(b.hva, s, op)),
    check(MEMSLOT_RULES.gmemOffset, () => gmem && (!isPageAligned(gmemOffset) || outside(b.gmemOffset, s, op))),
    check(MEMSLOT_RULES.asId, () => outside(b.asId, s, op)),
    check(MEMSLOT_RULES.gpaWrap, () => outside(b.gpaWrap, s, op)),
    check(MEMSLOT_RULES.maxPages, () => outside(b.maxPages, s, op)),
    check(MEMSLOT_RULES.bitmap, () => outside(b.bitmap, s, op)),
  ]);
  return withPassed(v.failure !== undefined ? refuse(s, v.failure) : applyRegion(s, op, vmId), v.passed);
}

/** The request passed kvm_set_memory_region's checks: which change it is, and the change. */
function applyRegion(s: State, op: OpOf<"set_memory_region">, vmId: number): StepResult {
  const vm = s.kvm.vms[vmId]!;
  const flags = decodeFlags(op.flags, MEMSLOT_FLAG_BITS).names;
  const hva = userspaceAddr(op);
  const size = op.memory_size;
  const npages = size / PAGE_SIZE;
  const old = vm.slots.find((sl) => sl.slot === op.slot);
  const baseGfn = op.guest_phys_addr / PAGE_SIZE;
  const decided = classify(s, old, { flags, hva, npages, baseGfn, size });
  if ("rule" in decided) return decided.rule.errno === undefined ? result(s, { result: "ok" }, decided.rule) : refuse(s, decided.rule);
  const change = decided.change;

  const as = slotAsId(op.slot);
  if ((change === "CREATE" || change === "MOVE") && outside(MEMSLOT_BOUNDS.overlap, s, op)) return refuse(s, MEMSLOT_RULES.overlap);
  const bitmapArg = userfaultBitmapArg(s, op);
  const userfaultBitmap = flags.includes("USERFAULT") && typeof bitmapArg === "number" ? bitmapArg : null;
  const fresh: Memslot = { slot: op.slot, as, id: slotId(op.slot), baseGfn, npages, userspaceAddr: hva, flags, gmem: null, gmemOnly: false, userfaultBitmap };
  if (change === "DELETE") return deleteSlot(s, vmId, old!);
  const pastMaxGfn = outside(MEMSLOT_BOUNDS.maxGfn, s, op);
  if (change === "CREATE") return createSlot(s, vmId, fresh, flags.includes("GUEST_MEMFD") ? op.guest_memfd : undefined, op.guest_memfd_offset ?? 0, pastMaxGfn);
  const updated: Memslot = { ...fresh, gmem: old!.gmem, gmemOnly: old!.gmemOnly };
  return change === "MOVE" ? moveSlot(s, vmId, old!, updated, pastMaxGfn) : flagsOnly(s, vmId, old!, updated);
}

interface Request {
  readonly flags: readonly MemslotFlagName[];
  readonly hva: number;
  readonly npages: number;
  readonly baseGfn: number;
  readonly size: number;
}

/** Which change this is, or the rule that refuses (or no-ops) it. */
function classify(s: State, old: Memslot | undefined, req: Request): { change: Change } | { rule: Rule } {
  if (req.size === 0) return old === undefined ? { rule: MEMSLOT_RULES.deleteMissing } : { change: "DELETE" };
  if (old === undefined) return { change: "CREATE" };
  const gmem = req.flags.includes("GUEST_MEMFD");
  if (!s.config.kernel.userfault && gmem) return { rule: MEMSLOT_RULES.gmemImmutable };
  const toggles = (f: MemslotFlagName): boolean => req.flags.includes(f) !== old.flags.includes(f);
  if (req.hva !== old.userspaceAddr || req.npages !== old.npages || toggles("READONLY")) return { rule: MEMSLOT_RULES.modifyMismatch };
  if (toggles("GUEST_MEMFD")) return { rule: MEMSLOT_RULES.gmemToggle };
  if (req.baseGfn !== old.baseGfn && gmem) return { rule: MEMSLOT_RULES.gmemMove };
  if (req.baseGfn !== old.baseGfn) return { change: "MOVE" };
  if (FLAG_ORDER.some(toggles)) return { change: "FLAGS_ONLY" };
  return { rule: MEMSLOT_RULES.noop };
}

/** CREATE; pastMaxGfn: kvm_arch_prepare_memory_region (x86) refuses it after the guest_memfd bind. */
function createSlot(s: State, vmId: number, slot: Memslot, gmemName: string | undefined, gmemOffset: number, pastMaxGfn: boolean): StepResult {
  let state = s;
  let created = slot;
  const fired: Rule[] = [MEMSLOT_RULES.create];
  if (slot.flags.includes("GUEST_MEMFD")) {
    const bound = gmemBind(s, vmId, slot, gmemName, gmemOffset);
    if (!bound.ok) return refuse(s, bound.rule);
    state = bound.state;
    created = bound.slot;
    fired.push(GMEM_RULES.bind, ...bound.fired);
  }
  if (pastMaxGfn) return refuse(s, MEMSLOT_RULES.maxGfn);
  const vm = state.kvm.vms[vmId]!;
  const dirty = dirtyBitmapFor(vm, undefined, created);
  const next = { ...withSlots(dirty.vm, [...vm.slots, created]), bitmaps: withEntry(vm.bitmaps, slot.slot, EMPTY_RANGES) };
  return result(withVm(state, vmId, next), { result: "ok" }, ...fired, ...dirty.fired);
}

function deleteSlot(s: State, vmId: number, old: Memslot): StepResult {
  const flushed = flushShadowMemslot(s, s.kvm.vms[vmId]!, old);
  const dirty = dirtyBitmapFor(flushed.vm, old, undefined);
  const vm = { ...withSlots(dirty.vm, flushed.vm.slots.filter((sl) => sl !== old)), bitmaps: withoutEntry(flushed.vm.bitmaps, old.slot) };
  return result(gmemUnbind(withVm(s, vmId, vm), old), { result: "ok" }, MEMSLOT_RULES.delete, flushed.rule, ...dirty.fired);
}

const enables = (old: Memslot, next: Memslot, f: MemslotFlagName): boolean => !old.flags.includes(f) && next.flags.includes(f);
const disables = (old: Memslot, next: Memslot, f: MemslotFlagName): boolean => old.flags.includes(f) && !next.flags.includes(f);

/** MOVE; pastMaxGfn: kvm_arch_prepare_memory_region (x86) refuses it after the zap. */
function moveSlot(s: State, vmId: number, old: Memslot, moved: Memslot, pastMaxGfn: boolean): StepResult {
  const flushed = flushShadowMemslot(s, s.kvm.vms[vmId]!, old);
  if (pastMaxGfn) return result(withVm(s, vmId, flushed.vm), { errno: "EINVAL" }, MEMSLOT_RULES.move, flushed.rule, MEMSLOT_RULES.maxGfn);
  const dirty = dirtyBitmapFor(flushed.vm, old, moved);
  const vm = withSlots(dirty.vm, flushed.vm.slots.map((sl) => (sl === old ? moved : sl)));
  const extra = enables(old, moved, "USERFAULT") ? [MEMSLOT_RULES.userfaultEnable] : [];
  return result(withVm(s, vmId, vm), { result: "ok" }, MEMSLOT_RULES.move, flushed.rule, ...extra, ...dirty.fired);
}

/** FLAGS_ONLY: the arch commit (kvm_mmu_slot_apply_flags / arm64 commit), then the userfault-enable zap. */
function flagsOnly(s: State, vmId: number, old: Memslot, next: Memslot): StepResult {
  const x86 = s.config.arch === "x86";
  const dirty = dirtyBitmapFor(s.kvm.vms[vmId]!, old, next);
  const fired: Rule[] = [MEMSLOT_RULES.flagsOnly, ...dirty.fired];
  let vm = withSlots(dirty.vm, dirty.vm.slots.map((sl) => (sl === old ? next : sl)));
  const at = (v: Vm): State => withVm(s, vmId, v);
  if (x86 && disables(old, next, "USERFAULT") && next.flags.includes("LOG_DIRTY_PAGES")) fired.push(DIRTY_LOG_RULES.userfaultOffLogging);
  else if (x86 && disables(old, next, "USERFAULT")) {
    vm = recoverHugePages(at(vm), vm, next);
    fired.push(MMU_RULES.recover);
  }
  const roSkip = x86 && next.flags.includes("READONLY");
  const initSet = (vm.manualDirtyLogProtect & INITIALLY_SET) !== 0;
  if (enables(old, next, "LOG_DIRTY_PAGES") && !roSkip && initSet) fired.push(DIRTY_LOG_RULES.initSetNoWp);
  else if (enables(old, next, "LOG_DIRTY_PAGES") && !roSkip) {
    vm = writeProtectSlot(vm, next);
    fired.push(MMU_RULES.writeProtect);
  }
  if (x86 && disables(old, next, "LOG_DIRTY_PAGES") && !roSkip) {
    vm = recoverHugePages(at(vm), vm, next);
    fired.push(next.flags.includes("USERFAULT") ? DIRTY_LOG_RULES.loggingOffUserfault : MMU_RULES.recover);
  }
  if (enables(old, next, "USERFAULT") && s.config.faultExit === "eager-split") {
    vm = demoteSlot(vm, old);
    fired.push(VARIANT_RULES.eagerSplit);
  } else if (enables(old, next, "USERFAULT")) {
    const flushed = flushShadowMemslot(s, vm, old);
    vm = flushed.vm;
    fired.push(MEMSLOT_RULES.userfaultEnable, flushed.rule);
  }
  if (!x86 && disables(old, next, "USERFAULT") && s.config.faultExit === "userfault-v1") {
    vm = zapSlot(vm, old);
    fired.push(VARIANT_RULES.v1DisableZap, MMU_RULES.zapSlot);
  }
  return result(at(vm), { result: "ok" }, ...fired);
}
