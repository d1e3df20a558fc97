// A VMA at its fixed window and the page-table entries of its pages.
import { RangeMap } from "../util/rangemap.js";
import type { Folio } from "./folio.js";

export type ImplBacking =
  | { readonly kind: "anon" }
  | { readonly kind: "memfd"; readonly file: number; readonly offset: number }
  | { readonly kind: "gmem"; readonly inode: number; readonly offset: number };

/** A present PTE; for hugetlbfs one entry maps a whole folio. */
export interface Pte {
  readonly kind: "file" | "anon" | "zero";
  readonly writable: boolean;
  readonly folio: Folio;
}

export class Mapping {
  readonly live = new RangeMap<true>();
  /** PTEs keyed by the first page index they map (folio-aligned in the backing file). */
  readonly ptes = new Map<number, Pte>();
  /** Private folios (anonymous memory, COW copies), keyed like ptes. */
  readonly anon = new Map<number, Folio>();

  constructor(
    readonly id: string,
    readonly base: number,
    readonly pages: number,
    readonly backing: ImplBacking,
    readonly shared: boolean,
    readonly prot: "rw" | "r" | "none",
    readonly folioPages: number,
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
