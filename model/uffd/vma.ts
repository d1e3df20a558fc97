// The VMA view of a mapping for userfaultfd: registration splits a mapping into VMAs (vma_modify_flags_uffd), so a
// VMA here is a maximal run of live pages with one registration. Also the memory type each VMA has for uffd.
import type { UffdModeName } from "../../schema/ops.js";
import { EMPTY_RANGES, spans, type RangeMap } from "../ranges.js";
import type { State } from "../state.js";
import type { Mapping, Marker } from "../mm/types.js";
import type { UffdReg } from "./types.js";

export const MODE_ORDER: readonly UffdModeName[] = ["MISSING", "WP", "MINOR"];

export const regsOf = (m: Mapping): RangeMap<UffdReg> => m.uffd ?? EMPTY_RANGES;
export const markersOf = (m: Mapping): RangeMap<Marker> => m.markers ?? EMPTY_RANGES;

/** Stores registrations, keeping the field absent when nothing is registered (so untouched mappings compare equal). */
export const withRegs = (m: Mapping, regs: RangeMap<UffdReg>): Mapping => ({ ...m, uffd: regs.length > 0 ? regs : undefined });
export const withMarkers = (m: Mapping, markers: RangeMap<Marker>): Mapping => ({ ...m, markers: markers.length > 0 ? markers : undefined });

export function regAt(m: Mapping, index: number): UffdReg | undefined {
  const sp = spans(regsOf(m), index, index + 1)[0];
  return sp?.value;
}

export const hasMode = (reg: UffdReg | undefined, mode: UffdModeName): boolean => reg?.modes.includes(mode) === true;

export interface Vma {
  readonly start: number;
  readonly end: number;
  readonly reg: UffdReg | undefined;
}

/** The VMAs intersecting page range [start, end) of a mapping, unclipped, in address order (holes skipped). */
export function vmasIn(m: Mapping, start: number, end: number): Vma[] {
  const out: Vma[] = [];
  for (const live of spans(m.live, 0, m.pages)) {
    if (live.end <= start || live.start >= end) continue;
    let pos = live.start;
    for (const r of spans(regsOf(m), live.start, live.end)) {
      if (pos < r.start) out.push({ start: pos, end: r.start, reg: undefined });
      out.push({ start: r.start, end: r.end, reg: r.value });
      pos = r.end;
    }
    if (pos < live.end) out.push({ start: pos, end: live.end, reg: undefined });
  }
  return out.filter((v) => v.end > start && v.start < end);
}

/** The VMA holding page index, if it is mapped. */
export const vmaAt = (m: Mapping, index: number): Vma | undefined => vmasIn(m, index, index + 1)[0];

/** What backs a VMA, as userfaultfd tells memory apart (vma_is_anonymous, vma_is_shmem, is_vm_hugetlb_page, guest_memfd). */
export type MemType = "anon" | "shmem" | "hugetlb" | "gmem";

export function memType(s: State, m: Mapping): MemType {
  if (m.backing.kind === "anon") return "anon";
  if (m.backing.kind === "gmem") return "gmem";
  return s.mm.files[m.backing.file]!.kind;
}

/** Pages per huge page of a hugetlbfs VMA (vma_kernel_pagesize), else 1. */
export function unitOf(s: State, m: Mapping): number {
  return m.backing.kind === "memfd" ? s.mm.files[m.backing.file]!.folioPages : 1;
}
