// In-place conversion: KVM_SET_MEMORY_ATTRIBUTES2 on the guest_memfd (v7), or guest_memfd's half of
// KVM_SET_MEMORY_ATTRIBUTES (2024 RFC), with split before sharing and merge once private again.
import { PAGE_SIZE } from "../../model/consts.js";
import type { OpOf } from "../../schema/ops.js";
import type { Outcome } from "../../schema/outcome.js";
import type { Bugs } from "../bugs.js";
import type { Hooks } from "../hooks.js";
import type { ImplMemslot, Kvm } from "../kvm/kvm.js";
import type { Mm } from "../mm/mm.js";
import { gmemOwnsAttributes, isInplace, isRfc2024, type GmemInode } from "./gmem.js";
import { hostMapped, invalidateBegin, invalidateEnd, unmapMappingPages } from "./invalidate.js";
import { FailNth } from "../util/fail-nth.js";

export interface GmemCtx {
  readonly vms: readonly Kvm[];
  readonly mm: Mm;
  readonly bugs: Bugs;
  readonly gmemInodes: readonly GmemInode[];
}

const EINVAL: Outcome = { errno: "EINVAL" };

/** Pages of [start, end) with a reference beyond the page cache's: a pin, an in-flight fault, a PTE. */
function referenced(ctx: GmemCtx, inode: GmemInode, id: number, start: number, end: number, ptes = true): number[] {
  const mapped = ptes ? hostMapped(ctx.mm, id, start, end) : [];
  return [...inode.pins.keys(), ...inode.refs.keys(), ...inode.folioLocks, ...mapped].filter((i) => i >= start && i < end);
}

function firstReferenced(ctx: GmemCtx, inode: GmemInode, id: number, start: number, end: number, ptes = true): number | undefined {
  const refd = referenced(ctx, inode, id, start, end, ptes);
  if (refd.length === 0) return undefined;
  // The seeded slip reports the range's start whatever page is busy.
  if (ctx.bugs.has("gmem-convert-error-offset-start")) return start;
  // The lowest referenced page is error_offset. The seeded slips report the highest, or the first one found (the
  // pin taken first).
  if (ctx.bugs.has("gmem-convert-busy-first-pinned")) return refd[0];
  return refd.reduce((a, b) => (ctx.bugs.has("gmem-convert-busy-highest") ? Math.max(a, b) : Math.min(a, b)));
}

/** Splits every cached huge folio touching [start, end); the seeded slip rounds the end down to a folio. */
function splitRange(ctx: GmemCtx, inode: GmemInode, start: number, end: number): void {
  if (inode.folioPages === 1) return;
  const stop = ctx.bugs.has("gmem-split-misses-last-folio") ? Math.floor(end / inode.folioPages) : Infinity;
  for (const n of inode.foliosIn(start, end)) {
    if (n >= stop) continue;
    const entry = inode.cache.get(n)!;
    // The seeded slip builds the 4 KiB folios of a split from the converted pages only: the others' contents are lost.
    if (ctx.bugs.has("gmem-split-drops-outside-range") && !entry.split) {
      for (const sub of [...entry.folio.sub.keys()]) if (n * inode.folioPages + sub < start || n * inode.folioPages + sub >= end) entry.folio.sub.delete(sub);
    }
    entry.split = true;
  }
}

/** Merges every split folio touching [start, end) that is wholly private with no page referenced. */
function mergeRange(ctx: GmemCtx, inode: GmemInode, id: number, start: number, end: number): void {
  const fp = inode.folioPages;
  // The seeded slip merges only folios the range covers whole, not those it completes.
  const inside = (n: number): boolean => !ctx.bugs.has("gmem-merge-range-only") || (n * fp >= start && (n + 1) * fp <= end);
  const split = inode.foliosIn(start, end).filter((n) => inode.cache.get(n)!.split && inside(n));
  if (split.length === 0) return;
  // The seeded mistake looks only at the converted part of each folio.
  const partial = ctx.bugs.has("gmem-merge-mapped");
  const bounds = (n: number): [number, number] => (partial ? [Math.max(start, n * fp), Math.min(end, (n + 1) * fp)] : [n * fp, (n + 1) * fp]);
  const refs = referenced(ctx, inode, id, bounds(split[0]!)[0], bounds(split[split.length - 1]!)[1]);
  // Stryker disable next-line all: without the seeded gmem-merge-mapped bug every referenced page lies in its own folio's bounds, so the filter keeps them all
  const busy = new Set(refs.filter((i) => i >= bounds(Math.floor(i / fp))[0] && i < bounds(Math.floor(i / fp))[1]).map((i) => Math.floor(i / fp)));
  for (const n of split) {
    const [a, b] = bounds(n);
    if (!inode.shared.any(a, b) && !busy.has(n)) inode.cache.get(n)!.split = false;
  }
}

/** The to-shared path clears what the seeded mistake treats as firmware-scrubbed memory. */
function scrub(inode: GmemInode, start: number, end: number): void {
  for (const n of inode.foliosIn(start, end)) {
    const folio = inode.cache.get(n)!.folio;
    // Stryker disable next-line all: scrub runs only under the seeded gmem-convert-scrubs bug, which its kill test still finds
    for (const sub of [...folio.sub.keys()]) if (n * inode.folioPages + sub >= start && n * inode.folioPages + sub < end) folio.sub.delete(sub);
  }
}

/** kvm_gmem_set_attributes (v8; v7 where they differ): validation, then __kvm_gmem_set_attributes under the invalidate lock. */
export async function gmemConvert(ctx: GmemCtx, inode: GmemInode, id: number, op: OpOf<"gmem_convert">, h: Hooks): Promise<Outcome> {
  const c = inode.config;
  if (!isInplace(c) || !gmemOwnsAttributes(c)) return { errno: "ENOTTY" };
  const toPrivate = op.to === "private";
  // v8 refuses a VM without private memory outright (!kvm_arch_has_private_mem); v7 only refused PRIVATE there.
  if ((toPrivate || c.gmemDesign === "v8") && !inode.vmHasPrivateMem) return EINVAL;
  if (op.size === 0) return EINVAL;
  // Stryker disable next-line ConditionalExpression,EqualityOperator,ArithmeticOperator: a wrapping range also fails the i_size check below, with the same EINVAL
  if (op.offset + op.size >= 2 ** 64) return EINVAL;
  if (op.offset % PAGE_SIZE !== 0 || op.size % PAGE_SIZE !== 0) return EINVAL;
  const rangeEnd = op.offset + op.size;
  // gmem.convert-beyond: the range may end at i_size; the seeded slip refuses the file's last pages.
  if (op.offset >= inode.size || (ctx.bugs.has("gmem-convert-end-exclusive") ? rangeEnd >= inode.size : rangeEnd > inode.size)) return EINVAL;
  const start = op.offset / PAGE_SIZE;
  const end = start + op.size / PAGE_SIZE;
  const locked = !ctx.bugs.has("gmem-convert-unlocked");
  if (locked) await inode.invalidateLock.write(h);
  try {
    if (toPrivate ? !inode.shared.any(start, end) : inode.shared.covers(start, end)) return { result: "ok" };
    // gmem.convert-enomem: kvm_gmem_mas_preallocate, before anything changes. The seeded slip stores first and then
    // fails, its invalidation and unmap never done.
    const fail = new FailNth(op.fail_nth);
    if (!fail.attempt()) {
      if (ctx.bugs.has("gmem-convert-store-before-prealloc")) inode.shared.set(start, end, toPrivate ? undefined : true);
      return { errno: "ENOMEM", error_offset: op.offset };
    }
    let busy: number | undefined;
    if (toPrivate) {
      const noUnmap = ctx.bugs.has("gmem-convert-no-unmap");
      if (ctx.bugs.has("gmem-convert-check-before-unmap")) busy = firstReferenced(ctx, inode, id, start, end);
      if (!noUnmap) await unmapMappingPages(ctx.mm, id, start, end, h);
      await h.yield("kvm_gmem_is_safe_for_conversion");
      if (!ctx.bugs.has("gmem-convert-check-before-unmap")) busy = firstReferenced(ctx, inode, id, start, end, !noUnmap);
      if (busy !== undefined && !ctx.bugs.has("gmem-convert-commit-before-check")) return { errno: "EAGAIN", error_offset: busy * PAGE_SIZE };
    }
    await h.yield("__kvm_gmem_set_attributes:commit");
    const hit = await invalidateBegin(ctx.vms, inode, start, end, h, !ctx.bugs.has("gmem-convert-no-zap"));
    if (!toPrivate) {
      splitRange(ctx, inode, start, end);
      if (ctx.bugs.has("gmem-convert-scrubs")) scrub(inode, start, end);
    }
    inode.shared.set(start, end, toPrivate ? undefined : true);
    if (toPrivate) mergeRange(ctx, inode, id, start, end);
    await invalidateEnd(hit, h);
    return busy === undefined ? { result: "ok" } : { errno: "EAGAIN", error_offset: busy * PAGE_SIZE };
  } finally {
    if (locked) inode.invalidateLock.writeUnlock();
  }
}

/** kvm_gmem_no_mappings_range: each folio locked in turn, none host-mapped nor pinned. */
async function noMappings(ctx: GmemCtx, inode: GmemInode, id: number, start: number, end: number, h: Hooks): Promise<boolean> {
  for (const n of inode.foliosIn(start, end)) {
    const a = Math.max(start, n * inode.folioPages);
    const b = Math.min(end, (n + 1) * inode.folioPages);
    // Stryker disable next-line ConditionalExpression,LogicalOperator,EqualityOperator: waiting on more folio locks only waits longer; a holder finishes without the invalidate lock
    await h.yield("kvm_gmem_no_mappings_range:folio_lock", () => ctx.bugs.has("gmem-rfc-no-folio-lock") || ![...inode.folioLocks].some((i) => i >= a && i < b));
    if (hostMapped(ctx.mm, id, a, b).length > 0 || [...inode.pins.keys()].some((i) => i >= a && i < b)) return false;
  }
  return true;
}

/**
 * kvm_gmem_set_faultable ([RFC PATCH 26/39]): one xa_store per index, because a range store does the wrong thing for
 * overlapping ranges (its TODO). Storing FAULT may fail (fail_nth); the loop then stops at that index, and the caller
 * drops the error. Returns how many indexes were stored. The seeded slip is the range store: clearing part of an
 * entry clears all of it (the run here).
 */
function setFaultable(ctx: GmemCtx, inode: GmemInode, start: number, end: number, faultable: boolean, fail: FailNth): number {
  if (!faultable && ctx.bugs.has("gmem-rfc-faultability-range-store")) {
    for (const run of [...inode.shared.spans()].filter((sp) => sp.start < end && start < sp.end)) inode.shared.set(run.start, run.end, undefined);
    return end - start;
  }
  // gmem.rfc-faultable-enomem: only a non-NULL store allocates.
  const stored = faultable ? fail.run(end - start) : end - start;
  if (stored > 0) inode.shared.set(start, start + stored, faultable ? true : undefined);
  return stored;
}

/** kvm_gmem_try_set_faultable_slot ([RFC PATCH 39/39]): under the invalidate lock, exclusive; the store's error is dropped. */
async function trySetFaultableSlot(ctx: GmemCtx, slot: ImplMemslot, gStart: number, gEnd: number, faultable: boolean, h: Hooks, fail: FailNth): Promise<boolean> {
  const id = slot.gmem!.inode;
  const inode = ctx.gmemInodes[id]!;
  if (!inode.open) return true;
  const start = slot.gmem!.pgoff + gStart - slot.baseGfn;
  const end = start + gEnd - gStart;
  await inode.invalidateLock.write(h);
  try {
    const stored = setFaultable(ctx, inode, start, end, faultable, fail);
    await h.yield("kvm_gmem_try_set_faultable_slot:faultability-set");
    if (faultable) {
      // kvm_gmem_try_split_folios_range splits folios with a faultable page: those of the stored part (the others were split before).
      if (stored > 0) splitRange(ctx, inode, start, start + stored);
      return true;
    }
    if (!(await noMappings(ctx, inode, id, start, end, h))) return false;
    mergeRange(ctx, inode, id, start, end);
    return true;
  } finally {
    inode.invalidateLock.writeUnlock();
  }
}

async function trySetFaultableVm(ctx: GmemCtx, kvm: Kvm, start: number, end: number, faultable: boolean, h: Hooks, fail: FailNth): Promise<boolean> {
  for (const slots of kvm.memslots) {
    for (const slot of slots.sorted) {
      const a = Math.max(start, slot.baseGfn);
      const b = Math.min(end, slot.baseGfn + slot.npages);
      if (a < b && slot.gmem !== null && !(await trySetFaultableSlot(ctx, slot, a, b, faultable, h, fail))) return false;
    }
  }
  return true;
}

/**
 * kvm_gmem_should_set_attributes (2024 RFC), called by KVM_SET_MEMORY_ATTRIBUTES after the zap: false when a
 * page is still mapped or pinned, after rolling faultability back to faultable over the whole range.
 */
export async function gmemShouldSetAttributes(ctx: GmemCtx, kvm: Kvm, start: number, end: number, toPrivate: boolean, h: Hooks, fail: FailNth): Promise<boolean> {
  if (!isRfc2024(kvm.config)) return true;
  if (await trySetFaultableVm(ctx, kvm, start, end, !toPrivate, h, fail)) return true;
  await trySetFaultableVm(ctx, kvm, start, end, true, h, fail);
  return false;
}
