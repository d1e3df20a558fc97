// uffd_wp_range: write-protecting a range (the uffd-wp bit on present PTEs, markers on none ones) or resolving it.
import { PAGE_SIZE } from "../consts.js";
import { invalidateHva } from "../kvm/mmu.js";
import { withMap } from "../mm/fault.js";
import { pteOf } from "../mm/pages.js";
import type { Mapping, Pte } from "../mm/types.js";
import { assign, spans } from "../ranges.js";
import { rule } from "../rules.js";
import type { State } from "../state.js";
import { markersOf, memType, withMarkers } from "./vma.js";

export const WP_RULES = {
  protect: rule(
    "uffd.wp-protect",
    "mm/mprotect.c (change_pte_range: MM_CP_UFFD_WP, uffd_wp_protect_file); mm/userfaultfd.c (uffd_wp_range)",
    "present PTEs get the uffd-wp bit; none PTEs of file memory (or anon with WP_UNPOPULATED) get a uffd-wp marker",
  ),
  resolve: rule("uffd.wp-resolve", "mm/mprotect.c (change_pte_range: MM_CP_UFFD_WP_RESOLVE)", "uffd-wp bits and markers are cleared; PTEs regain their write permission"),
};

/** The write permission a PTE of this kind has when nothing write-protects it. */
function writableFor(m: Mapping, target: Pte["target"]): boolean {
  if (target === "zero") return false;
  return m.prot === "rw" && (target === "anon" || m.shared);
}

/** Sets or clears uffd-wp over pages [a, b) of a mapping; KVM is told when present PTEs changed. */
export function wpRange(s: State, m: Mapping, a: number, b: number, enable: boolean, unpopulated: boolean): State {
  let ptes = m.ptes;
  let changed = false;
  for (const p of spans(m.ptes, a, b)) {
    const next: Pte = enable ? pteOf(m, p.start, p.value.target, false, true) : pteOf(m, p.start, p.value.target, writableFor(m, p.value.target));
    if (JSON.stringify(next) === JSON.stringify(p.value)) continue;
    ptes = assign(ptes, p.start, p.end, next);
    changed = true;
  }
  let markers = markersOf(m);
  if (enable && (memType(s, m) !== "anon" || unpopulated)) {
    let pos = a;
    const holes: [number, number][] = [];
    for (const p of spans(m.ptes, a, b)) {
      if (pos < p.start) holes.push([pos, p.start]);
      pos = p.end;
    }
    if (pos < b) holes.push([pos, b]);
    for (const [x, y] of holes) {
      let at = x;
      for (const mk of spans(markers, x, y)) {
        markers = assign(markers, at, mk.start, "wp");
        at = mk.end;
      }
      markers = assign(markers, at, y, "wp");
    }
  }
  if (!enable) for (const mk of spans(markers, a, b)) if (mk.value === "wp") markers = assign(markers, mk.start, mk.end, undefined);
  const next = withMap(s, withMarkers({ ...m, ptes }, markers));
  return changed ? invalidateHva(next, m.base + a * PAGE_SIZE, m.base + b * PAGE_SIZE) : next;
}
