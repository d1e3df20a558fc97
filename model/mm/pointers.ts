// What entries point at: every present host PTE and every stage-2 leaf names its page (model/mm/types.ts
// PagePointer), and these invariants tie each pointer to the page the owner holds at that index now. A stale
// pointer (a PTE on a truncated page, an SPTE on a page the host replaced) reads correctly until something reads
// through it; here it fails at once. The model never makes one; the implementation's abstraction shows its own.
import { covers, spans, type RangeMap } from "../ranges.js";
import type { State } from "../state.js";
import { pointerTo, targetRef } from "./pages.js";
import type { Mapping, PagePointer, Pte } from "./types.js";

const text = (p: PagePointer): string => JSON.stringify(p);

/** Whether the owner holds the pages [start, end) of its index space (the zero page always exists). */
export function held(s: State, p: PagePointer, mapping: Mapping | undefined, start: number, end: number): boolean {
  const has = (m: RangeMap<true> | undefined): boolean => m !== undefined && covers(m, start, end);
  switch (p.in) {
    case "zero":
      return true;
    case "freed":
      return false;
    case "file":
      return has(s.mm.files[p.file]?.present);
    case "gmem":
      return has(s.gmem.inodes[p.inode]?.present);
    case "anon":
      return has((p.map === mapping?.id ? mapping : s.mm.maps.get(p.map))?.anon);
  }
}

/** The first PTE of the mapping whose pointer is not its target's page at its index, or whose page is gone. */
export function stalePte(s: State, m: Mapping): string | undefined {
  for (const span of m.ptes) {
    const p: Pte = span.value;
    const want = pointerTo(targetRef(m, span.start, p.target), span.start);
    if (text(p.page) !== text(want)) return `${m.id} page ${span.start} (${p.target}) points at ${text(p.page)}, not ${text(want)}`;
    const d = "delta" in p.page ? p.page.delta : 0;
    if (!held(s, p.page, m, span.start + d, span.end + d)) return `${m.id} page ${span.start} points at ${text(p.page)}, a page its owner no longer holds`;
  }
  return undefined;
}

/** The host PTE pointers over mapping pages [start, end), as the pointers of gfns from `gfn` on; undefined where a page has none. */
export function hostPointers(m: Mapping, start: number, end: number, gfn: number): ({ readonly from: number; readonly to: number; readonly page: PagePointer } | undefined)[] {
  const out: ({ from: number; to: number; page: PagePointer } | undefined)[] = [];
  let at = start;
  for (const span of spans(m.ptes, start, end)) {
    if (span.start > at) out.push(undefined);
    const page = span.value.page;
    // Re-based from the mapping's index to the gfn's: the owner index is the same page either way.
    const shift = span.start - (gfn + span.start - start);
    out.push({ from: gfn + span.start - start, to: gfn + span.end - start, page: "delta" in page ? { ...page, delta: page.delta + shift } : page });
    at = span.end;
  }
  if (at < end) out.push(undefined);
  return out;
}
