// Page contents as 4 KiB byte arrays, allocated on first write; and their canonical run form for the abstraction.
import type { PageBytes, Run } from "../../model/bytes.js";
import { PAGE_SIZE } from "../../model/consts.js";
import { nextVersion } from "./versioned.js";

/** One 4 KiB page of a folio; data null means all zero. */
export interface Page {
  data: Uint8Array | null;
  /** Changes with every write (impl/util/versioned.ts): the abstraction keeps the runs of a page it has seen. */
  version: number;
}

export const newPage = (data: Uint8Array | null = null): Page => ({ data, version: nextVersion() });

export const readPage = (p: Page, offset: number): number => (p.data === null ? 0 : p.data[offset]!);

export function fillPage(p: Page, from: number, to: number, byte: number): void {
  p.version = nextVersion();
  if (p.data === null) {
    if (byte === 0) return;
    p.data = new Uint8Array(PAGE_SIZE);
  }
  p.data.fill(byte, from, to);
}

export function toRuns(p: Page | undefined): PageBytes | undefined {
  if (p === undefined || p.data === null) return undefined;
  const runs: Run[] = [];
  const d = p.data;
  let i = 0;
  while (i < PAGE_SIZE) {
    const byte = d[i]!;
    let j = i + 1;
    // Stryker disable next-line ConditionalExpression,EqualityOperator: d[PAGE_SIZE] is undefined, never a byte
    while (j < PAGE_SIZE && d[j] === byte) j++;
    if (byte !== 0) runs.push({ from: i, to: j, byte });
    i = j;
  }
  return runs.length === 0 ? undefined : runs;
}
