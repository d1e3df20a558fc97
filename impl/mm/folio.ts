// Folios: the unit the page cache and page tables point at; 4 KiB pages inside are created on first touch.
import { newPage, type Page } from "../util/pagedata.js";
import { VersionedMap } from "../util/versioned.js";

export interface Folio {
  /** Number of 4 KiB pages (1, 512 or 262144). */
  readonly pages: number;
  readonly sub: VersionedMap<number, Page>;
}

export const newFolio = (pages: number): Folio => ({ pages, sub: new VersionedMap() });

/** The shared zero page: read-only, never written. */
export const ZERO_FOLIO: Folio = newFolio(1);

export function pageOf(f: Folio, i: number): Page {
  if (f === ZERO_FOLIO) throw new Error("the zero page is never written");
  let p = f.sub.get(i);
  if (p === undefined) {
    p = newPage();
    f.sub.set(i, p);
  }
  return p;
}

export const peekPage = (f: Folio, i: number): Page | undefined => f.sub.get(i);

/** A private copy (COW) of a folio. */
export function copyFolio(f: Folio): Folio {
  const out = newFolio(f.pages);
  for (const [i, p] of f.sub) if (p.data !== null) out.sub.set(i, newPage(p.data.slice()));
  return out;
}
