// gmem_state: faultline's read-only query of a guest_memfd range (model/gmem/state-query.ts says why there is one),
// read under the filemap invalidate lock shared, so a conversion (which holds it exclusive) is seen whole or not at all.
import { PAGE_SIZE } from "../../model/consts.js";
import type { OpOf } from "../../schema/ops.js";
import type { GmemRangeState, Outcome } from "../../schema/outcome.js";
import type { Bugs } from "../bugs.js";
import type { Hooks } from "../hooks.js";
import type { Kvm } from "../kvm/kvm.js";
import { gmemOwnsAttributes, type GmemInode } from "./gmem.js";

const HUGE: Readonly<Record<number, GmemRangeState["folio"]>> = { 512: "2M", 262144: "1G" };

function pagePrivate(inode: GmemInode, vms: readonly Kvm[], index: number): boolean {
  if (gmemOwnsAttributes(inode.config)) return inode.shared.get(index) !== true;
  const b = inode.bindings.get(index);
  if (b === undefined) return false;
  const kvm = vms[b.vm]!;
  const slot = kvm.memslots[b.slot >>> 16]?.get(b.slot);
  return slot?.gmem != null && kvm.attributes.get(slot.baseGfn + index - slot.gmem.pgoff) === true;
}

function folioOf(bugs: Bugs, inode: GmemInode, index: number): GmemRangeState["folio"] {
  const at = inode.lookup(index);
  if (at === undefined) return "none";
  // The seeded slip reports the folio's allocation size, not what a split left of it.
  if (inode.folioPages === 1 || (at.entry.split && !bugs.has("gmem-state-ignores-split"))) return "4K";
  return HUGE[inode.folioPages]!;
}

/** The query: validation, then one pass over the range under the invalidate lock (shared). */
export async function gmemState(bugs: Bugs, inode: GmemInode, vms: readonly Kvm[], op: OpOf<"gmem_state">, h: Hooks): Promise<Outcome> {
  if (op.size === 0 || op.offset % PAGE_SIZE !== 0 || op.size % PAGE_SIZE !== 0 || op.offset + op.size > inode.size) return { errno: "EINVAL" };
  await inode.invalidateLock.read(h);
  try {
    const ranges: GmemRangeState[] = [];
    for (let i = op.offset / PAGE_SIZE; i < (op.offset + op.size) / PAGE_SIZE; i++) {
      const page = { private: pagePrivate(inode, vms, i), faultable: inode.shared.get(i) === true, folio: folioOf(bugs, inode, i) };
      const last = ranges[ranges.length - 1];
      if (last?.private === page.private && last.faultable === page.faultable && last.folio === page.folio) last.size += PAGE_SIZE;
      else ranges.push({ offset: i * PAGE_SIZE, size: PAGE_SIZE, ...page });
    }
    return { result: "ok", ranges };
  } finally {
    inode.invalidateLock.readUnlock();
  }
}
