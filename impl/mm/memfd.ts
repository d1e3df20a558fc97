// A shmem or hugetlbfs inode: size and page cache (folios keyed by folio number).
import { VersionedMap } from "../util/versioned.js";
import { newFolio, type Folio } from "./folio.js";

export class MemFile {
  readonly cache = new VersionedMap<number, Folio>();
  /** Folios fallocate added that nothing has initialized yet (!folio_test_uptodate). */
  readonly falloced = new Set<number>();

  constructor(
    readonly kind: "shmem" | "hugetlb",
    public size: number,
    readonly folioPages: number,
    /** shmem_zero_setup's file behind MAP_SHARED | MAP_ANONYMOUS: no fd names it. */
    readonly anon = false,
  ) {}

  /** The cached folio holding page index, and the page's position in it. */
  lookup(index: number): { folio: Folio; sub: number } | undefined {
    const folio = this.cache.get(Math.floor(index / this.folioPages));
    return folio === undefined ? undefined : { folio, sub: index % this.folioPages };
  }

  /** shmem_get_folio for a fault, a write or CONTINUE: the folio, allocated if absent, and uptodate from now on. */
  getOrAlloc(index: number): { folio: Folio; sub: number } {
    const n = Math.floor(index / this.folioPages);
    let folio = this.cache.get(n);
    if (folio === undefined) {
      folio = newFolio(this.folioPages);
      this.cache.set(n, folio);
    }
    this.falloced.delete(n);
    return { folio, sub: index % this.folioPages };
  }

  /** Whether the page is cached and uptodate: what filemap_map_pages may map. */
  uptodate(index: number): boolean {
    const n = Math.floor(index / this.folioPages);
    return this.cache.has(n) && !this.falloced.has(n);
  }

  /**
   * shmem_get_folio(SGP_FALLOC): a new folio stays !uptodate; a second SGP_FALLOC on a !uptodate one clears it
   * and marks it uptodate (shmem_fallocate's comment). hugetlbfs folios are always uptodate.
   */
  fallocate(index: number): void {
    const n = Math.floor(index / this.folioPages);
    if (this.cache.has(n)) {
      this.falloced.delete(n);
      return;
    }
    this.cache.set(n, newFolio(this.folioPages));
    if (this.kind === "shmem") this.falloced.add(n);
  }

  /** The cached folios wholly inside [start, end) (page indexes). */
  foliosIn(start: number, end: number): Set<Folio> {
    const inside = new Set<Folio>();
    for (const [n, f] of this.cache) if (n * this.folioPages >= start && (n + 1) * this.folioPages <= end) inside.add(f);
    return inside;
  }

  /** Drops the folios wholly inside [start, end) (page indexes); returns them. */
  removeFolios(start: number, end: number): Folio[] {
    const gone: Folio[] = [];
    for (const [n, f] of this.cache) {
      if (n * this.folioPages >= start && (n + 1) * this.folioPages <= end) {
        gone.push(f);
        this.cache.delete(n);
        this.falloced.delete(n);
      }
    }
    return gone;
  }
}
