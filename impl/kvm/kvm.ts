// struct kvm: memslots published under SRCU, slots_lock, mmu_lock, the mmu_invalidate state, attributes,
// the stage-2 tables and the VMM's userfault bitmap buffers.
import type { Config } from "../../schema/config.js";
import { bugsOf } from "../bugs.js";
import { Mutex, RwLock, Srcu } from "../locks.js";
import { Bitmap } from "../util/bitmap.js";
import { RangeMap } from "../util/rangemap.js";
import { Stage2 } from "./stage2.js";

export const MEM = { LOG_DIRTY_PAGES: 1, READONLY: 2, GUEST_MEMFD: 4, USERFAULT: 8 } as const;
export type MemFlag = keyof typeof MEM;

export interface ImplMemslot {
  readonly slot: number;
  readonly as: number;
  readonly id: number;
  readonly baseGfn: number;
  readonly npages: number;
  readonly userspaceAddr: number;
  readonly flags: number;
  readonly gmem: { readonly inode: number; readonly pgoff: number } | null;
  readonly gmemOnly: boolean;
  readonly userfaultBitmap: number | null;
  /** KVM_MEMSLOT_INVALID: being deleted or moved; lookups treat it as absent. */
  readonly invalid: boolean;
  /** memslot->dirty_bitmap while LOG_DIRTY_PAGES is on: one object shared by the old and new slot across MOVE and FLAGS_ONLY. */
  readonly dirtyBitmap: Bitmap | null;
}

export const has = (slot: ImplMemslot, f: MemFlag): boolean => (slot.flags & MEM[f]) !== 0;

/** How the slot search treats a slot's end: exactly, or with a seeded slip at either side of it (impl/bugs.ts). */
export type Lookup = "exact" | "past-end" | "misses-last-page";

/** struct kvm_memslots of one address space: an immutable snapshot, sorted by base gfn. */
export class Memslots {
  private readonly byRaw: Map<number, ImplMemslot>;
  /** End gfns in slot order, searched without touching the slot objects. */
  private readonly ends: Float64Array;

  constructor(
    readonly sorted: readonly ImplMemslot[],
    private readonly lookup: Lookup = "exact",
  ) {
    this.byRaw = new Map(sorted.map((s) => [s.slot, s]));
    this.ends = Float64Array.from(sorted, (s) => s.baseGfn + s.npages);
  }

  /** The slot covering gfn, INVALID ones included (O(log n)). */
  find(gfn: number): ImplMemslot | undefined {
    const ends = this.ends;
    let lo = 0;
    let hi = ends.length;
    // The slips: a slot "ends" one page late (its end gfn found in it) or one early (its last page missed).
    const shift = this.lookup === "past-end" ? 1 : this.lookup === "misses-last-page" ? -1 : 0;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ends[mid]! + shift <= gfn) lo = mid + 1;
      else hi = mid;
    }
    const s = this.sorted[lo];
    return s !== undefined && s.baseGfn <= gfn ? s : undefined;
  }

  get(raw: number): ImplMemslot | undefined {
    return this.byRaw.get(raw);
  }

  /** A new snapshot with `old` replaced by `next` (either may be absent). */
  with(old: ImplMemslot | undefined, next: ImplMemslot | undefined): Memslots {
    const rest = this.sorted.filter((s) => s !== old);
    if (next !== undefined) rest.push(next);
    return new Memslots(
      rest.sort((a, b) => a.baseGfn - b.baseGfn),
      this.lookup,
    );
  }
}

export class Kvm {
  memslots: Memslots[];
  readonly slotsLock = new Mutex("slots_lock");
  readonly srcu = new Srcu("kvm->srcu");
  readonly mmuLock = new RwLock("mmu_lock");
  mmuInvalidateSeq = 0;
  /** Only the seeded bug `userfault-exit-cached` reads this: each vCPU's last USERFAULT exit gfn. */
  readonly lastUserfaultGfn = new Map<number, number>();
  /** Only the seeded bug `error-pfn-exit-cached` reads this: each vCPU's last annotated GUP-failure gfn. */
  readonly lastErrorPfnGfn = new Map<number, number>();
  mmuInvalidateInProgress = 0;
  mmuInvalidateRangeStart = Infinity;
  mmuInvalidateRangeEnd = -Infinity;
  /** mn_active_invalidate_count: memslot updates wait while host-mm invalidations are in flight. */
  mnActiveInvalidateCount = 0;
  /** Bumped by kvm_mmu_zap_all_fast: a fault that loaded an older root is stale (is_obsolete_root). */
  rootGen = 0;
  /** kvm->mem_attr_array: gfn -> PRIVATE. */
  readonly attributes: RangeMap<true>;
  readonly stage2: Stage2[];
  /** The VMM's userfault bitmap buffer per raw slot (userspace memory KVM reads). */
  readonly bitmaps = new Map<number, Bitmap>();
  /** kvm->manual_dirty_log_protect (KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2): ENABLE 1, INITIALLY_SET 2. */
  manualDirtyLogProtect = 0;

  constructor(
    readonly type: number,
    readonly config: Config,
  ) {
    const bugs = bugsOf(config.bugs);
    const lookup: Lookup = bugs.has("memslot-lookup-past-end") ? "past-end" : bugs.has("memslot-lookup-misses-last-page") ? "misses-last-page" : "exact";
    this.memslots = Array.from({ length: config.kernel.addressSpaces }, () => new Memslots([], lookup));
    this.attributes = new RangeMap<true>(Object.is, bugs.has("attributes-split-loses-tail"));
    this.stage2 = Array.from({ length: config.kernel.addressSpaces }, () => new Stage2());
  }

  get hasPrivateMem(): boolean {
    return this.type === 1;
  }

  /** kvm_arch_nr_memslot_as_ids: no SMM address space for a VM with private memory. */
  get nrMemslotAsIds(): number {
    return this.hasPrivateMem ? 1 : this.config.kernel.addressSpaces;
  }

  /** kvm_mmu_invalidate_begin: caller holds mmu_lock for write. */
  invalidateBegin(): void {
    this.mmuInvalidateInProgress++;
    if (this.mmuInvalidateInProgress === 1) {
      this.mmuInvalidateRangeStart = Infinity;
      this.mmuInvalidateRangeEnd = -Infinity;
    }
  }

  /** kvm_mmu_invalidate_range_add. */
  invalidateRangeAdd(start: number, end: number): void {
    this.mmuInvalidateRangeStart = Math.min(this.mmuInvalidateRangeStart, start);
    this.mmuInvalidateRangeEnd = Math.max(this.mmuInvalidateRangeEnd, end);
  }

  /** kvm_mmu_invalidate_end: the sequence moves on before in_progress drops. */
  invalidateEnd(): void {
    this.mmuInvalidateSeq++;
    this.mmuInvalidateInProgress--;
  }

  /** mmu_invalidate_retry_gfn: an invalidation of gfn is in flight, or one completed since seq was read. */
  invalidateRetry(seq: number, gfn: number): boolean {
    if (this.mmuInvalidateInProgress > 0 && gfn >= this.mmuInvalidateRangeStart && gfn < this.mmuInvalidateRangeEnd) return true;
    return this.mmuInvalidateSeq !== seq;
  }
}
