// sys_mincore and do_mincore: the range's VMAs one after the other, each entry from its PTE or, where there is none
// (or a marker), from the page cache of the VMA's file.
import { PAGE_SIZE, TASK_SIZE } from "../../model/consts.js";
import { mapBase } from "../../model/mm/layout.js";
import type { OpOf } from "../../schema/ops.js";
import type { Outcome } from "../../schema/outcome.js";
import type { Mapping } from "./mapping.js";
import type { Mm } from "./mm.js";

/** mincore_page / mincore_pte_range for page `index`: 1 for a present PTE, else an uptodate page-cache folio. */
function resident(mm: Mm, map: Mapping, index: number): boolean {
  if (map.pte(index) !== undefined) return true;
  if (map.backing.kind !== "memfd") return false;
  return mm.files[map.backing.file]!.uptodate(map.backingIndex(index));
}

/** The entries, or undefined where the model has no answer (hugetlbfs page tables, guest_memfd folio state). */
export function mincore(mm: Mm, arch: "x86" | "arm64", op: OpOf<"mincore">): Outcome | undefined {
  const start = mapBase(op.map) + op.offset;
  if (start % PAGE_SIZE !== 0) return { errno: "EINVAL", vec: "" };
  if (start + op.len > TASK_SIZE[arch]) return { errno: "ENOMEM", vec: "" };
  const pages = Math.ceil(op.len / PAGE_SIZE);
  const map = mm.maps.get(op.map);
  if (map !== undefined && pages > 0 && mm.memType(map) !== "anon" && mm.memType(map) !== "shmem") return undefined;
  let vec = "";
  for (let i = op.offset / PAGE_SIZE; i < op.offset / PAGE_SIZE + pages; i++) {
    // do_mincore: vma_lookup of the next page fails at a hole; what was written stays.
    if (map === undefined || !map.isLive(i)) return { errno: "ENOMEM", vec };
    vec += resident(mm, map, i) ? "1" : "0";
  }
  return { result: "ok", vec };
}
