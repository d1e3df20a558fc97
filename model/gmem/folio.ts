// Huge guest_memfd folios (the HugeTLB series): geometry, allocation, split before any page is shared,
// merge once the whole folio is private again.
import type { Config } from "../../schema/config.js";
import { LEVEL_PAGES, PAGE_SIZE, SIZE_1G, SIZE_2M, type Level } from "../consts.js";
import { assign, get, some, spans } from "../ranges.js";
import { rule } from "../rules.js";
import type { GmemInode } from "./types.js";

const RFC39 = "[RFC PATCH 39/39] 38723c5d5e9b530e52f28b9f9f4a6d862ed69bcd.1726009989.git.ackerleytng@google.com";

export const FOLIO_RULES = {
  split: rule("gmem.folio-split", `${RFC39} (kvm_gmem_try_split_folios_range, kvm_gmem_maybe_split_folio)`, "a huge folio is split into 4 KiB folios before any page of it is shared or host-mapped"),
  merge: rule(
    "gmem.folio-merge",
    `${RFC39} (kvm_gmem_try_reconstruct_folios_range); RFC v2 cover.1747264138.git.ackerleytng@google.com (guestmem_hugetlb merge)`,
    "a split folio is merged back once its whole range is private and nothing holds a reference to its pages",
  ),
};

export const folioPagesOf = (c: Config): number => (c.gmemFolio === "1G" ? SIZE_1G / PAGE_SIZE : c.gmemFolio === "2M" ? SIZE_2M / PAGE_SIZE : 1);

export const folioLevel = (inode: GmemInode): Level => (inode.folioPages >= LEVEL_PAGES[2] ? 2 : inode.folioPages >= LEVEL_PAGES[1] ? 1 : 0);

/** The folio-aligned page range holding index. */
export function folioRange(inode: GmemInode, index: number): { start: number; end: number } {
  const start = index - (index % inode.folioPages);
  return { start, end: start + inode.folioPages };
}

/** Start indexes of the split folios touching [start, end). */
function splitFolios(inode: GmemInode, start: number, end: number): number[] {
  const a = folioRange(inode, start).start;
  const b = end <= a ? a : folioRange(inode, end - 1).end;
  const out: number[] = [];
  for (const sp of spans(inode.split, a, b)) for (let f = sp.start; f < sp.end; f += inode.folioPages) out.push(f);
  return out;
}

/** Splits the huge folio holding index if any page of it may be faulted by the host. */
function splitIfShared(inode: GmemInode, index: number): GmemInode {
  const f = folioRange(inode, index);
  if (inode.folioPages === 1 || get(inode.split, index) === true || !some(inode.shared, f.start, f.end)) return inode;
  return { ...inode, split: assign(inode.split, f.start, f.end, true) };
}

/** kvm_gmem_get_folio: the folio holding index, allocated (reading as zero) on first use and split if shared. */
export function getFolio(inode: GmemInode, index: number): GmemInode {
  if (get(inode.present, index) === true) return splitIfShared(inode, index);
  const f = folioRange(inode, index);
  return splitIfShared({ ...inode, present: assign(inode.present, f.start, f.end, true) }, index);
}

/** Splits every present huge folio touching [start, end). */
export function splitRange(inode: GmemInode, start: number, end: number): GmemInode {
  if (inode.folioPages === 1) return inode;
  const a = folioRange(inode, start).start;
  const b = end <= a ? a : folioRange(inode, end - 1).end;
  let split = inode.split;
  for (const sp of spans(inode.present, a, b)) split = assign(split, sp.start, sp.end, true);
  return split === inode.split ? inode : { ...inode, split };
}

/** Merges every split folio touching [start, end) that is wholly private and unpinned. */
export function mergeRange(inode: GmemInode, start: number, end: number): GmemInode {
  let split = inode.split;
  for (const f of splitFolios(inode, start, end)) {
    const fe = f + inode.folioPages;
    if (!some(inode.shared, f, fe) && !some(inode.pins, f, fe)) split = assign(split, f, fe, undefined);
  }
  return split === inode.split ? inode : { ...inode, split };
}

/** Whether the page sits in a present huge folio that is not split. */
export const inUnsplitHugeFolio = (inode: GmemInode, index: number): boolean =>
  inode.folioPages > 1 && get(inode.present, index) === true && get(inode.split, index) !== true;
