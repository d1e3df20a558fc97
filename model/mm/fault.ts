// Host page faults (handle_mm_fault), as taken by a user thread's access or by KVM's GUP of an hva.
import { PAGE_SIZE } from "../consts.js";
import { replaceAt, withEntry } from "../immutable.js";
import { invalidateHva } from "../kvm/mmu.js";
import { match } from "ts-pattern";
import { assign, get, spans } from "../ranges.js";
import { rule, type Rule } from "../rules.js";
import type { State } from "../state.js";
import { backingIndex, copyData, pteTarget, type PageRef } from "./pages.js";
import type { Mapping, MemFile, Pte } from "./types.js";

export const FAULT_RULES = {
  segvUnmapped: rule("mm.segv-unmapped", "arch/x86/mm/fault.c (do_user_addr_fault)", "no VMA covers the address: SIGSEGV"),
  segvProt: rule("mm.segv-prot", "arch/x86/mm/fault.c (access_error)", "the VMA does not allow this access: SIGSEGV"),
  sigbusEof: rule("mm.sigbus-eof", "mm/shmem.c (shmem_get_folio_gfp); mm/hugetlb.c (hugetlb_no_page)", "fault at or beyond i_size: SIGBUS"),
  zeroPage: rule("mm.anon-zero-page", "mm/memory.c (do_anonymous_page)", "a read fault on untouched anonymous memory maps the shared zero page"),
  anonAlloc: rule("mm.anon-alloc", "mm/memory.c (do_anonymous_page, wp_page_copy)", "a write fault on anonymous memory allocates a zeroed private page"),
  fileFault: rule("mm.file-fault", "mm/shmem.c (shmem_fault); mm/hugetlb.c (hugetlb_no_page)", "a file fault maps the page-cache folio, allocating it on first touch"),
  cow: rule("mm.cow", "mm/memory.c (do_cow_fault, wp_page_copy)", "a write fault on a private file mapping copies the page into the mapping"),
};

export type HostFault =
  | { readonly kind: "mapped"; readonly state: State; readonly ref: PageRef; readonly writable: boolean; readonly fired: readonly Rule[] }
  | { readonly kind: "signal"; readonly signal: "SIGBUS" | "SIGSEGV"; readonly fired: readonly Rule[] };

const signal = (sig: "SIGBUS" | "SIGSEGV", r: Rule): HostFault => ({ kind: "signal", signal: sig, fired: [r] });

export const withMap = (s: State, map: Mapping): State => ({ ...s, mm: { ...s.mm, maps: withEntry(s.mm.maps, map.id, map) } });
export const withFile = (s: State, id: number, file: MemFile): State => ({ ...s, mm: { ...s.mm, files: replaceAt(s.mm.files, id, file) } });

/** The mapping-page range of the folio holding page index of a file mapping. */
function folioSpan(map: Mapping, index: number, folioPages: number): { start: number; end: number } {
  const start = index - (backingIndex(map, index) % folioPages);
  return { start: Math.max(0, start), end: Math.min(map.pages, start + folioPages) };
}

/** Allocates the page-cache folio holding a file index (zero-filled), if it is not cached yet. */
export function ensureCached(file: MemFile, index: number): MemFile {
  if (get(file.present, index) === true) return file;
  const start = index - (index % file.folioPages);
  return { ...file, present: assign(file.present, start, start + file.folioPages, true) };
}

/** Sets the PTEs of [start, end) and tells KVM when present PTEs changed what they map. */
function setPtes(s: State, map: Mapping, start: number, end: number, pte: Pte): State {
  const replaced = spans(map.ptes, start, end).some((p) => p.value.target !== pte.target);
  const next = withMap(s, { ...map, ptes: assign(map.ptes, start, end, pte) });
  return replaced ? invalidateHva(next, map.base + start * PAGE_SIZE, map.base + end * PAGE_SIZE) : next;
}

function anonFault(s: State, map: Mapping, index: number, write: boolean): HostFault {
  if (!write) {
    const state = setPtes(s, map, index, index + 1, { target: "zero", writable: false });
    return { kind: "mapped", state, ref: { kind: "zero" }, writable: false, fired: [FAULT_RULES.zeroPage] };
  }
  const withPage = { ...map, anon: assign(map.anon, index, index + 1, true) };
  const state = setPtes(withMap(s, withPage), withPage, index, index + 1, { target: "anon", writable: true });
  return { kind: "mapped", state, ref: { kind: "anon", map: map.id, index }, writable: true, fired: [FAULT_RULES.anonAlloc] };
}

function fileFault(s: State, map: Mapping, fileId: number, index: number, write: boolean): HostFault {
  const file = s.mm.files[fileId]!;
  const fileIndex = backingIndex(map, index);
  if (fileIndex * PAGE_SIZE >= file.size) return signal("SIGBUS", FAULT_RULES.sigbusEof);
  const cached = withFile(s, fileId, ensureCached(file, fileIndex));
  const span = folioSpan(map, index, file.folioPages);
  if (map.shared || !write) {
    const writable = map.shared && map.prot === "rw";
    const state = setPtes(cached, map, span.start, span.end, { target: "file", writable });
    return { kind: "mapped", state, ref: { kind: "file", file: fileId, index: fileIndex }, writable, fired: [FAULT_RULES.fileFault] };
  }
  let copied: Mapping = { ...map, anon: assign(map.anon, span.start, span.end, true) };
  for (let i = span.start; i < span.end; i++) {
    const data = copyData(cached, { kind: "file", file: fileId, index: backingIndex(map, i) });
    if (data !== undefined) copied = { ...copied, anonData: withEntry(copied.anonData, i, data) };
  }
  const state = setPtes(withMap(cached, copied), copied, span.start, span.end, { target: "anon", writable: true });
  return { kind: "mapped", state, ref: { kind: "anon", map: map.id, index }, writable: true, fired: [FAULT_RULES.fileFault, FAULT_RULES.cow] };
}

/**
 * handle_mm_fault for page `index` of a live mapping. gmem-backed mappings are resolved by
 * gmemHostFault, passed in to keep this module free of guest_memfd policy.
 */
export function hostFault(
  s: State,
  map: Mapping,
  index: number,
  write: boolean,
  gmemHostFault: (s: State, map: Mapping, index: number, write: boolean) => HostFault,
): HostFault {
  if (get(map.live, index) !== true) return signal("SIGSEGV", FAULT_RULES.segvUnmapped);
  if (map.prot === "none" || (write && map.prot === "r")) return signal("SIGSEGV", FAULT_RULES.segvProt);
  const pte = get(map.ptes, index);
  if (pte !== undefined && (!write || pte.writable)) {
    return { kind: "mapped", state: s, ref: pteTarget(map, index, pte), writable: pte.writable, fired: [] };
  }
  return match(map.backing)
    .with({ kind: "anon" }, () => anonFault(s, map, index, write))
    .with({ kind: "memfd" }, (b) => fileFault(s, map, b.file, index, write))
    .with({ kind: "gmem" }, () => gmemHostFault(s, map, index, write))
    .exhaustive();
}
