// guest_memfd inodes and the files that bind them to memslots.
import type { GmemFlagName } from "../../schema/ops.js";
import type { PageBytes } from "../bytes.js";
import type { RangeMap } from "../ranges.js";

export interface Binding {
  readonly vm: number;
  /** Raw slot of the memslot bound to this range of the file. */
  readonly slot: number;
}

export interface GmemInode {
  /** The VM the file was created on (f->kvm). */
  readonly vm: number;
  readonly size: number;
  readonly flags: readonly GmemFlagName[];
  /** An fd refers to the file: only close drops it (a name re-bound to another object leaves it open, unnamed). */
  readonly fd: boolean;
  /** False once the last reference went: kvm_gmem_release has unbound every memslot. */
  readonly open: boolean;
  /** 4 KiB pages per folio (config.gmemFolio): 1, 512 or 262144. */
  readonly folioPages: number;
  /** Allocated pages; whole folios when folios are huge. */
  readonly present: RangeMap<true>;
  readonly data: ReadonlyMap<number, PageBytes>;
  /** Page index -> memslot (the file's bindings xarray). */
  readonly bindings: RangeMap<Binding>;
  /**
   * Indexes the host may fault in: the shared entries of v7's per-inode attribute tree, or the 2024 RFC's
   * faultability xarray. Kept apart from the VM's PRIVATE attribute; fixed by INIT_SHARED in the current tree.
   */
  readonly shared: RangeMap<true>;
  /** Present huge folios currently split into 4 KiB folios (whole folio ranges). */
  readonly split: RangeMap<true>;
  /** Long-term pins (FOLL_LONGTERM GUP references) per page index. */
  readonly pins: RangeMap<number>;
  /**
   * Secret hiding (model/gmem/direct-map.ts), only on a file created with NO_DIRECT_MAP or WRITE: pages whose folio is
   * uptodate ("prepared": cleared by a fault or written by write()), which no later fault clears.
   */
  readonly prepared?: RangeMap<true>;
  /** NO_DIRECT_MAP files only: pages whose folio is out of the kernel's direct map (KVM_GMEM_FOLIO_NO_DIRECT_MAP). */
  readonly noDirectMap?: RangeMap<true>;
  /**
   * Never in the model: pages the implementation touched through a direct-map entry it had removed, which would oops a
   * kernel (the abstraction shows them; the invariant gmem-no-direct-map-access fails on them).
   */
  readonly directMapFaults?: readonly number[];
}

export interface GmemState {
  readonly inodes: readonly GmemInode[];
  readonly names: ReadonlyMap<string, number>;
}
