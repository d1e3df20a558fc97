// A shmem or hugetlbfs inode: size and page cache (folios keyed by folio number).
import { newFolio, type Folio } from "./folio.js";

export class MemFile {
  readonly cache = new Map<number, Folio>();

  constructor(
    readonly kind: "shmem" | "hugetlb",
    public size: number,
    readonly folioPages: number,
  ) {}

  /** The cached folio holding page index, and the page's position in it. */
  lookup(index: number): { folio: Folio; sub: number } | undefined {
    const folio = this.cache.get(Math.floor(index / this.folioPages));
    return folio === undefined ? undefined : { folio, sub: index % this.folioPages };
  }

  getOrAlloc(index: number): { folio: Folio; sub: number } {
    const n = Math.floor(index / this.folioPages);
    let folio = this.cache.get(n);
    if (folio === undefined) {
      folio = newFolio(this.folioPages);
      this.cache.set(n, folio);
    }
    return { folio, sub: index % this.folioPages };
  }

  /** Drops the folios wholly inside [start, end) (page indexes); returns them. */
  removeFolios(start: number, end: number): Folio[] {
    const gone: Folio[] = [];
    for (const [n, f] of this.cache) {
      if (n * this.folioPages >= start && (n + 1) * this.folioPages <= end) {
        gone.push(f);
        this.cache.delete(n);
      }
    }
    return gone;
  }
}
