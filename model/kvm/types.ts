// State of KVM VMs as the model sees it: memslots, attributes, the abstract stage-2 table, userfault bitmaps.
import type { MemslotFlagName } from "../../schema/ops.js";
import type { Level } from "../consts.js";
import type { PagePointer } from "../mm/types.js";
import type { RangeMap } from "../ranges.js";

export interface Memslot {
  /** The raw u32 slot: as_id << 16 | id. */
  readonly slot: number;
  readonly as: number;
  readonly id: number;
  readonly baseGfn: number;
  readonly npages: number;
  readonly userspaceAddr: number;
  /** Canonical order: LOG_DIRTY_PAGES, READONLY, GUEST_MEMFD, USERFAULT. */
  readonly flags: readonly MemslotFlagName[];
  /** guest_memfd binding (kvm_gmem_bind): inode object id and the page offset of base_gfn. */
  readonly gmem: { readonly inode: number; readonly pgoff: number } | null;
  /** KVM_MEMSLOT_GMEM_ONLY: every fault, shared or private, goes to guest_memfd. */
  readonly gmemOnly: boolean;
  /** With USERFAULT: null when the bitmap is the VMM's own buffer, else the raw (unbacked) address given. */
  readonly userfaultBitmap: number | null;
}

/** A stage-2 leaf: one span of a RangeMap keyed by gfn covers whole mappings of this level. */
export interface Spte {
  readonly level: Level;
  readonly writable: boolean;
  readonly private: boolean;
  /** The page it maps (relative to its gfn): a guest_memfd page, or the host page behind the slot's hva. */
  readonly page: PagePointer;
}

export interface Vm {
  readonly type: number;
  /** Sorted by raw slot. */
  readonly slots: readonly Memslot[];
  /** gfn -> PRIVATE (kvm->mem_attr_array); absent = shared. */
  readonly attributes: RangeMap<true>;
  /** One abstract stage-2 table per address space. */
  readonly stage2: readonly RangeMap<Spte>[];
  /** The VMM's userfault bitmap buffer per raw slot: set bits (1 = the page must exit). */
  readonly bitmaps: ReadonlyMap<number, RangeMap<true>>;
  /** memslot->dirty_bitmap per raw slot, present while the slot has LOG_DIRTY_PAGES: set bits (pages logged dirty). */
  readonly dirty: ReadonlyMap<number, RangeMap<true>>;
  /** kvm->manual_dirty_log_protect: KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE (1) | KVM_DIRTY_LOG_INITIALLY_SET (2). */
  readonly manualDirtyLogProtect: number;
}

export interface KvmState {
  readonly vms: readonly Vm[];
  /** The scenario's vm fd names -> VM object id. */
  readonly names: ReadonlyMap<string, number>;
}
