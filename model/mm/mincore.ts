// mincore(2): which pages of a range are resident, as the kernel reports it (mm/mincore.c): a present PTE is
// resident; a none PTE or a marker asks the page cache of the VMA's file (uptodate folios only), and anonymous
// memory without a PTE is not resident.
import type { OpOf } from "../../schema/ops.js";
import { PAGE_SIZE, TASK_SIZE } from "../consts.js";
import { get } from "../ranges.js";
import { rule } from "../rules.js";
import { result, type State, type StepResult } from "../state.js";
import { fallocedOf } from "./fault.js";
import { mapBase } from "./layout.js";
import { backingIndex } from "./pages.js";
import type { Mapping } from "./types.js";

const MC = "mm/mincore.c";

export const MINCORE_RULES = {
  align: rule("mm.mincore-align", `${MC} (SYSCALL mincore: start & ~PAGE_MASK)`, "start is not page aligned; nothing is written", "EINVAL"),
  range: rule(
    "mm.mincore-range",
    `${MC} (SYSCALL mincore: !access_ok(start, len))`,
    "the range leaves the user address space; nothing is written",
    "ENOMEM",
  ),
  hole: rule(
    "mm.mincore-enomem",
    `${MC} (do_mincore: vma_lookup fails); probe on 6.18.44`,
    "a page of the range is not mapped: the entries of the pages before it were written",
    "ENOMEM",
  ),
  mincore: rule(
    "mm.mincore",
    `${MC} (mincore_pte_range, __mincore_unmapped_range, mincore_page: folio_test_uptodate); probe on 6.18.44`,
    "a present PTE (the zero page too) is resident; otherwise a file VMA reports whether its page cache holds the page " +
      "uptodate (a fallocated shmem page is not), an anonymous one 0",
  ),
};

/** Whether mincore's answer is modeled for this mapping: not for hugetlbfs (it depends on whether a page table was
 * ever allocated there, which the model does not track) nor guest_memfd (on whether a folio was zeroed yet). */
export const mincoreModeled = (s: State, m: Mapping): boolean =>
  m.backing.kind === "anon" || (m.backing.kind === "memfd" && s.mm.files[m.backing.file]!.kind === "shmem");

/** The residency byte (its low bit) of page `index` of a mapping. */
function resident(s: State, m: Mapping, index: number): boolean {
  if (get(m.ptes, index) !== undefined) return true;
  const b = m.backing;
  if (b.kind !== "memfd") return false;
  const file = s.mm.files[b.file]!;
  const f = backingIndex(m, index);
  return get(file.present, f) === true && get(fallocedOf(file), f) !== true;
}

/** sys_mincore over one map window: undefined where the answer is not modeled (step() says so). */
export function mincore(s: State, op: OpOf<"mincore">): StepResult | undefined {
  const start = mapBase(op.map) + op.offset;
  if (op.offset % PAGE_SIZE !== 0) return result(s, { errno: "EINVAL", vec: "" }, MINCORE_RULES.align);
  if (start + op.len > TASK_SIZE[s.config.arch]) return result(s, { errno: "ENOMEM", vec: "" }, MINCORE_RULES.range);
  const pages = Math.ceil(op.len / PAGE_SIZE);
  const m = s.mm.maps.get(op.map);
  if (m !== undefined && pages > 0 && !mincoreModeled(s, m)) return undefined;
  let vec = "";
  for (let i = op.offset / PAGE_SIZE; i < op.offset / PAGE_SIZE + pages; i++) {
    if (m === undefined || i >= m.pages || get(m.live, i) !== true) return result(s, { errno: "ENOMEM", vec }, MINCORE_RULES.hole);
    vec += resident(s, m, i) ? "1" : "0";
  }
  return result(s, { result: "ok", vec }, MINCORE_RULES.mincore);
}
