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
  /** False once the fd was closed: kvm_gmem_release has unbound every memslot. */
  readonly open: boolean;
  readonly present: RangeMap<true>;
  readonly data: ReadonlyMap<number, PageBytes>;
  /** Page index -> memslot (the file's bindings xarray). */
  readonly bindings: RangeMap<Binding>;
}

export interface GmemState {
  readonly inodes: readonly GmemInode[];
  readonly names: ReadonlyMap<string, number>;
}
