// Host page faults (handle_mm_fault), as taken by a user thread's access or by KVM's GUP of an hva, with the
// userfaultfd hook points: MISSING/MINOR on a none PTE, WP on a write to a uffd-wp PTE, and PTE markers.
import { match } from "ts-pattern";
import { BUS_ADRERR, SEGV_ACCERR, SEGV_MAPERR, type SignalOutcome } from "../../schema/outcome.js";
import { bound, isBeyond, type Measured } from "../bound.js";
import { PAGE_SIZE } from "../consts.js";
import { replaceAt, withEntry } from "../immutable.js";
import { invalidateHva } from "../kvm/mmu.js";
import { EMPTY_RANGES, assign, get, spans, type RangeMap } from "../ranges.js";
import { rule, type Rule } from "../rules.js";
import type { State } from "../state.js";
import { UFFD_FAULT_RULES, USER_FAULT, handleUserfault, noneReason, type Origin, type Userfault } from "../uffd/fault.js";
import { hasMode, markersOf, regAt, vmaAt, withMarkers } from "../uffd/vma.js";
import { FAULT_AROUND_PAGES, PTRS_PER_PTE } from "./layout.js";
import { backingIndex, copyData, pteOf, pteTarget, type PageRef } from "./pages.js";
import type { Mapping, Marker, MemFile, Pte } from "./types.js";

export const FAULT_RULES = {
  segvUnmapped: rule(
    "mm.segv-unmapped",
    "arch/x86/mm/fault.c (do_user_addr_fault: bad_area_nosemaphore, SEGV_MAPERR); arch/arm64/mm/fault.c (do_page_fault: VM_FAULT_BADMAP)",
    "no VMA covers the address: SIGSEGV, SEGV_MAPERR",
  ),
  segvProt: rule(
    "mm.segv-prot",
    "arch/x86/mm/fault.c (access_error, bad_area_access_error: SEGV_ACCERR); arch/arm64/mm/fault.c (do_page_fault: VM_FAULT_BADACCESS)",
    "the VMA does not allow this access: SIGSEGV, SEGV_ACCERR",
  ),
  sigbusEof: rule(
    "mm.sigbus-eof",
    "mm/shmem.c (shmem_get_folio_gfp); mm/hugetlb.c (hugetlb_no_page); arch/x86/mm/fault.c (do_sigbus: BUS_ADRERR)",
    "fault at or beyond i_size: SIGBUS, BUS_ADRERR",
  ),
  zeroPage: rule("mm.anon-zero-page", "mm/memory.c (do_anonymous_page)", "a read fault on untouched anonymous memory maps the shared zero page"),
  anonAlloc: rule("mm.anon-alloc", "mm/memory.c (do_anonymous_page, wp_page_copy)", "a write fault on anonymous memory allocates a zeroed private page"),
  fileFault: rule("mm.file-fault", "mm/shmem.c (shmem_fault); mm/hugetlb.c (hugetlb_no_page)", "a file fault maps the page-cache folio, allocating it on first touch"),
  cow: rule("mm.cow", "mm/memory.c (do_cow_fault, wp_page_copy)", "a write fault on a private file mapping copies the page into the mapping"),
  cowZero: rule("mm.cow-zero-page", "mm/memory.c (do_wp_page, wp_page_copy)", "a write to a zero-page PTE of a private file mapping allocates a zeroed private page"),
  reuse: rule("mm.wp-reuse", "mm/memory.c (do_wp_page, wp_page_reuse)", "a write to a read-only PTE of an exclusive anonymous page makes it writable in place"),
  poisoned: rule(
    "mm.poison-marker",
    "mm/memory.c (handle_pte_marker: PTE_MARKER_POISONED); arch/x86/mm/fault.c (do_sigbus: #ifdef CONFIG_MEMORY_FAILURE); arch/arm64/mm/fault.c (do_page_fault)",
    "a fault on a poison marker: VM_FAULT_HWPOISON, SIGBUS with BUS_MCEERR_AR (x86 only with CONFIG_MEMORY_FAILURE, else BUS_ADRERR)",
  ),
  wpMarker: rule("mm.uffd-wp-marker", "mm/memory.c (set_pte_range: vmf_orig_pte_uffd_wp; pte_marker_handle_uffd_wp)", "a fault through a uffd-wp marker of a WP-registered VMA installs the PTE write-protected"),
  faultAround: rule(
    "mm.fault-around",
    "mm/memory.c (do_read_fault, should_fault_around, do_fault_around); mm/filemap.c (filemap_map_pages, next_uptodate_folio)",
    "a read fault on a shmem mapping first maps the uptodate page-cache pages of its fault_around_bytes window (clipped to the VMA, its page table and i_size) whose PTEs are none; not in a MINOR- or WP-registered VMA (uffd_disable_fault_around)",
  ),
};

export type HostFault =
  | { readonly kind: "mapped"; readonly state: State; readonly ref: PageRef; readonly writable: boolean; readonly fired: readonly Rule[] }
  /** `state`: what the fault did before it failed (fault-around), when anything. */
  | { readonly kind: "signal"; readonly signal: SignalOutcome; readonly fired: readonly Rule[]; readonly state?: State }
  | Userfault;

type Mapped = Extract<HostFault, { kind: "mapped" }>;
type GmemHostFault = (s: State, map: Mapping, index: number, write: boolean) => HostFault;

const signal = (sig: SignalOutcome, r: Rule): HostFault => ({ kind: "signal", signal: sig, fired: [r] });

/** do_sigbus's si_code for VM_FAULT_HWPOISON: BUS_MCEERR_AR on arm64, and on x86 with CONFIG_MEMORY_FAILURE. */
export const hwpoisonSignal = (s: State): SignalOutcome =>
  s.config.arch === "arm64" || s.config.kernel.memoryFailure ? { result: "SIGBUS", code: "BUS_MCEERR_AR" } : BUS_ADRERR;

export const withMap = (s: State, map: Mapping): State => ({ ...s, mm: { ...s.mm, maps: withEntry(s.mm.maps, map.id, map) } });
export const withFile = (s: State, id: number, file: MemFile): State => ({ ...s, mm: { ...s.mm, files: replaceAt(s.mm.files, id, file) } });

/** The mapping-page range of the folio holding page index of a file mapping. */
function folioSpan(map: Mapping, index: number, folioPages: number): { start: number; end: number } {
  const start = index - (backingIndex(map, index) % folioPages);
  return { start: Math.max(0, start), end: Math.min(map.pages, start + folioPages) };
}

export const fallocedOf = (f: MemFile): RangeMap<true> => f.falloced ?? EMPTY_RANGES;
/** Stores the falloced pages, keeping the field absent when there are none (so untouched files compare equal). */
export const withFalloced = (f: MemFile, falloced: RangeMap<true>): MemFile => ({ ...f, falloced: falloced.length > 0 ? falloced : undefined });

/**
 * shmem_get_folio for a fault, a write or CONTINUE (SGP_CACHE, SGP_WRITE, SGP_NOALLOC): the folio holding a file
 * index, allocated zero-filled if it is not cached yet, and uptodate from then on (a falloced one is initialized).
 */
export function ensureCached(file: MemFile, index: number): MemFile {
  const start = index - (index % file.folioPages);
  if (get(file.present, index) === true) return get(fallocedOf(file), index) === true ? withFalloced(file, assign(fallocedOf(file), start, start + file.folioPages, undefined)) : file;
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
    const state = setPtes(s, map, index, index + 1, pteOf(map, index, "zero", false));
    return { kind: "mapped", state, ref: { kind: "zero" }, writable: false, fired: [FAULT_RULES.zeroPage] };
  }
  const withPage = { ...map, anon: assign(map.anon, index, index + 1, true) };
  const state = setPtes(withMap(s, withPage), withPage, index, index + 1, pteOf(map, index, "anon", true));
  return { kind: "mapped", state, ref: { kind: "anon", map: map.id, index }, writable: true, fired: [FAULT_RULES.anonAlloc] };
}

/** A file page's start against i_size: a fault at or past it gets SIGBUS (pages of the last, partial page are in). */
const eofOf = (file: MemFile, fileIndex: number): Measured => ({ value: fileIndex * PAGE_SIZE, limit: file.size });

export const FAULT_BOUNDS = {
  sigbusEof: bound({
    rule: FAULT_RULES.sigbusEof,
    ops: ["access"],
    unit: PAGE_SIZE,
    unitName: "page",
    limitName: "i_size",
    accepts: "lt",
    measure: (s, op) => {
      const map = s.mm.maps.get(op.map);
      return map?.backing.kind !== "memfd" ? undefined : eofOf(s.mm.files[map.backing.file]!, backingIndex(map, Math.floor(op.offset / PAGE_SIZE)));
    },
  }),
};

function fileFault(s: State, map: Mapping, fileId: number, index: number, write: boolean): HostFault {
  const file = s.mm.files[fileId]!;
  const fileIndex = backingIndex(map, index);
  if (isBeyond(FAULT_BOUNDS.sigbusEof, eofOf(file, fileIndex))) return signal(BUS_ADRERR, FAULT_RULES.sigbusEof);
  const cached = withFile(s, fileId, ensureCached(file, fileIndex));
  const span = folioSpan(map, index, file.folioPages);
  if (map.shared || !write) {
    const writable = map.shared && map.prot === "rw";
    const state = setPtes(cached, map, span.start, span.end, pteOf(map, span.start, "file", writable));
    return { kind: "mapped", state, ref: { kind: "file", file: fileId, index: fileIndex }, writable, fired: [FAULT_RULES.fileFault] };
  }
  let copied: Mapping = { ...map, anon: assign(map.anon, span.start, span.end, true) };
  for (let i = span.start; i < span.end; i++) {
    const data = copyData(cached, { kind: "file", file: fileId, index: backingIndex(map, i) });
    if (data !== undefined) copied = { ...copied, anonData: withEntry(copied.anonData, i, data) };
  }
  const state = setPtes(withMap(cached, copied), copied, span.start, span.end, pteOf(map, span.start, "anon", true));
  return { kind: "mapped", state, ref: { kind: "anon", map: map.id, index }, writable: true, fired: [FAULT_RULES.fileFault, FAULT_RULES.cow] };
}

/** The PTE-sized span (a whole huge page on hugetlbfs) around index. */
function pteSpan(s: State, map: Mapping, index: number): { start: number; end: number } {
  return map.backing.kind === "memfd" ? folioSpan(map, index, s.mm.files[map.backing.file]!.folioPages) : { start: index, end: index + 1 };
}

/** A new PTE replaced a marker: the marker goes, and a uffd-wp marker of a WP VMA write-protects the new PTE. */
function consumeMarker(r: Mapped, mapId: string, index: number, marker: Marker | undefined): Mapped {
  if (marker === undefined) return r;
  const map = r.state.mm.maps.get(mapId)!;
  const span = pteSpan(r.state, map, index);
  const cleared = withMarkers(map, assign(markersOf(map), span.start, span.end, undefined));
  if (marker !== "wp" || !hasMode(regAt(map, index), "WP")) return { ...r, state: withMap(r.state, cleared) };
  const pte = get(cleared.ptes, index)!;
  const protectedMap = { ...cleared, ptes: assign(cleared.ptes, span.start, span.end, { ...pte, writable: false, uffdWp: true as const }) };
  return { ...r, state: withMap(r.state, protectedMap), writable: false, fired: [...r.fired, FAULT_RULES.wpMarker] };
}

/**
 * do_fault_around -> filemap_map_pages, for a read fault on a shmem mapping (the only file here with ->map_pages:
 * hugetlbfs faults elsewhere, guest_memfd has none) in a VMA that is neither MINOR- nor WP-registered: the
 * uptodate page-cache pages of the window around `index` get PTEs where theirs are none (no PTE, no marker).
 * The faulting page itself is left to the fault, which maps the same PTE.
 */
function faultAround(s: State, map: Mapping, index: number): { state: State; fired: readonly Rule[] } {
  const none = { state: s, fired: [] };
  const b = map.backing;
  const file = b.kind === "memfd" ? s.mm.files[b.file]! : undefined;
  const vma = vmaAt(map, index);
  if (file === undefined || file.kind !== "shmem" || vma === undefined || hasMode(vma.reg, "MINOR") || hasMode(vma.reg, "WP")) return none;
  const from = Math.max(index - (index % FAULT_AROUND_PAGES), vma.start);
  const to = Math.min(from + FAULT_AROUND_PAGES, index - (index % PTRS_PER_PTE) + PTRS_PER_PTE, vma.end);
  const fileEnd = Math.ceil(file.size / PAGE_SIZE);
  // A file PTE points at the backing index of its own page: one value for the whole window.
  const pte = pteOf(map, from, "file", map.shared && map.prot === "rw");
  let ptes = map.ptes;
  for (let i = from; i < to; i++) {
    const f = backingIndex(map, i);
    if (i === index || f >= fileEnd || get(ptes, i) !== undefined || get(markersOf(map), i) !== undefined) continue;
    if (get(file.present, f) === true && get(fallocedOf(file), f) !== true) ptes = assign(ptes, i, i + 1, pte);
  }
  return ptes === map.ptes ? none : { state: withMap(s, { ...map, ptes }), fired: [FAULT_RULES.faultAround] };
}

/** A none PTE (or a marker): read fault-around, then userfaultfd's MISSING/MINOR hook, else the memory type's fault handler. */
function noneFault(s: State, map: Mapping, index: number, write: boolean, gmemHostFault: GmemHostFault, origin: Origin): HostFault {
  const marker = get(markersOf(map), index);
  if (marker === "poison") return signal(hwpoisonSignal(s), FAULT_RULES.poisoned);
  const around = write ? { state: s, fired: [] } : faultAround(s, map, index);
  // What fault-around mapped stays whatever the faulting page comes to.
  const after = (r: HostFault): HostFault =>
    around.fired.length === 0 ? r : r.kind === "signal" ? { ...r, state: around.state, fired: [...around.fired, ...r.fired] } : { ...r, fired: [...around.fired, ...r.fired] };
  const st = around.state;
  const m = st.mm.maps.get(map.id)!;
  const b = m.backing;
  if (b.kind === "memfd" && isBeyond(FAULT_BOUNDS.sigbusEof, eofOf(st.mm.files[b.file]!, backingIndex(m, index)))) {
    return after(signal(BUS_ADRERR, FAULT_RULES.sigbusEof));
  }
  const why = noneReason(st, m, index);
  if (why !== undefined) {
    const u = handleUserfault(why.state ?? st, m, index, why.reason, write, origin, why.rule);
    // A folio the fault allocated before it asked stays, whether the thread sleeps or gets SIGBUS.
    return after(u.kind === "signal" && why.state !== undefined ? { ...u, state: why.state } : u);
  }
  const r = match(b)
    .with({ kind: "anon" }, () => anonFault(st, m, index, write))
    .with({ kind: "memfd" }, (f) => fileFault(st, m, f.file, index, write))
    // Stryker disable next-line ObjectLiteral: the last arm of an exhaustive match, only "gmem" is left
    .with({ kind: "gmem" }, () => gmemHostFault(st, m, index, write))
    .exhaustive();
  return after(r.kind === "mapped" ? consumeMarker(r, m.id, index, marker) : r);
}

/** do_wp_page: a write to a present read-only PTE. */
function wpFault(s: State, map: Mapping, index: number, pte: Pte, gmemHostFault: GmemHostFault, origin: Origin): HostFault {
  let state = s;
  let current = pte;
  const before: Rule[] = [];
  if (pte.uffdWp === true && hasMode(regAt(map, index), "WP")) {
    const ctx = s.uffd.ctxs[regAt(map, index)!.ctx]!;
    if (!ctx.features.includes("WP_ASYNC")) return handleUserfault(s, map, index, "WP", true, origin, UFFD_FAULT_RULES.wp);
    const span = pteSpan(s, map, index);
    current = pteOf(map, span.start, pte.target, pte.writable);
    state = withMap(s, { ...map, ptes: assign(map.ptes, span.start, span.end, current) });
    before.push(UFFD_FAULT_RULES.wpAsync);
  }
  const m = state.mm.maps.get(map.id)!;
  const r: HostFault = match(current.target)
    .with("anon", (): HostFault => {
      const span = pteSpan(state, m, index);
      const next = withMap(state, { ...m, ptes: assign(m.ptes, span.start, span.end, pteOf(m, span.start, "anon", true)) });
      return { kind: "mapped", state: next, ref: pteTarget(m, index, current), writable: true, fired: [FAULT_RULES.reuse] };
    })
    .with("zero", (): HostFault => {
      if (m.backing.kind === "anon") return anonFault(state, m, index, true);
      const withPage = { ...m, anon: assign(m.anon, index, index + 1, true) };
      const next = setPtes(withMap(state, withPage), withPage, index, index + 1, pteOf(m, index, "anon", true));
      return { kind: "mapped", state: next, ref: { kind: "anon", map: m.id, index }, writable: true, fired: [FAULT_RULES.cowZero] };
    })
    .with("file", () =>
      match(m.backing)
        // Stryker disable next-line BooleanLiteral: unreachable, a file-target PTE never exists in an anonymous mapping
        .with({ kind: "anon" }, () => anonFault(state, m, index, true))
        .with({ kind: "memfd" }, (b) => fileFault(state, m, b.file, index, true))
        // Stryker disable next-line BooleanLiteral,ObjectLiteral: gmemHostFault ignores the write flag (kvm_gmem_fault_user_mapping); the last arm of an exhaustive match
        .with({ kind: "gmem" }, () => gmemHostFault(state, m, index, true))
        .exhaustive(),
    )
    .exhaustive();
  return before.length === 0 ? r : { ...r, fired: [...before, ...r.fired] };
}

/**
 * handle_mm_fault for page `index` of a mapping, retried as the CPU retries the access (a fault through a
 * uffd-wp marker maps the page write-protected, and the write then faults again). gmem-backed mappings are
 * resolved by gmemHostFault, passed in to keep this module free of guest_memfd policy.
 */
export function handleMmFault(s: State, map: Mapping, index: number, write: boolean, gmemHostFault: GmemHostFault, origin: Origin = USER_FAULT): HostFault {
  if (get(map.live, index) !== true) return signal(SEGV_MAPERR, FAULT_RULES.segvUnmapped);
  if (map.prot === "none" || (write && map.prot === "r")) return signal(SEGV_ACCERR, FAULT_RULES.segvProt);
  let state = s;
  let fired: readonly Rule[] = [];
  for (let pass = 0; pass < 3; pass++) {
    const m = state.mm.maps.get(map.id) ?? map;
    const pte = get(m.ptes, index);
    if (pte !== undefined && (!write || pte.writable)) return { kind: "mapped", state, ref: pteTarget(m, index, pte), writable: pte.writable, fired };
    const r = pte === undefined ? noneFault(state, m, index, write, gmemHostFault, origin) : wpFault(state, m, index, pte, gmemHostFault, origin);
    if (r.kind !== "mapped" || !write || r.writable) return { ...r, fired: [...fired, ...r.fired] };
    state = r.state;
    fired = [...fired, ...r.fired];
  }
  throw new Error(`fault on ${map.id} page ${index} made no progress`);
}

const GUP_BLOCKS = rule(
  "faultline.gup-userfault",
  "docs/VOCABULARY.md (userfaultfd)",
  "a GUP that is no thread of the scenario (pin) would sleep on a userfault: not modeled, it fails as if the fault failed",
);

/** handleMmFault for callers that cannot sleep on a userfault (pin): such a fault reports failure with its own rule. */
export function hostFault(s: State, map: Mapping, index: number, write: boolean, gmemHostFault: GmemHostFault): Exclude<HostFault, Userfault> {
  const r = handleMmFault(s, map, index, write, gmemHostFault);
  return r.kind === "userfault" ? { kind: "signal", signal: BUS_ADRERR, fired: [...r.fired, GUP_BLOCKS] } : r;
}
