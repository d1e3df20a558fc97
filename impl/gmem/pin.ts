// pin / unpin: a long-term GUP reference on the page behind a mapping; kept for guest_memfd pages only.
import { PAGE_SIZE } from "../../model/consts.js";
import type { OpOf } from "../../schema/ops.js";
import type { Outcome } from "../../schema/outcome.js";
import type { Hooks } from "../hooks.js";
import type { Mm } from "../mm/mm.js";
import type { GmemInode } from "./gmem.js";

function target(mm: Mm, op: OpOf<"pin"> | OpOf<"unpin">): { mapIndex: number; inode: number; index: number } | Outcome {
  const map = mm.maps.get(op.map);
  const mapIndex = Math.floor(op.offset / PAGE_SIZE);
  if (map === undefined || !map.isLive(mapIndex)) return { errno: op.op === "pin" ? "EFAULT" : "EINVAL" };
  if (map.backing.kind !== "gmem") return { errno: "ENOTTY" };
  return { mapIndex, inode: map.backing.inode, index: map.backingIndex(mapIndex) };
}

/** pin_user_pages_fast(FOLL_LONGTERM | FOLL_WRITE) of one page: fault it in for write, then pin it. */
export async function pin(mm: Mm, gmemInodes: readonly GmemInode[], op: OpOf<"pin">, h: Hooks): Promise<Outcome> {
  const t = target(mm, op);
  if ("errno" in t || "result" in t) return t;
  // check_vma_flags: a mapping of a NO_DIRECT_MAP file is refused before any fault (gmem.no-direct-map-gup).
  if (gmemInodes[t.inode]!.flags.includes("NO_DIRECT_MAP")) return { errno: "EFAULT" };
  const r = await mm.fault(mm.maps.get(op.map)!, t.mapIndex, true, h);
  if (r.kind === "signal") return { errno: "EFAULT" };
  gmemInodes[t.inode]!.count("pins", t.index, 1);
  return { result: "ok" };
}

/** unpin_user_page on the page behind the mapping. */
export function unpin(mm: Mm, gmemInodes: readonly GmemInode[], op: OpOf<"unpin">): Outcome {
  const t = target(mm, op);
  if ("errno" in t || "result" in t) return t;
  const inode = gmemInodes[t.inode]!;
  if (!inode.pins.has(t.index)) return { errno: "EINVAL" };
  inode.count("pins", t.index, -1);
  return { result: "ok" };
}
