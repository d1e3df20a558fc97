// Contents of one 4 KiB page as runs of equal non-zero bytes (absent = zero), kept canonical for comparison.
import { PAGE_SIZE } from "./consts.js";

export interface Run {
  readonly from: number;
  readonly to: number;
  readonly byte: number;
}
export type PageBytes = readonly Run[];

export const ZERO_PAGE: PageBytes = [];

export function readByte(page: PageBytes | undefined, offset: number): number {
  for (const r of page ?? ZERO_PAGE) if (offset >= r.from && offset < r.to) return r.byte;
  return 0;
}

/** Fill [from, to) of the page with byte; the result is canonical (sorted, merged, no zero runs). */
export function fill(page: PageBytes | undefined, from: number, to: number, byte: number): PageBytes {
  const out: Run[] = [];
  for (const r of page ?? ZERO_PAGE) {
    if (r.to <= from || r.from >= to) out.push(r);
    else {
      if (r.from < from) out.push({ from: r.from, to: from, byte: r.byte });
      if (r.to > to) out.push({ from: to, to: r.to, byte: r.byte });
    }
  }
  if (byte !== 0) out.push({ from, to, byte });
  out.sort((a, b) => a.from - b.from);
  const merged: Run[] = [];
  for (const r of out) {
    const last = merged[merged.length - 1];
    if (last !== undefined && last.to === r.from && last.byte === r.byte) merged[merged.length - 1] = { from: last.from, to: r.to, byte: r.byte };
    else merged.push(r);
  }
  return merged;
}

/** Splits a byte range of a file or mapping into per-page pieces. */
export function* pagePieces(offset: number, len: number): Generator<{ index: number; from: number; to: number }> {
  let pos = offset;
  const end = offset + len;
  while (pos < end) {
    const index = Math.floor(pos / PAGE_SIZE);
    const from = pos - index * PAGE_SIZE;
    const to = Math.min(PAGE_SIZE, end - index * PAGE_SIZE);
    yield { index, from, to };
    pos = index * PAGE_SIZE + to;
  }
}

/** Stores page contents in a page map, dropping all-zero pages so equal contents have one representation. */
export function withPageData(m: ReadonlyMap<number, PageBytes>, index: number, page: PageBytes): ReadonlyMap<number, PageBytes> {
  const out = new Map(m);
  if (page.length === 0) out.delete(index);
  else out.set(index, page);
  return out;
}
