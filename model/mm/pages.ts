// Finding the page behind a host address, and reading and writing page contents wherever they live.
import { match } from "ts-pattern";
import { fill, readByte, withPageData, type PageBytes } from "../bytes.js";
import { PAGE_SIZE, type Level } from "../consts.js";
import { replaceAt, withEntry } from "../immutable.js";
import { get } from "../ranges.js";
import type { State } from "../state.js";
import { windowOf } from "./layout.js";
import type { Mapping, MemFile, PagePointer, Pte } from "./types.js";

/** The physical page an access reaches, named by its owner. */
export type PageRef =
  | { readonly kind: "file"; readonly file: number; readonly index: number }
  | { readonly kind: "anon"; readonly map: string; readonly index: number }
  | { readonly kind: "gmem"; readonly inode: number; readonly index: number }
  | { readonly kind: "zero" };

export interface Located {
  readonly map: Mapping;
  /** Page index from the mapping's start. */
  readonly index: number;
}

/** The live mapping page at a host virtual address. */
export function locate(s: State, hva: number): Located | undefined {
  const w = windowOf(hva);
  const map = w === undefined ? undefined : s.mm.maps.get(w.id);
  if (w === undefined || map === undefined) return undefined;
  const index = Math.floor(w.offset / PAGE_SIZE);
  if (index >= map.pages || get(map.live, index) !== true) return undefined;
  return { map, index };
}

/** Page index in the backing file (or gmem inode) of a mapping page. */
export function backingIndex(map: Mapping, index: number): number {
  return map.backing.kind === "anon" ? index : map.backing.offset / PAGE_SIZE + index;
}

/** The page a PTE of this target at this index of the mapping reaches. */
export function targetRef(map: Mapping, index: number, target: Pte["target"]): PageRef {
  if (target === "zero") return { kind: "zero" };
  if (target === "anon" || map.backing.kind === "anon") return { kind: "anon", map: map.id, index };
  if (map.backing.kind === "memfd") return { kind: "file", file: map.backing.file, index: backingIndex(map, index) };
  return { kind: "gmem", inode: map.backing.inode, index: backingIndex(map, index) };
}

/** What a present PTE of this mapping points at. */
export const pteTarget = (map: Mapping, index: number, pte: Pte): PageRef => targetRef(map, index, pte.target);

/** The pointer of an entry at index `at` to the page `ref` names. */
export function pointerTo(ref: PageRef, at: number): PagePointer {
  return match(ref)
    .with({ kind: "zero" }, (): PagePointer => ({ in: "zero" }))
    .with({ kind: "file" }, (r): PagePointer => ({ in: "file", file: r.file, delta: r.index - at }))
    .with({ kind: "anon" }, (r): PagePointer => ({ in: "anon", map: r.map, delta: r.index - at }))
    .with({ kind: "gmem" }, (r): PagePointer => ({ in: "gmem", inode: r.inode, delta: r.index - at }))
    .exhaustive();
}

/** A present PTE of this mapping at `index` (or a span from it) mapping `target`; uffd-wp bit set when `wp`. */
export function pteOf(map: Mapping, index: number, target: Pte["target"], writable: boolean, wp = false): Pte {
  const page = pointerTo(targetRef(map, index, target), index);
  return wp ? { target, writable, page, uffdWp: true } : { target, writable, page };
}

export const folioLevel = (f: MemFile): Level => (f.folioPages >= 512 * 512 ? 2 : f.folioPages >= 512 ? 1 : 0);

/** The level of the host mapping at hva (host_pfn_mapping_level): huge only for a present hugetlbfs PTE. */
export function hostLevelAt(s: State, hva: number): Level {
  const at = locate(s, hva);
  if (at === undefined || at.map.backing.kind !== "memfd" || get(at.map.ptes, at.index) === undefined) return 0;
  const file = s.mm.files[at.map.backing.file];
  return file === undefined ? 0 : folioLevel(file);
}

function pageData(s: State, ref: PageRef): PageBytes | undefined {
  return match(ref)
    .with({ kind: "zero" }, () => undefined)
    .with({ kind: "anon" }, (r) => s.mm.maps.get(r.map)?.anonData.get(r.index))
    .with({ kind: "file" }, (r) => s.mm.files[r.file]?.data.get(r.index))
    // Stryker disable next-line ObjectLiteral: the last arm of an exhaustive match, only "gmem" is left
    .with({ kind: "gmem" }, (r) => s.gmem.inodes[r.inode]?.data.get(r.index))
    .exhaustive();
}

export const readAt = (s: State, ref: PageRef, offset: number): number => readByte(pageData(s, ref), offset);

/** Stores byte into [from, to) of the page; the zero page is never written (callers COW first). */
export function writeAt(s: State, ref: PageRef, from: number, to: number, byte: number): State {
  return match(ref)
    .with({ kind: "zero" }, () => {
      throw new Error("write to the zero page");
    })
    .with({ kind: "anon" }, (r) => {
      const map = s.mm.maps.get(r.map)!;
      const anonData = withPageData(map.anonData, r.index, fill(map.anonData.get(r.index), from, to, byte));
      return { ...s, mm: { ...s.mm, maps: withEntry(s.mm.maps, r.map, { ...map, anonData }) } };
    })
    .with({ kind: "file" }, (r) => {
      const file = s.mm.files[r.file]!;
      const data = withPageData(file.data, r.index, fill(file.data.get(r.index), from, to, byte));
      return { ...s, mm: { ...s.mm, files: replaceAt(s.mm.files, r.file, { ...file, data }) } };
    })
    // Stryker disable next-line ObjectLiteral: the last arm of an exhaustive match, only "gmem" is left
    .with({ kind: "gmem" }, (r) => {
      const inode = s.gmem.inodes[r.inode]!;
      const data = withPageData(inode.data, r.index, fill(inode.data.get(r.index), from, to, byte));
      return { ...s, gmem: { ...s.gmem, inodes: replaceAt(s.gmem.inodes, r.inode, { ...inode, data }) } };
    })
    .exhaustive();
}

export const copyData = (s: State, ref: PageRef): PageBytes | undefined => pageData(s, ref);
