// kvm_vm_ioctl_set_memory_region -> kvm_set_memory_region -> kvm_set_memslot, with the INVALID slot, the SRCU
// synchronizations and the commit-time arch work where the kernel does them.
import { KVM_MEM_MAX_NR_PAGES, PAGE_SIZE, TASK_SIZE, TWO_64, X86_MAX_GFN } from "../../model/consts.js";
import { mapBase } from "../../model/mm/layout.js";
import { MEMSLOT_FLAG_BITS, word32 } from "../../schema/flags.js";
import type { OpOf } from "../../schema/ops.js";
import type { Outcome } from "../../schema/outcome.js";
import type { Bugs } from "../bugs.js";
import { gmemBind, gmemUnbind, type GmemInode } from "../gmem/gmem.js";
import type { Hooks } from "../hooks.js";
import { Bitmap } from "../util/bitmap.js";
import { has, MEM, type ImplMemslot, type Kvm, type Memslots } from "./kvm.js";
import { dirtyBitmapFor, initiallySet } from "./dirty-log.js";
import { flushShadowMemslot, recoverHugePages, splitHugePages, zapSlot, type MmuCtx } from "./mmu.js";

export interface MemslotCtx extends MmuCtx {
  readonly bugs: Bugs;
  /** kvm_gmem_bind's fget and f_op check: the guest_memfd a name refers to, EBADF when not open, EINVAL when not a guest_memfd. */
  readonly gmemFd: (name: string) => { id: number; inode: GmemInode } | { errno: "EBADF" | "EINVAL" };
  readonly gmemInodes: readonly GmemInode[];
}

const EINVAL: Outcome = { errno: "EINVAL" };
const OK: Outcome = { result: "ok" };

/** a + b >= 2^64 (doubles hold 2^64 exactly, 2^64 - 1 not); a seeded slip lets a sum of exactly 2^64 through. */
const wraps = (sum: number, slip: boolean): boolean => (slip ? sum > TWO_64 : sum >= TWO_64);

/** KVM Userfault v3's userfault_bitmap: the field, else the pad2[0] word it takes in the struct. */
function bitmapArg(kvm: Kvm, op: OpOf<"set_memory_region">): number | null | undefined {
  if (op.userfault_bitmap !== undefined || !kvm.config.kernel.userfault) return op.userfault_bitmap;
  const word = op.pad2?.[0] ?? 0;
  return word === 0 ? undefined : word;
}

/** check_memory_region_flags. */
function validFlags(kvm: Kvm, requested: number): number {
  const k = kvm.config.kernel;
  let valid = MEM.LOG_DIRTY_PAGES;
  if (k.guestMemfd) valid |= MEM.GUEST_MEMFD;
  if (requested & MEM.GUEST_MEMFD) valid &= ~MEM.LOG_DIRTY_PAGES;
  if (k.readonlyMem && !(requested & MEM.GUEST_MEMFD)) valid |= MEM.READONLY;
  if (k.userfault) valid |= MEM.USERFAULT;
  return valid;
}

export async function setMemoryRegion(ctx: MemslotCtx, kvm: Kvm, vmId: number, op: OpOf<"set_memory_region">, h: Hooks): Promise<Outcome> {
  const flags = word32(op.flags, MEMSLOT_FLAG_BITS);
  if (op.ioctl === "REGION" && flags & ~(MEM.LOG_DIRTY_PAGES | MEM.READONLY)) return EINVAL;
  // memslot.slot-id; the seeded slip compares with > and takes id KVM_USER_MEM_SLOTS.
  if (op.slot % 65536 >= kvm.config.kernel.userMemSlots + (ctx.bugs.has("memslot-slot-id-inclusive") ? 1 : 0)) return EINVAL;
  await kvm.slotsLock.lock(h);
  try {
    return await kvmSetMemoryRegion(ctx, kvm, vmId, op, flags, h);
  } finally {
    kvm.slotsLock.unlock();
  }
}

async function kvmSetMemoryRegion(ctx: MemslotCtx, kvm: Kvm, vmId: number, op: OpOf<"set_memory_region">, flags: number, h: Hooks): Promise<Outcome> {
  const arch = kvm.config.arch;
  const size = op.memory_size;
  const hva = (op.userspace === null ? 0 : mapBase(op.userspace)) + (op.userspace_offset ?? 0);
  const gmemOffset = op.guest_memfd_offset ?? 0;
  const asId = Math.floor(op.slot / 65536);
  const npages = size / PAGE_SIZE;
  if (flags & ~validFlags(kvm, flags)) return EINVAL;
  if (size % PAGE_SIZE !== 0 || op.guest_phys_addr % PAGE_SIZE !== 0) return EINVAL;
  // memslot.hva: access_ok(userspace_addr, memory_size) takes a range ending at TASK_SIZE.
  if (hva % PAGE_SIZE !== 0 || hva + size > TASK_SIZE[arch] - (ctx.bugs.has("memslot-hva-end-exclusive") ? 1 : 0)) return EINVAL;
  // memslot.gmem-offset, memslot.as-id, memslot.gpa-wrap, memslot.max-pages.
  if (flags & MEM.GUEST_MEMFD && (gmemOffset % PAGE_SIZE !== 0 || wraps(gmemOffset + size, ctx.bugs.has("memslot-gmem-offset-wrap-inclusive")))) return EINVAL;
  if (asId >= kvm.nrMemslotAsIds + (ctx.bugs.has("memslot-as-id-inclusive") ? 1 : 0)) return EINVAL;
  if (wraps(op.guest_phys_addr + size, ctx.bugs.has("memslot-gpa-wrap-inclusive"))) return EINVAL;
  if (npages > KVM_MEM_MAX_NR_PAGES - (ctx.bugs.has("memslot-max-pages-exclusive") ? 1 : 0)) return EINVAL;
  const bitmap = bitmapArg(kvm, op);
  const bitmapPtr = flags & MEM.USERFAULT && typeof bitmap === "number" ? bitmap : null;
  // memslot.userfault-bitmap: one bit per page, rounded up to whole 64-bit words; the seeded slip rounds down.
  const words = ctx.bugs.has("userfault-bitmap-words-floor") ? Math.floor(npages / 64) : Math.ceil(npages / 64);
  if (bitmapPtr !== null && !ctx.bugs.has("userfault-bitmap-unchecked") && bitmapPtr + words * 8 > TASK_SIZE[arch]) return EINVAL;

  const slots = kvm.memslots[asId]!;
  const old = slots.get(op.slot);
  const baseGfn = op.guest_phys_addr / PAGE_SIZE;
  if (size === 0) return old === undefined ? EINVAL : kvmDeleteMemslot(ctx, kvm, old, h);
  const base: Omit<ImplMemslot, "dirtyBitmap"> = {
    slot: op.slot,
    as: asId,
    id: op.slot % 65536,
    baseGfn,
    npages,
    userspaceAddr: hva,
    flags,
    gmem: old?.gmem ?? null,
    gmemOnly: old?.gmemOnly ?? false,
    userfaultBitmap: bitmapPtr,
    invalid: false,
  };
  const next: ImplMemslot = { ...base, dirtyBitmap: dirtyBitmapFor(kvm, old, base) };
  if (old === undefined) {
    if (overlaps(ctx, slots, next)) return { errno: "EEXIST" };
    return kvmCreateMemslot(ctx, kvm, vmId, next, op, h);
  }
  if (!kvm.config.kernel.userfault && flags & MEM.GUEST_MEMFD) return EINVAL;
  if (hva !== old.userspaceAddr || npages !== old.npages || (flags ^ old.flags) & (MEM.READONLY | MEM.GUEST_MEMFD)) return EINVAL;
  if (baseGfn !== old.baseGfn && flags & MEM.GUEST_MEMFD) return EINVAL;
  if (baseGfn !== old.baseGfn) {
    if (overlaps(ctx, slots, next)) return { errno: "EEXIST" };
    return kvmMoveMemslot(ctx, kvm, old, next, h);
  }
  if (flags !== old.flags) return kvmUpdateFlags(ctx, kvm, old, next, h);
  return OK;
}

/** x86 kvm_arch_prepare_memory_region: CREATE and MOVE must end at or below kvm_mmu_max_gfn() (memslot.max-gfn). */
const beyondMaxGfn = (ctx: MemslotCtx, kvm: Kvm, slot: ImplMemslot): boolean =>
  kvm.config.arch === "x86" && slot.baseGfn + slot.npages - (ctx.bugs.has("memslot-max-gfn-exclusive") ? 0 : 1) > X86_MAX_GFN;

/** kvm_check_memslot_overlap. */
function overlaps(ctx: MemslotCtx, slots: Memslots, next: ImplMemslot): boolean {
  const end = next.baseGfn + next.npages;
  const slack = ctx.bugs.has("memslot-overlap-off-by-one") ? 1 : 0;
  return slots.sorted.some((s) => s.slot !== next.slot && next.baseGfn < s.baseGfn + s.npages - slack && s.baseGfn < end);
}

/** kvm_swap_active_memslots: publish a new memslot set, waiting out notifier invalidations and SRCU readers. */
async function publish(kvm: Kvm, asId: number, slots: Memslots, h: Hooks, sync = true): Promise<void> {
  await h.yield("kvm_swap_active_memslots", () => kvm.mnActiveInvalidateCount === 0);
  kvm.memslots[asId] = slots;
  if (sync) await kvm.srcu.synchronize(h);
}

async function kvmCreateMemslot(ctx: MemslotCtx, kvm: Kvm, vmId: number, next: ImplMemslot, op: OpOf<"set_memory_region">, h: Hooks): Promise<Outcome> {
  let slot = next;
  if (next.flags & MEM.GUEST_MEMFD) {
    if (op.guest_memfd === undefined) return EINVAL;
    const g = ctx.gmemFd(op.guest_memfd);
    if ("errno" in g) return g;
    const offset = op.guest_memfd_offset ?? 0;
    const bound = await gmemBind(ctx.bugs, g.inode, vmId, next.slot, next.npages, offset, h);
    if (bound !== "ok") return bound;
    slot = { ...next, gmem: { inode: g.id, pgoff: offset / PAGE_SIZE }, gmemOnly: g.inode.flags.includes("MMAP") };
  }
  if (beyondMaxGfn(ctx, kvm, slot)) {
    if (slot.gmem !== null) gmemUnbind(ctx.gmemInodes[slot.gmem.inode]!, slot.gmem.pgoff, slot.npages);
    return EINVAL;
  }
  // The bitmap buffer exists before the slot is published: a vCPU that finds the slot reads it at once. The
  // seeded mistake allocates it only after kvm_swap_active_memslots, so a fault in that window reads nothing.
  const late = ctx.bugs.has("memslot-create-bitmap-late");
  const bitmap = new Bitmap(slot.npages, ctx.bugs.has("bitmap-first-word-mask-short"));
  if (!late) kvm.bitmaps.set(slot.slot, bitmap);
  await publish(kvm, slot.as, kvm.memslots[slot.as]!.with(undefined, slot), h);
  if (late) kvm.bitmaps.set(slot.slot, bitmap);
  return OK;
}

/** DELETE and MOVE first publish an INVALID copy, wait for readers, and flush the old slot's mappings. */
async function invalidateMemslot(ctx: MemslotCtx, kvm: Kvm, old: ImplMemslot, h: Hooks, flush: boolean, range = old): Promise<ImplMemslot> {
  const invalid = { ...old, invalid: true };
  await publish(kvm, old.as, kvm.memslots[old.as]!.with(old, invalid), h, !ctx.bugs.has("memslot-invalidate-no-sync"));
  if (flush) await flushShadowMemslot(ctx, kvm, range, h);
  return invalid;
}

async function kvmDeleteMemslot(ctx: MemslotCtx, kvm: Kvm, old: ImplMemslot, h: Hooks): Promise<Outcome> {
  const invalid = await invalidateMemslot(ctx, kvm, old, h, !ctx.bugs.has("delete-no-zap"));
  await publish(kvm, old.as, kvm.memslots[old.as]!.with(invalid, undefined), h);
  if (old.gmem !== null) gmemUnbind(ctx.gmemInodes[old.gmem.inode]!, old.gmem.pgoff, old.npages);
  kvm.bitmaps.delete(old.slot);
  return OK;
}

async function kvmMoveMemslot(ctx: MemslotCtx, kvm: Kvm, old: ImplMemslot, next: ImplMemslot, h: Hooks): Promise<Outcome> {
  // The seeded mistake flushes the destination's range: kvm_mmu_zap_all_fast (x86's quirk) hides it.
  const invalid = await invalidateMemslot(ctx, kvm, old, h, true, ctx.bugs.has("memslot-move-flush-new") ? next : old);
  if (beyondMaxGfn(ctx, kvm, next)) {
    // kvm_prepare_memory_region failed after the zap: the old slot is reactivated, the zap is not undone.
    await publish(kvm, old.as, kvm.memslots[old.as]!.with(invalid, old), h);
    return EINVAL;
  }
  await publish(kvm, old.as, kvm.memslots[old.as]!.with(invalid, next), h);
  return OK;
}

/** kvm_mmu_wp_memory_region / kvm_mmu_slot_remove_write_access: every mapping of the slot read-only, under mmu_lock. */
async function writeProtectSlot(kvm: Kvm, slot: ImplMemslot, h: Hooks): Promise<void> {
  await kvm.mmuLock.write(h);
  kvm.stage2[slot.as]!.update(slot.baseGfn, slot.baseGfn + slot.npages, (l) => ({ ...l, writable: false }));
  kvm.mmuLock.writeUnlock();
}

/** FLAGS_ONLY: replace in place, then kvm_commit_memory_region's arch work and the userfault-enable zap. */
async function kvmUpdateFlags(ctx: MemslotCtx, kvm: Kvm, old: ImplMemslot, next: ImplMemslot, h: Hooks): Promise<Outcome> {
  const turnedOn = (f: keyof typeof MEM): boolean => !has(old, f) && has(next, f);
  const x86 = kvm.config.arch === "x86";
  const roSkip = x86 && has(next, "READONLY");
  // Under KVM_DIRTY_LOG_INITIALLY_SET every bit starts set: nothing to protect until KVM_CLEAR_DIRTY_LOG.
  const protect = turnedOn("LOG_DIRTY_PAGES") && !roSkip && !initiallySet(kvm);
  // The seeded mistake protects before the swap: a fault that found the old slot in between maps the page writable, unlogged.
  const protectEarly = protect && ctx.bugs.has("dirty-log-enable-wp-early");
  if (protectEarly) await writeProtectSlot(kvm, old, h);
  const zapEarly = turnedOn("USERFAULT") && ctx.bugs.has("userfault-enable-zap-early");
  if (zapEarly) await flushShadowMemslot(ctx, kvm, old, h);
  // synchronize_srcu in kvm_swap_active_memslots: faults that read the old flags finish before the zap below.
  const sync = !(turnedOn("USERFAULT") && ctx.bugs.has("userfault-enable-no-sync"));
  await publish(kvm, old.as, kvm.memslots[old.as]!.with(old, next), h, sync);
  const turnedOff = (f: keyof typeof MEM): boolean => has(old, f) && !has(next, f);
  if (x86 && turnedOff("USERFAULT") && !has(next, "LOG_DIRTY_PAGES")) await recoverHugePages(ctx, kvm, next, h);
  if (protect && !protectEarly) await writeProtectSlot(kvm, next, h);
  if (x86 && turnedOff("LOG_DIRTY_PAGES") && !roSkip) await recoverHugePages(ctx, kvm, next, h);
  const design = kvm.config.faultExit;
  if (turnedOn("USERFAULT") && design === "eager-split") await splitHugePages(kvm, next, h);
  else if (turnedOn("USERFAULT") && !zapEarly && !ctx.bugs.has("userfault-enable-no-zap")) await flushShadowMemslot(ctx, kvm, old, h);
  if (!x86 && turnedOff("USERFAULT") && design === "userfault-v1") await zapSlot(kvm, old, h);
  return OK;
}
