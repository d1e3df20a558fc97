// uffd_wp_range (change_protection with MM_CP_UFFD_WP / MM_CP_UFFD_WP_RESOLVE) under the mmu notifier.
import { PAGE_SIZE } from "../../model/consts.js";
import type { Hooks } from "../hooks.js";
import type { Mapping, Pte } from "../mm/mapping.js";
import type { Mm } from "../mm/mm.js";

/** The write permission a PTE of this kind has when nothing write-protects it. */
function writableFor(map: Mapping, kind: Pte["kind"]): boolean {
  if (kind === "zero") return false;
  return map.prot === "rw" && (kind === "anon" || map.shared);
}

/** Protects or resolves pages [a, b): uffd-wp bits on present PTEs, uffd-wp markers on none ones of file memory (anon: WP_UNPOPULATED). */
export async function uffdWpRange(mm: Mm, map: Mapping, a: number, b: number, enable: boolean, unpopulated: boolean, h: Hooks): Promise<void> {
  const updates: [number, Pte][] = [];
  for (const [key, pte] of map.ptes) {
    if (key < a || key >= b) continue;
    const writable = enable ? false : writableFor(map, pte.kind);
    const wp = enable ? true : undefined;
    if (pte.writable !== writable || pte.uffdWp !== wp) updates.push([key, enable ? { kind: pte.kind, writable, folio: pte.folio, uffdWp: true } : { kind: pte.kind, writable, folio: pte.folio }]);
  }
  const markers = (): void => {
    if (!enable) {
      for (const m of [...map.markers.spans(a, b)]) if (m.value === "wp") map.markers.set(m.start, m.end, undefined);
      return;
    }
    if (mm.memType(map) === "anon" && !unpopulated) return;
    const unit = mm.memType(map) === "hugetlb" ? map.folioPages : 1;
    for (let i = a; i < b; i += unit) if (map.pte(i) === undefined && map.markers.get(i) === undefined) map.markers.set(i, i + unit, "wp");
  };
  if (updates.length === 0) return markers();
  await mm.invalidate(map.base + a * PAGE_SIZE, map.base + b * PAGE_SIZE, h, () => {
    for (const [key, pte] of updates) map.ptes.set(key, pte);
    markers();
  });
}
