// fallocate(2) on a guest_memfd: vfs_fallocate's checks, then kvm_gmem_fallocate (allocate or punch a hole).
import { PAGE_SIZE } from "../../model/consts.js";
import type { FallocModeName, FlagList } from "../../schema/flags.js";
import type { Outcome } from "../../schema/outcome.js";
import { FL, LOFF_LIMIT, modeWord, vfsFallocateArgs } from "../mm/falloc.js";
import type { Hooks } from "../hooks.js";
import { FailNth } from "../util/fail-nth.js";
import type { GmemCtx } from "./convert.js";
import type { GmemInode } from "./gmem.js";
import { invalidateBegin, invalidateEnd, unmapMappingPages } from "./invalidate.js";

/**
 * kvm_gmem_allocate: folios of the range allocated under the invalidate lock, shared. A folio allocation that fails
 * (fail_nth; HugeTLB's pool or subpool) ends the loop with ENOMEM, the folios before it stay.
 */
async function allocate(inode: GmemInode, start: number, end: number, h: Hooks, fail: FailNth): Promise<Outcome> {
  await inode.invalidateLock.read(h);
  try {
    for (let i = start; i < end; i += inode.folioPages) {
      if (!inode.cache.has(Math.floor(i / inode.folioPages)) && !fail.attempt()) return { errno: "ENOMEM" }; // gmem.allocate-enomem
      inode.getFolio(i);
    }
    return { result: "ok" };
  } finally {
    inode.invalidateLock.readUnlock();
  }
}

/** kvm_gmem_punch_hole: invalidate every bound VM, then truncate_inode_pages_range (folio by folio, locked). */
async function punchHole(ctx: GmemCtx, inode: GmemInode, id: number, start: number, end: number, h: Hooks): Promise<void> {
  await inode.invalidateLock.write(h);
  try {
    const skipZap = ctx.bugs.has("gmem-punch-no-zap");
    const hit = skipZap ? [] : await invalidateBegin(ctx.vms, inode, start, end, h, true);
    for (const n of inode.foliosIn(start, end)) {
      const a = n * inode.folioPages;
      // Stryker disable next-line ConditionalExpression,LogicalOperator,EqualityOperator: waiting on more folio locks only waits longer; a holder finishes without the invalidate lock
      await h.yield("truncate_inode_pages_range:folio_lock", () => ctx.bugs.has("gmem-punch-folio-unlocked") || ![...inode.folioLocks].some((i) => i >= a && i < a + inode.folioPages));
    }
    await unmapMappingPages(ctx.mm, id, start, end, h, "truncate");
    for (const n of inode.foliosIn(start, end)) inode.cache.delete(n);
    for (const i of [...inode.pins.keys()]) if (i >= start && i < end) inode.pins.delete(i);
    await invalidateEnd(hit, h);
  } finally {
    inode.invalidateLock.writeUnlock();
  }
}

/** vfs_fallocate then kvm_gmem_fallocate (also madvise_remove's PUNCH_HOLE | KEEP_SIZE through a mapping). */
export async function fallocateInode(
  ctx: GmemCtx,
  inode: GmemInode,
  id: number,
  modes: FlagList<FallocModeName>,
  offset: number,
  len: number,
  h: Hooks,
  fail: FailNth = new FailNth(undefined),
): Promise<Outcome> {
  const mode = modeWord(modes);
  const vfs = vfsFallocateArgs(mode, offset, len, ctx.bugs.has("gmem-fallocate-len-inclusive"));
  if (vfs !== undefined) return { errno: vfs };
  // s_maxbytes + 1 is 2^63; the seeded slip takes 2^63 itself.
  if (ctx.bugs.has("gmem-fallocate-efbig-inclusive") ? offset + len > LOFF_LIMIT : offset + len >= LOFF_LIMIT) return { errno: "EFBIG" };
  if (!(mode & FL.KEEP_SIZE)) return { errno: "EOPNOTSUPP" };
  if (mode & ~(FL.KEEP_SIZE | FL.PUNCH_HOLE)) return { errno: "EOPNOTSUPP" };
  const punch = (mode & FL.PUNCH_HOLE) !== 0;
  const folioBytes = inode.folioPages * PAGE_SIZE;
  if (offset % folioBytes !== 0 || len % folioBytes !== 0) return { errno: "EINVAL" };
  const start = offset / PAGE_SIZE;
  const end = start + len / PAGE_SIZE;
  if (punch) {
    // Stryker disable next-line ArithmeticOperator: past i_size there is no folio, pin, binding or host PTE to punch
    const last = Math.min(end, inode.size / PAGE_SIZE);
    // Stryker disable next-line ConditionalExpression,EqualityOperator: past i_size there is no folio, pin, binding or host PTE to punch
    if (start < last) await punchHole(ctx, inode, id, start, last, h);
    return { result: "ok" };
  }
  // gmem.allocate-beyond: allocation may end at i_size; the seeded slip refuses the file's last folio.
  if (ctx.bugs.has("gmem-allocate-end-exclusive") ? offset + len >= inode.size : offset + len > inode.size) return { errno: "EINVAL" };
  return allocate(inode, start, end, h, fail);
}
