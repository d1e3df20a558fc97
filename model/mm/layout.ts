// Where scenario mappings live in the host address space: a pure function of the map id (docs/VOCABULARY.md).
import { MAP_BASE, MAP_STRIDE, MAX_MAPS, PAGE_SIZE } from "../consts.js";

/** "m<N>" (N < 64, enforced by the MapId codec) names the 1 TiB window at MAP_BASE + N * MAP_STRIDE. */
export function mapBase(id: string): number {
  const n = Number(id.slice(1));
  if (!/^m\d{1,2}$/.test(id) || n >= MAX_MAPS) throw new Error(`not a map id: ${id}`);
  return MAP_BASE + n * MAP_STRIDE;
}

/** The map id whose window holds hva, with the byte offset in it. */
export function windowOf(hva: number): { id: string; offset: number } | undefined {
  if (hva < MAP_BASE) return undefined;
  const n = Math.floor((hva - MAP_BASE) / MAP_STRIDE);
  return n < MAX_MAPS ? { id: `m${n}`, offset: hva - MAP_BASE - n * MAP_STRIDE } : undefined;
}

export const pagesOf = (bytes: number): number => Math.ceil(bytes / PAGE_SIZE);

/** fault_around_bytes (64 KiB by default, mm/memory.c) in pages: the read fault-around window. */
export const FAULT_AROUND_PAGES = 16;
/** Entries of a page table (x86-64 and arm64 with 4 KiB pages): fault-around stays inside one. */
export const PTRS_PER_PTE = 512;
