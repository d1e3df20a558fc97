// Dirty logging the kernel's way: memslot->dirty_bitmap allocated in kvm_prepare_memory_region, set by
// mark_page_dirty_in_slot (atomically, with or without mmu_lock), harvested by KVM_GET_DIRTY_LOG / KVM_CLEAR_DIRTY_LOG
// under slots_lock, a word at a time under mmu_lock (write), each word's pages write-protected before mmu_lock drops.
import { DIRTY_LOG_MANUAL_BITS, word32 } from "../../schema/flags.js";
import type { OpOf } from "../../schema/ops.js";
import type { Outcome } from "../../schema/outcome.js";
import type { Bugs } from "../bugs.js";
import type { Hooks } from "../hooks.js";
import { Bitmap } from "../util/bitmap.js";
import { MEM, type ImplMemslot, type Kvm } from "./kvm.js";

const ENABLE = 1;
const INITIALLY_SET = 2;
const WORD = 64;
const EINVAL: Outcome = { errno: "EINVAL" };
const ENOENT: Outcome = { errno: "ENOENT" };

/** kvm_dirty_log_manual_protect_and_init_set. */
export const initiallySet = (kvm: Kvm): boolean => (kvm.manualDirtyLogProtect & INITIALLY_SET) !== 0;

/** kvm_prepare_memory_region: the bitmap `next` gets (the old one kept, a new one, or none). */
export function dirtyBitmapFor(kvm: Kvm, old: ImplMemslot | undefined, next: Omit<ImplMemslot, "dirtyBitmap">): Bitmap | null {
  if ((next.flags & MEM.LOG_DIRTY_PAGES) === 0) return null;
  if (old?.dirtyBitmap) return old.dirtyBitmap;
  const b = new Bitmap(next.npages);
  // kvm_alloc_dirty_bitmap + bitmap_set under KVM_DIRTY_LOG_INITIALLY_SET.
  if (initiallySet(kvm)) b.assign(0, next.npages, true);
  return b;
}

/** mark_page_dirty_in_slot: set_bit_le on the slot's bitmap (atomic; callers may or may not hold mmu_lock). */
export function markPageDirty(slot: ImplMemslot, gfn: number): void {
  const b = slot.dirtyBitmap;
  if (b !== null && !b.test(gfn - slot.baseGfn)) b.assign(gfn - slot.baseGfn, gfn - slot.baseGfn + 1, true);
}

/** The set bits of [start, end) (slot-relative offsets). */
const setOffsets = (b: Bitmap, start: number, end: number): number[] => {
  const out: number[] = [];
  for (let i = start; i < end; i++) if (b.test(i)) out.push(i);
  return out;
};

/**
 * kvm_arch_mmu_enable_log_dirty_pt_masked (held: mmu_lock for write), one word's pages as gfns: x86 write-protects
 * their 4 KiB leaves, under INITIALLY_SET first the huge leaves holding the first and last page; arm64's
 * stage2_wp_range takes every leaf from the first page to the last.
 */
function protectMasked(bugs: Bugs, kvm: Kvm, slot: ImplMemslot, gfns: readonly number[]): void {
  if (gfns.length === 0) return;
  const s2 = kvm.stage2[slot.as]!;
  const first = gfns[0]!;
  const last = gfns[gfns.length - 1]!;
  /** Write-protects the leaf holding gfn when `which` takes its level. */
  const ro = (gfn: number, which: (level: number) => boolean): void => {
    const hit = s2.lookup(gfn);
    if (hit !== undefined && hit.leaf.writable && which(hit.leaf.level)) s2.install(gfn - hit.delta, { ...hit.leaf, writable: false });
  };
  if (kvm.config.arch === "arm64") {
    for (const { gfn } of s2.leaves(first, last + 1)) ro(gfn, () => true);
    return;
  }
  // The seeded mistake forgets kvm_mmu_slot_gfn_write_protect(..., PG_LEVEL_2M): huge leaves stay writable.
  if (initiallySet(kvm) && !bugs.has("dirty-log-huge-writable")) for (const g of [first, last]) ro(g, (l) => l > 0);
  for (const g of gfns) ro(g, (l) => l === 0);
}

/** KVM_ENABLE_CAP(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2). */
export function enableCap(kvm: Kvm, op: OpOf<"enable_cap">): Outcome {
  const args = word32(op.args0, DIRTY_LOG_MANUAL_BITS);
  const allowed = args & ENABLE ? ENABLE | INITIALLY_SET : ENABLE;
  // dirtylog.cap-args: 64-bit args[0]; a raw bit past 31 is refused like any other.
  const high = (op.args0 ?? []).some((f) => typeof f === "number" && f >= 2 ** 32);
  if ((op.flags ?? 0) !== 0 || (args & ~allowed) !== 0 || high) return EINVAL;
  kvm.manualDirtyLogProtect = args;
  return { result: "ok" };
}

/** dirtylog.slot-id, then the slot and its bitmap (dirtylog.no-bitmap); caller holds slots_lock. */
function loggedSlot(kvm: Kvm, raw: number): ImplMemslot | Outcome {
  const slot = kvm.memslots[Math.floor(raw / 65536)]!.get(raw);
  return slot?.dirtyBitmap ? slot : ENOENT;
}

const badId = (kvm: Kvm, raw: number): boolean => Math.floor(raw / 65536) >= kvm.nrMemslotAsIds || raw % 65536 >= kvm.config.kernel.userMemSlots;

const text = (b: Bitmap, npages: number): string => {
  const chars = new Array<string>(npages).fill("0");
  for (const r of b.runs()) chars.fill("1", r.start, Math.min(r.end, npages));
  return chars.join("");
};

/** kvm_vm_ioctl_get_dirty_log -> kvm_get_dirty_log_protect. */
export async function getDirtyLog(bugs: Bugs, kvm: Kvm, op: OpOf<"get_dirty_log">, h: Hooks): Promise<Outcome> {
  if (badId(kvm, op.slot)) return EINVAL;
  await kvm.slotsLock.lock(h);
  try {
    const slot = loggedSlot(kvm, op.slot);
    if (!("slot" in slot)) return slot;
    const b = slot.dirtyBitmap!;
    // Manual protect: the live bitmap is copied out as it stands, nothing is cleared until KVM_CLEAR_DIRTY_LOG.
    if (kvm.manualDirtyLogProtect & ENABLE) return { result: "ok", dirty_bitmap: text(b, slot.npages) };
    const harvested = new Bitmap(slot.npages);
    await kvm.mmuLock.write(h);
    try {
      for (let w = 0; w < slot.npages; w += WORD) {
        const end = Math.min(w + WORD, slot.npages);
        const mask = setOffsets(b, w, end);
        if (mask.length === 0) continue;
        // xchg(&dirty_bitmap[i], 0): KVM's own writes mark pages without mmu_lock. The seeded mistake loads the word,
        // then stores 0, so a mark landing in between is lost.
        if (bugs.has("dirty-log-get-nonatomic")) {
          await h.yield("kvm_get_dirty_log_protect:xchg");
          b.assign(w, end, false);
        } else {
          for (const i of mask) b.assign(i, i + 1, false);
        }
        for (const i of mask) harvested.assign(i, i + 1, true);
        protectMasked(bugs, kvm, slot, mask.map((i) => slot.baseGfn + i));
      }
    } finally {
      kvm.mmuLock.writeUnlock();
    }
    return { result: "ok", dirty_bitmap: text(harvested, slot.npages) };
  } finally {
    kvm.slotsLock.unlock();
  }
}

/** kvm_vm_ioctl_clear_dirty_log -> kvm_clear_dirty_log_protect. */
export async function clearDirtyLog(bugs: Bugs, kvm: Kvm, op: OpOf<"clear_dirty_log">, h: Hooks): Promise<Outcome> {
  if (badId(kvm, op.slot)) return EINVAL;
  // dirtylog.clear-first-page, before the lookup; the seeded slip masks with BITS_PER_LONG itself.
  if ((bugs.has("dirty-log-clear-first-page-mask") ? op.first_page & WORD : op.first_page % WORD) !== 0) return EINVAL;
  await kvm.slotsLock.lock(h);
  try {
    const slot = loggedSlot(kvm, op.slot);
    if (!("slot" in slot)) return slot;
    const rest = slot.npages - op.first_page;
    // dirtylog.clear-range; the seeded slip refuses a range that reaches the slot's end.
    const past = bugs.has("dirty-log-clear-end-exclusive") ? op.num_pages >= rest : op.num_pages > rest;
    if (op.first_page > slot.npages || past || (op.num_pages < rest && op.num_pages % WORD !== 0)) return EINVAL;
    const b = slot.dirtyBitmap!;
    const span = Math.ceil(op.num_pages / WORD) * WORD;
    const asked = new Set((op.pages ?? Array.from({ length: op.num_pages }, (_, i) => i)).filter((p) => p < span).map((p) => op.first_page + p));
    await kvm.mmuLock.write(h);
    try {
      for (let w = op.first_page; w < op.first_page + span; w += WORD) {
        // atomic_long_fetch_andnot: only the bits that were set count as cleared, and only they are protected.
        const cleared = setOffsets(b, w, Math.min(w + WORD, slot.npages)).filter((i) => asked.has(i));
        for (const i of cleared) b.assign(i, i + 1, false);
        // The seeded mistake clears the bits and leaves the pages writable: later writes go unlogged.
        if (!bugs.has("dirty-log-clear-no-wp")) protectMasked(bugs, kvm, slot, cleared.map((i) => slot.baseGfn + i));
      }
    } finally {
      kvm.mmuLock.writeUnlock();
    }
    return { result: "ok" };
  } finally {
    kvm.slotsLock.unlock();
  }
}
