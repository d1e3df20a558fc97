// move_pages under the mmap lock (read): both VMAs validated, then one PTE at a time, each under the mmu notifier
// range of its source page (started before the PTE checks, as move_pages_pte does) and the page-table locks.
import { PAGE_SIZE } from "../../model/consts.js";
import type { OpOf } from "../../schema/ops.js";
import type { Errno } from "../../schema/outcome.js";
import type { Hooks } from "../hooks.js";
import type { Mapping } from "../mm/mapping.js";
import type { Mm } from "../mm/mm.js";
import type { UserfaultfdCtx } from "./ctx.js";
import { vmasIn } from "./register.js";

/** VM_SHARED: MAP_SHARED, unless the fd was not open for writing (do_mmap cleared it). */
const vmShared = (m: Mapping): boolean => m.shared && !m.fdReadOnly;

/** move_present_pte / move_zeropage_pte for page `d` of dst from page `si` of src, under both PT locks. */
function movePte(mm: Mm, dst: Mapping, d: number, src: Mapping, si: number, holes: boolean): Errno | undefined {
  if (dst.pte(d) !== undefined || dst.markers.get(d) !== undefined) return "EEXIST";
  const pte = src.ptes.get(si);
  if (pte === undefined) {
    // A marker is a non-swap entry move_pages_pte cannot move; a none PTE is a hole.
    if (src.markers.get(si) !== undefined) return "EFAULT";
    return holes ? undefined : "ENOENT";
  }
  const folio = src.anon.get(si);
  if (!mm.bugs.has("uffd-move-keeps-src")) {
    src.ptes.delete(si);
    src.anon.delete(si);
  }
  // The page keeps its identity; the new PTE is writable (dst has VM_WRITE) and carries no uffd-wp bit.
  dst.ptes.set(d, { kind: pte.kind, writable: pte.kind === "anon", folio: pte.folio });
  if (folio !== undefined) dst.anon.set(d, folio);
  return undefined;
}

/** The bytes moved before the first failure, and that failure's errno. */
export async function movePages(
  mm: Mm,
  ctx: UserfaultfdCtx,
  op: OpOf<"uffdio_move">,
  holes: boolean,
  h: Hooks,
): Promise<{ bytes: number; errno?: Errno }> {
  await mm.mmapLock.read(h);
  try {
    const dm = mm.maps.get(op.map);
    const sm = mm.maps.get(op.src);
    const d0 = op.offset / PAGE_SIZE;
    const s0 = op.src_offset / PAGE_SIZE;
    const n = op.len / PAGE_SIZE;
    const dv = dm === undefined ? undefined : vmasIn(dm, d0, d0 + 1)[0];
    const sv = sm === undefined ? undefined : vmasIn(sm, s0, s0 + 1)[0];
    if (dm === undefined || sm === undefined || dv === undefined || sv === undefined) return { bytes: 0, errno: "ENOENT" };
    const einval = { bytes: 0, errno: "EINVAL" as const };
    if (vmShared(sm) || s0 + n > sv.end || vmShared(dm) || d0 + n > dv.end) return einval;
    // validate_move_areas: same access flags and pgprot, VM_WRITE, move-compatible, dst ours, both anonymous.
    if (sm.prot !== dm.prot || sm.prot !== "rw") return einval;
    if (mm.memType(sm) === "hugetlb" || mm.memType(dm) === "hugetlb" || dv.reg?.ctx !== ctx) return einval;
    if (sm.backing.kind !== "anon" || dm.backing.kind !== "anon") return einval;
    for (let i = 0; i < n; i++) {
      await h.yield("move_pages_pte");
      let errno: Errno | undefined;
      const at = sm.base + (s0 + i) * PAGE_SIZE;
      await mm.invalidate(at, at + PAGE_SIZE, h, () => {
        errno = movePte(mm, dm, d0 + i, sm, s0 + i, holes);
      });
      if (errno !== undefined) return { bytes: i * PAGE_SIZE, errno };
    }
    return { bytes: op.len };
  } finally {
    mm.mmapLock.readUnlock();
  }
}
