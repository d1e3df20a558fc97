// A VMA at its fixed window and the page-table entries of its pages.
import type { Marker } from "../../model/mm/types.js";
import type { UffdModeName } from "../../schema/ops.js";
import type { UserfaultfdCtx } from "../uffd/ctx.js";
import { RangeMap } from "../util/rangemap.js";
import { VersionedMap } from "../util/versioned.js";
import type { Folio } from "./folio.js";

/** vm_userfaultfd_ctx + the VM_UFFD_* flags of the VMA a page is in. */
export interface UffdReg {
  readonly ctx: UserfaultfdCtx;
  /** In the order MISSING, WP, MINOR. */
  readonly modes: readonly UffdModeName[];
}
const sameReg = (a: UffdReg, b: UffdReg): boolean => a.ctx === b.ctx && a.modes.join() === b.modes.join();

export type ImplBacking =
  | { readonly kind: "anon" }
  | { readonly kind: "memfd"; readonly file: number; readonly offset: number }
  | { readonly kind: "gmem"; readonly inode: number; readonly offset: number };

/** A present PTE; for hugetlbfs one entry maps a whole folio. */
export interface Pte {
  readonly kind: "file" | "anon" | "zero";
  readonly writable: boolean;
  readonly folio: Folio;
  /** The uffd-wp bit. */
  readonly uffdWp?: boolean;
}

export class Mapping {
  readonly live = new RangeMap<true>();
  /** PTEs keyed by the first page index they map (folio-aligned in the backing file). */
  readonly ptes = new VersionedMap<number, Pte>();
  /** Private folios (anonymous memory, COW copies), keyed like ptes. */
  readonly anon = new VersionedMap<number, Folio>();
  /** userfaultfd registration per page: VMAs split at its edges. */
  readonly uffd = new RangeMap<UffdReg>(sameReg);
  /** PTE markers (uffd-wp, poison) on pages whose PTE is none. */
  readonly markers = new RangeMap<Marker>();

  constructor(
    readonly id: string,
    readonly base: number,
    readonly pages: number,
    readonly backing: ImplBacking,
    readonly shared: boolean,
    readonly prot: "rw" | "r" | "none",
    readonly folioPages: number,
    /** MAP_SHARED of an fd not open for writing: do_mmap cleared VM_MAYWRITE and VM_SHARED. */
    readonly fdReadOnly = false,
  ) {
    this.live.set(0, pages, true);
  }

  backingIndex(index: number): number {
    return this.backing.kind === "anon" ? index : this.backing.offset / 4096 + index;
  }

  /** The page index where the folio holding `index` starts in this mapping. */
  keyOf(index: number): number {
    return index - (this.backingIndex(index) % this.folioPages);
  }

  pte(index: number): { pte: Pte; sub: number } | undefined {
    const key = this.keyOf(index);
    const pte = this.ptes.get(key);
    return pte === undefined ? undefined : { pte, sub: pte.kind === "zero" ? 0 : index - key };
  }

  isLive(index: number): boolean {
    return index < this.pages && this.live.get(index) === true;
  }
}
