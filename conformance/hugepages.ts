// hugetlbfs scenarios reserve their own 2 MiB pages through /proc/sys/vm/nr_hugepages and give them back after.
import { readFileSync, writeFileSync } from "node:fs";
import type { Op } from "../schema/ops.js";

const NR = "/proc/sys/vm/nr_hugepages";
const FREE = "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages";
const SIZE_2M = 2 * 1024 * 1024;

/** 2 MiB pages a list of operations can use: every hugetlbfs memfd filled completely, plus slack for aliases. */
export function hugePagesNeeded(ops: readonly Op[]): number {
  let pages = 0;
  for (const op of ops) {
    if (op.op !== "memfd" || op.hugetlb === undefined || op.hugetlb === false) continue;
    if (op.hugetlb === "1G") continue;
    pages += Math.ceil(op.size / SIZE_2M);
  }
  return pages === 0 ? 0 : Math.min(pages + 2, 512);
}

export const usesHugetlb1G = (ops: readonly Op[]): boolean => ops.some((o) => o.op === "memfd" && o.hugetlb === "1G");

export interface Reservation {
  readonly pages: number;
  release(): void;
}

/** Raises the pool by `pages` (the caller frees them by releasing); throws with a clear message if it cannot. */
export function reserveHugePages(pages: number): Reservation {
  if (pages === 0) return { pages, release: () => undefined };
  const before = Number(readFileSync(NR, "utf8").trim());
  writeFileSync(NR, String(before + pages));
  const free = Number(readFileSync(FREE, "utf8").trim());
  if (free < pages) {
    writeFileSync(NR, String(before));
    throw new Error(`could not reserve ${pages} huge pages (only ${free} free after raising ${NR})`);
  }
  return {
    pages,
    release: () => writeFileSync(NR, String(before)),
  };
}
