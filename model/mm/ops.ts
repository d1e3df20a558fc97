// Host memory operations: memfd, mmap, munmap, user accesses, alias accesses, pread/pwrite, madvise, fallocate.
import type { FallocModeName, FlagList } from "../../schema/flags.js";
import type { OpOf } from "../../schema/ops.js";
import { BUS_ADRERR, SEGV_MAPERR } from "../../schema/outcome.js";
import { fill, pagePieces, readByte, withPageData } from "../bytes.js";
import { bound, isBeyond, type Measured } from "../bound.js";
import { MAP_STRIDE, PAGE_SIZE, SIZE_1G, SIZE_2M, isPageAligned } from "../consts.js";
import { FD_RULES, fdOf, unbindName, withoutFileName } from "../fd.js";
import { withEntry, withoutEntry, withoutKeysIn } from "../immutable.js";
import { invalidateHva } from "../kvm/mmu.js";
import { EMPTY_RANGES, assign, get, spans, type RangeMap } from "../ranges.js";
import { check, rule, validate, type Rule } from "../rules.js";
import { refuse, result, withPassed, type State, type StepResult } from "../state.js";
import { fallocEnd, fallocLen, fallocMode, onlyKeepPunch, vfsFallocateChecks, type FallocMode } from "./falloc.js";
import { FAULT_RULES as FAULTS, ensureCached, fallocedOf, handleMmFault, withFalloced, withFile, withMap, type HostFault } from "./fault.js";
import { mapBase, pagesOf } from "./layout.js";
import { readAt, writeAt } from "./pages.js";
import { UFFD_EVENT_RULES, raisesEvent } from "../uffd/events.js";
import { blockedOutcome } from "../uffd/thread.js";
import { hasMode, markersOf, regAt, regsOf, withMarkers, withRegs } from "../uffd/vma.js";
import type { Backing, FdMode, Mapping, Marker, MemFile, MmState, Prot } from "./types.js";

export const MM_RULES = {
  badFd: rule("mm.ebadf", "fs/file.c (fget)", "the file descriptor is not open", "EBADF"),
  hugetlbSize: rule("mm.hugetlb-size", "fs/hugetlbfs/inode.c (hugetlbfs_setattr)", "ftruncate of a hugetlbfs file to a size that is not a multiple of the huge page size", "EINVAL"),
  memfd: rule("mm.memfd", "mm/memfd.c (memfd_create); mm/shmem.c (shmem_setattr)", "memfd_create + ftruncate(size) creates the file"),
  mmapLen: rule("mm.mmap-len", "mm/mmap.c (do_mmap)", "mmap of length 0 (after ksys_mmap_pgoff's fget)", "EINVAL"),
  mmapOffset: rule("mm.mmap-offset", "arch/x86/kernel/sys_x86_64.c (sys_mmap: before ksys_mmap_pgoff's fget)", "mmap offset not page aligned, checked before the fd is looked up", "EINVAL"),
  mmapHugeOffset: rule("mm.mmap-hugetlb-offset", "fs/hugetlbfs/inode.c (hugetlbfs_file_mmap, from mmap_region after do_mmap's MAP_FIXED_NOREPLACE check)", "mmap of a hugetlbfs file at an offset that is not huge-page aligned", "EINVAL"),
  sharedAnon: rule("mm.mmap-shared-anon", "mm/mmap.c (do_mmap: MAP_SHARED anonymous); mm/shmem.c (shmem_zero_setup)", "MAP_SHARED | MAP_ANONYMOUS memory is an unnamed shmem file of the mapping's size, which no fd names"),
  mmapWindow: rule("faultline.map-window", "docs/VOCABULARY.md (mapping layout)", "a mapping must fit its map id's 1 TiB window", "EINVAL"),
  mmapExists: rule("mm.mmap-noreplace", "mm/mmap.c (do_mmap, MAP_FIXED_NOREPLACE)", "the map's window is still mapped", "EEXIST"),
  mmap: rule("mm.mmap", "mm/mmap.c (do_mmap)", "the mapping is created at its window"),
  munmapArgs: rule("mm.munmap-args", "mm/vma.c (do_vmi_munmap)", "munmap offset not page aligned or length 0", "EINVAL"),
  munmapHuge: rule("mm.munmap-hugetlb", "mm/hugetlb.c (hugetlb_vm_op_split)", "munmap would split a hugetlbfs page", "EINVAL"),
  munmap: rule("mm.munmap", "mm/vma.c (do_vmi_munmap)", "the range is unmapped; its private pages are freed and KVM is notified"),
  access: rule("mm.access", "mm/memory.c (handle_mm_fault)", "a user access reads or writes the page behind its PTE"),
  noAlias: rule("faultline.no-alias", "docs/VOCABULARY.md (write_alias)", "anonymous memory (shared or private) has no fd to map a second time", "EINVAL"),
  alias: rule("mm.alias", "mm/shmem.c (shmem_fault); 20210115190451.3135416-1-axelrasmussen@google.com", "an access through an unregistered second mapping reaches the page cache, allocating on first touch"),
  hugetlbWrite: rule("mm.hugetlbfs-write", "fs/hugetlbfs/inode.c (hugetlbfs_file_operations has no write_iter)", "write(2) to a hugetlbfs file", "EINVAL"),
  pwrite: rule("mm.pwrite", "mm/shmem.c (shmem_write_begin)", "pwrite stores into the page cache and extends i_size"),
  pread: rule("mm.pread", "mm/shmem.c (shmem_file_read_iter, SGP_READ)", "pread returns page-cache contents, holes read as zero, nothing past i_size"),
  madviseArgs: rule("mm.madvise-args", "mm/madvise.c (is_valid_madvise)", "madvise start not page aligned", "EINVAL"),
  madviseEmpty: rule("mm.madvise-empty", "mm/madvise.c (do_madvise)", "a zero length advises nothing and succeeds"),
  madviseHugeStart: rule("mm.madvise-dontneed-hugetlb", "mm/madvise.c (madvise_dontneed_free_valid_vma)", "MADV_DONTNEED from a start inside a hugetlbfs VMA's huge page", "EINVAL"),
  madviseRemoveShared: rule("mm.madvise-remove-private", "mm/madvise.c (madvise_remove: vma_is_shared_maywrite)", "MADV_REMOVE on a VMA that is not shared (a shared one of a writable fd has VM_MAYWRITE, whatever its prot)", "EACCES"),
  madviseRemoveAnon: rule("mm.madvise-remove-anon", "mm/madvise.c (madvise_remove)", "MADV_REMOVE on a VMA without a file (private anonymous memory)", "EINVAL"),
  madviseHole: rule("mm.madvise-enomem", "mm/madvise.c (madvise_walk_vmas)", "part of the range is not mapped: ENOMEM once every VMA in it was advised (a VMA's refusal wins)", "ENOMEM"),
  dontneed: rule("mm.madv-dontneed", "mm/madvise.c (madvise_dontneed_single_vma)", "MADV_DONTNEED drops this mapping's PTEs and private pages; the page cache keeps its pages"),
  punch: rule(
    "mm.punch-hole",
    "mm/madvise.c (madvise_remove: vfs_fallocate PUNCH_HOLE|KEEP_SIZE); mm/shmem.c (shmem_fallocate, shmem_truncate_range); fs/hugetlbfs/inode.c (hugetlbfs_punch_hole)",
    "punching a hole frees whole cached pages in every mapping and zeroes partial ones",
  ),
  fallocArgs: rule("mm.fallocate-args", "fs/open.c (vfs_fallocate)", "offset negative as loff_t, or len <= 0: checked before the mode", "EINVAL"),
  fallocMode: rule("mm.fallocate-mode", "fs/open.c (vfs_fallocate)", "PUNCH_HOLE without KEEP_SIZE", "EOPNOTSUPP"),
  fallocBig: rule("mm.fallocate-efbig", "fs/open.c (vfs_fallocate)", "offset + len beyond s_maxbytes (MAX_LFS_FILESIZE)", "EFBIG"),
  fallocFileMode: rule(
    "mm.fallocate-file-mode",
    "mm/shmem.c (shmem_fallocate); fs/hugetlbfs/inode.c (hugetlbfs_fallocate): mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE); probe on 6.18.44",
    "a mode vfs_fallocate lets through that shmem and hugetlbfs do not take: ZERO_RANGE, UNSHARE_RANGE, COLLAPSE_RANGE, INSERT_RANGE, WRITE_ZEROES",
    "EOPNOTSUPP",
  ),
  allocate: rule(
    "mm.fallocate-allocate",
    "mm/shmem.c (shmem_fallocate, shmem_get_folio_gfp: SGP_FALLOC); fs/hugetlbfs/inode.c (hugetlbfs_fallocate)",
    "fallocate allocates every folio of the range, past i_size too, and extends i_size without KEEP_SIZE; new shmem folios stay !uptodate until first used",
  ),
  closeFile: rule("mm.close", "fs/file.c (close_fd)", "closing drops the fd; the inode lives while mappings use it"),
  reopen: rule(
    "mm.reopen",
    "fs/proc/fd.c (proc_fd_link); fs/namei.c (path_openat, do_open): a memfd reopened through /proc/self/fd",
    "a new fd of the same memfd inode, open for reading, writing or both: its mode decides what read, write, mmap and fallocate may do",
  ),
  reopenNone: rule("mm.reopen-enoent", "fs/proc/fd.c (proc_lookupfd_common: no such fd)", "/proc/self/fd/N names no open fd", "ENOENT"),
  reopenAnon: rule(
    "mm.reopen-enxio",
    "fs/inode.c (no_open: an anon inode's i_fop); fs/libfs.c (alloc_anon_inode); probe on 6.18.44 (a VM fd and a userfaultfd)",
    "a VM fd, a guest_memfd or a userfaultfd cannot be opened again: their anon inodes have no open",
    "ENXIO",
  ),
  writeNotWritable: rule(
    "mm.pwrite-ebadf",
    "fs/read_write.c (vfs_write: !(f_mode & FMODE_WRITE), after FMODE_PWRITE)",
    "pwrite through an fd opened O_RDONLY",
    "EBADF",
  ),
  readNotReadable: rule(
    "mm.pread-ebadf",
    "fs/read_write.c (vfs_read: !(f_mode & FMODE_READ), after FMODE_PREAD)",
    "pread through an fd opened O_WRONLY",
    "EBADF",
  ),
  mmapNotReadable: rule(
    "mm.mmap-not-readable",
    "mm/mmap.c (do_mmap: MAP_PRIVATE and, falling through, MAP_SHARED need FMODE_READ)",
    "mmap of an fd opened O_WRONLY, whatever the protection",
    "EACCES",
  ),
};

type GmemHostFault = (s: State, map: Mapping, index: number, write: boolean) => HostFault;

export function memfd(s: State, op: OpOf<"memfd">): StepResult {
  const folioPages = op.hugetlb === "1G" ? SIZE_1G / PAGE_SIZE : op.hugetlb === true || op.hugetlb === "2M" ? SIZE_2M / PAGE_SIZE : 1;
  if (op.size % (folioPages * PAGE_SIZE) !== 0 && folioPages > 1) return refuse(s, MM_RULES.hugetlbSize);
  const file: MemFile = { kind: folioPages > 1 ? "hugetlb" : "shmem", size: op.size, folioPages, present: EMPTY_RANGES, data: new Map() };
  const id = s.mm.files.length;
  const t = unbindName(s, op.file);
  return result({ ...t, mm: { ...t.mm, files: [...t.mm.files, file], names: withEntry(t.mm.names, op.file, id) } }, { result: "ok" }, MM_RULES.memfd);
}

/** A mapping's pages (whole folios of a hugetlbfs file) in bytes, against its map id's window. */
export const windowExtent = (pages: number): Measured => ({ value: pages * PAGE_SIZE, limit: MAP_STRIDE });

/** The pages an mmap of `fd` (undefined: MAP_ANONYMOUS) would take, once its offset, fd and length pass. */
function mmapPages(s: State, fd: string | undefined, offset: number, length: number): number | undefined {
  const ref = fd === undefined ? undefined : fdOf(s, fd);
  if (!isPageAligned(offset) || length === 0 || (fd !== undefined && ref === undefined)) return undefined;
  const folioPages = ref?.kind === "file" ? s.mm.files[ref.id]!.folioPages : 1;
  return Math.ceil(pagesOf(length) / folioPages) * folioPages;
}

/** A fallocate whose fd is a memfd, a VM fd or a userfaultfd: vfs_fallocate's checks with the mm rules. */
const mmFallocate = (s: State, fd: string): boolean => {
  const kind = fdOf(s, fd)?.kind;
  return kind !== undefined && kind !== "gmem";
};

/** mmap's window, and fallocate's len and offset + len below 2^63 on a file that is no guest_memfd. */
export const MM_BOUNDS = {
  window: bound({
    rule: MM_RULES.mmapWindow,
    ops: ["mmap", "gmem_mmap"],
    unit: PAGE_SIZE,
    unitName: "page",
    limitName: "the map id's 1 TiB window (MAP_STRIDE)",
    accepts: "le",
    measure: (s, op) => {
      const fd = op.op === "gmem_mmap" ? op.gmem : op.file === "anon" ? undefined : op.file;
      const pages = mmapPages(s, fd, op.offset, op.length);
      return pages === undefined ? undefined : windowExtent(pages);
    },
  }),
  fallocArgs: bound({
    rule: MM_RULES.fallocArgs,
    ops: ["file_fallocate", "gmem_fallocate"],
    unit: PAGE_SIZE,
    unitName: "page",
    limitName: "2^63 (len as loff_t)",
    accepts: "lt",
    measure: (s, op) => (mmFallocate(s, op.op === "file_fallocate" ? op.file : op.gmem) ? fallocLen(op.offset, op.len) : undefined),
  }),
  // Reached on a memfd only: a VM fd or a userfaultfd is refused before s_maxbytes.
  fallocBig: bound({
    rule: MM_RULES.fallocBig,
    ops: ["file_fallocate", "gmem_fallocate"],
    unit: PAGE_SIZE,
    unitName: "page",
    limitName: "2^63 (s_maxbytes)",
    accepts: "lt",
    measure: (s, op) => (fdOf(s, op.op === "file_fallocate" ? op.file : op.gmem)?.kind === "file" ? fallocEnd(op.offset, op.len) : undefined),
  }),
};

/** mmap(2) as both mmap and gmem_mmap make it: the fd (any name) or MAP_ANONYMOUS, with defaults resolved. */
export interface MmapArgs {
  readonly map: string;
  /** The fd's name; undefined for MAP_ANONYMOUS. */
  readonly fd: string | undefined;
  readonly offset: number;
  readonly length: number;
  readonly shared: boolean;
  readonly prot: Prot;
  /** fget's refusal of a name that is not open (the op's own rule). */
  readonly badFd: Rule;
}

/** kvm_gmem_mmap's part of an mmap of a guest_memfd, passed in by step(). */
export type GmemMmap = (s: State, a: MmapArgs, inode: number) => StepResult;

export const mmapArgs = (op: OpOf<"mmap">): MmapArgs => {
  const anon = op.file === "anon";
  return { map: op.map, fd: anon ? undefined : op.file, offset: op.offset, length: op.length, shared: op.shared ?? !anon, prot: op.prot ?? "rw", badFd: MM_RULES.badFd };
};

/**
 * sys_mmap's offset check, ksys_mmap_pgoff's fget, do_mmap's generic checks and its file checks (FMODE_WRITE for a
 * writable shared mapping, an mmap hook), then the file's own mmap: hugetlbfs's offset check, or kvm_gmem_mmap.
 */
export function mmap(s: State, a: MmapArgs, gmemMmap: GmemMmap): StepResult {
  const anon = a.fd === undefined;
  if (!isPageAligned(a.offset)) return refuse(s, MM_RULES.mmapOffset);
  const ref = a.fd === undefined ? undefined : fdOf(s, a.fd);
  if (!anon && ref === undefined) return refuse(s, a.badFd);
  const f = ref?.kind === "file" ? { id: ref.id, file: s.mm.files[ref.id]! } : undefined;
  // A userfaultfd is O_RDONLY; a memfd is what it was opened (reopen); a VM fd and a guest_memfd are O_RDWR.
  const mode = ref?.kind === "uffd" ? "r" : f !== undefined && a.fd !== undefined ? fdMode(s, a.fd) : "rw";
  const folioPages = f?.file.folioPages ?? 1;
  const pages = Math.ceil(pagesOf(a.length) / folioPages) * folioPages;
  const old = s.mm.maps.get(a.map);
  const v = validate([
    check(MM_RULES.mmapLen, () => a.length === 0),
    check(MM_RULES.mmapWindow, () => isBeyond(MM_BOUNDS.window, windowExtent(pages))),
    check(MM_RULES.mmapExists, () => old !== undefined && old.live.length > 0),
    check(FD_RULES.mmapReadonly, () => mode === "r" && a.shared && a.prot === "rw"),
    check(MM_RULES.mmapNotReadable, () => mode === "w"),
    check(FD_RULES.mmapNoHook, () => ref?.kind === "vm" || ref?.kind === "uffd"),
    check(MM_RULES.mmapHugeOffset, () => a.offset % (folioPages * PAGE_SIZE) !== 0),
  ]);
  if (v.failure !== undefined) return withPassed(refuse(s, v.failure), v.passed);
  if (ref?.kind === "gmem") return withPassed(gmemMmap(s, a, ref.id), v.passed);
  const shared = a.shared;
  // MAP_SHARED | MAP_ANONYMOUS is backed by an unnamed shmem file of the mapping's size (shmem_zero_setup).
  const zero: MemFile | undefined = anon && shared ? { kind: "shmem", size: pages * PAGE_SIZE, folioPages: 1, present: EMPTY_RANGES, data: new Map(), anon: true } : undefined;
  const next = zero === undefined ? s : { ...s, mm: { ...s.mm, files: [...s.mm.files, zero] } };
  const backing: Backing =
    zero !== undefined ? { kind: "memfd", file: s.mm.files.length, offset: 0 } : f === undefined ? { kind: "anon" } : { kind: "memfd", file: f.id, offset: a.offset };
  const map: Mapping = {
    id: a.map,
    base: mapBase(a.map),
    pages,
    backing,
    shared,
    prot: a.prot,
    live: assign(EMPTY_RANGES, 0, pages, true),
    ptes: EMPTY_RANGES,
    anon: EMPTY_RANGES,
    anonData: new Map(),
    // do_mmap: MAP_SHARED of an fd without FMODE_WRITE loses VM_MAYWRITE and VM_SHARED.
    ...(shared && mode === "r" ? { fdReadOnly: true as const } : {}),
  };
  return result(withMap(next, map), { result: "ok" }, ...(zero === undefined ? [] : [MM_RULES.sharedAnon]), MM_RULES.mmap);
}

/**
 * How a zap treats PTE markers (zap_pte_range with its zap_details): MADV_DONTNEED, unmap_mapping_pages, munmap,
 * and truncation's unmap_mapping_folio (ZAP_FLAG_DROP_MARKER: a zapped uffd-wp PTE leaves no marker).
 */
export type ZapKind = "dontneed" | "unmap" | "munmap" | "truncate";

/**
 * The markers of [start, end) after a zap: munmap and anonymous memory drop them all; on file memory a uffd-wp
 * PTE of a WP VMA leaves a uffd-wp marker (not under truncation), MADV_DONTNEED drops poison markers and
 * unmap_mapping_pages keeps them.
 */
function markersAfterZap(map: Mapping, start: number, end: number, how: ZapKind): RangeMap<Marker> {
  let markers = assign(markersOf(map), start, end, undefined);
  if (how === "munmap" || map.backing.kind === "anon") return markers;
  for (const mk of spans(markersOf(map), start, end)) if (how !== "dontneed" || mk.value === "wp") markers = assign(markers, mk.start, mk.end, mk.value);
  if (how === "truncate") return markers;
  for (const p of spans(map.ptes, start, end)) {
    for (let i = p.start; i < p.end; i++) if (p.value.uffdWp === true && hasMode(regAt(map, i), "WP")) markers = assign(markers, i, i + 1, "wp");
  }
  return markers;
}

/** Drops PTEs and private pages of [start, end) of a mapping, notifying KVM; munmap also drops the VMA's registration. Default: unmap_mapping_pages. */
// Stryker disable next-line BooleanLiteral: every caller passes keepLive
export function zapMapRange(s: State, map: Mapping, start: number, end: number, keepLive = true, how: ZapKind = keepLive ? "unmap" : "munmap"): State {
  const zapped: Mapping = {
    ...map,
    live: keepLive ? map.live : assign(map.live, start, end, undefined),
    ptes: assign(map.ptes, start, end, undefined),
    anon: assign(map.anon, start, end, undefined),
    anonData: withoutKeysIn(map.anonData, start, end),
  };
  const marked = withMarkers(zapped, markersAfterZap(map, start, end, how));
  const next = keepLive ? marked : withRegs(marked, assign(regsOf(marked), start, end, undefined));
  const stored = next.live.length === 0 ? { ...s, mm: { ...s.mm, maps: withoutEntry(s.mm.maps, map.id) } } : withMap(s, next);
  return invalidateHva(stored, map.base + start * PAGE_SIZE, map.base + end * PAGE_SIZE);
}

const folioPagesOf = (s: State, map: Mapping): number => (map.backing.kind === "memfd" ? s.mm.files[map.backing.file]!.folioPages : 1);

export function munmap(s: State, op: OpOf<"munmap">): StepResult {
  const map = s.mm.maps.get(op.map);
  const offset = op.offset ?? 0;
  const len = op.len ?? (map === undefined ? PAGE_SIZE : map.pages * PAGE_SIZE - offset);
  if (!isPageAligned(offset) || len === 0) return refuse(s, MM_RULES.munmapArgs);
  if (map === undefined) return result(s, { result: "ok" }, MM_RULES.munmap);
  const fp = folioPagesOf(s, map);
  const start = offset / PAGE_SIZE;
  const requestedEnd = start + pagesOf(len);
  if (fp > 1 && start < map.pages && (start % fp !== 0 || (requestedEnd < map.pages && requestedEnd % fp !== 0))) return refuse(s, MM_RULES.munmapHuge);
  const end = Math.min(map.pages, requestedEnd);
  if (raisesEvent(s, map, start, end, "EVENT_UNMAP")) return refuse(s, UFFD_EVENT_RULES.notModeled);
  return result(start >= end ? s : zapMapRange(s, map, start, end, false), { result: "ok" }, MM_RULES.munmap);
}

export function access(s: State, op: OpOf<"access">, gmemHostFault: GmemHostFault): StepResult {
  const map = s.mm.maps.get(op.map);
  const index = Math.floor(op.offset / PAGE_SIZE);
  if (map === undefined || index >= map.pages) return result(s, SEGV_MAPERR, FAULTS.segvUnmapped);
  const write = op.kind === "write";
  const inPage = op.offset % PAGE_SIZE;
  const f = handleMmFault(s, map, index, write, gmemHostFault, { inPage, user: true });
  if (f.kind === "signal") return result(f.state ?? s, f.signal, ...f.fired);
  if (f.kind === "userfault") return { ...result(f.state, blockedOutcome(f.state, f.msg), ...f.fired), blocked: f.msg };
  if (write) return result(writeAt(f.state, f.ref, inPage, inPage + 1, op.byte ?? 0), { result: "ok" }, ...f.fired, MM_RULES.access);
  return result(f.state, { result: "ok", value: readAt(f.state, f.ref, inPage) }, ...f.fired, MM_RULES.access);
}

/** The alias mapping sees the backing file: write_alias and read_alias go straight to its page cache. */
export function aliasAccess(s: State, op: OpOf<"write_alias"> | OpOf<"read_alias">, gmemAlias: (s: State, op: OpOf<"write_alias"> | OpOf<"read_alias">, map: Mapping) => StepResult): StepResult {
  const map = s.mm.maps.get(op.map);
  if (map === undefined) return result(s, SEGV_MAPERR, FAULTS.segvUnmapped);
  if (map.backing.kind === "anon" || (map.backing.kind === "memfd" && s.mm.files[map.backing.file]!.anon === true)) return refuse(s, MM_RULES.noAlias);
  if (map.backing.kind === "gmem") return gmemAlias(s, op, map);
  const fileId = map.backing.file;
  const start = map.backing.offset + op.offset;
  const len = op.op === "write_alias" ? (op.len ?? 1) : 1;
  // The alias access faults page by page: a page at or beyond i_size is a SIGBUS, the pages before it keep what was written.
  let next = s.mm.files[fileId]!;
  for (const p of pagePieces(start, len)) {
    if (p.index * PAGE_SIZE >= next.size) return result(withFile(s, fileId, next), BUS_ADRERR, MM_RULES.alias, FAULTS.sigbusEof);
    next = ensureCached(next, p.index);
    if (op.op === "read_alias") return result(withFile(s, fileId, next), { result: "ok", value: readByte(next.data.get(p.index), p.from) }, MM_RULES.alias);
    next = { ...next, data: withPageData(next.data, p.index, fill(next.data.get(p.index), p.from, p.to, op.byte ?? 0)) };
  }
  return result(withFile(s, fileId, next), { result: "ok" }, MM_RULES.alias);
}

/** How the fd a memfd name refers to was opened: "rw" unless reopened O_RDONLY or O_WRONLY. */
export const fdMode = (s: State, name: string): FdMode | "rw" => s.mm.modes?.get(name) ?? "rw";

/** The memfd a pread/pwrite names, or its refusal: fget's EBADF, or ESPIPE from a pseudo file without FMODE_PREAD. */
function preadTarget(s: State, name: string): { ok: true; id: number; file: MemFile; mode: FdMode | "rw" } | { ok: false; rule: Rule } {
  const ref = fdOf(s, name);
  if (ref === undefined) return { ok: false, rule: MM_RULES.badFd };
  if (ref.kind !== "file") return { ok: false, rule: FD_RULES.noPread };
  return { ok: true, id: ref.id, file: s.mm.files[ref.id]!, mode: fdMode(s, name) };
}

export function pwrite(s: State, op: OpOf<"pwrite">): StepResult {
  const f = preadTarget(s, op.file);
  if (!f.ok) return refuse(s, f.rule);
  if (f.mode === "r") return refuse(s, MM_RULES.writeNotWritable);
  if (f.file.kind === "hugetlb") return refuse(s, MM_RULES.hugetlbWrite);
  let file: MemFile = { ...f.file, size: Math.max(f.file.size, op.len === 0 ? 0 : op.offset + op.len) };
  for (const p of pagePieces(op.offset, op.len)) {
    file = ensureCached(file, p.index);
    file = { ...file, data: withPageData(file.data, p.index, fill(file.data.get(p.index), p.from, p.to, op.byte)) };
  }
  return result(withFile(s, f.id, file), { result: "ok" }, MM_RULES.pwrite);
}

export function pread(s: State, op: OpOf<"pread">): StepResult {
  const f = preadTarget(s, op.file);
  if (!f.ok) return refuse(s, f.rule);
  if (f.mode === "w") return refuse(s, MM_RULES.readNotReadable);
  if (op.offset >= f.file.size || op.len === 0) return result(s, { result: "ok", value: null }, MM_RULES.pread);
  const index = Math.floor(op.offset / PAGE_SIZE);
  return result(s, { result: "ok", value: readByte(f.file.data.get(index), op.offset % PAGE_SIZE) }, MM_RULES.pread);
}

/**
 * Removes [start, end) (file page indexes) from a memfd's page cache and unmaps it from every mapping
 * (unmap_mapping_range: COW copies and PTE markers stay; a uffd-wp PTE of a WP VMA leaves a uffd-wp marker).
 */
export function truncatePages(s: State, fileId: number, start: number, end: number): State {
  const file = s.mm.files[fileId]!;
  const dropped = withFalloced({ ...file, present: assign(file.present, start, end, undefined), data: withoutKeysIn(file.data, start, end) }, assign(fallocedOf(file), start, end, undefined));
  let next = withFile(s, fileId, dropped);
  for (const map of s.mm.maps.values()) {
    if (map.backing.kind !== "memfd" || map.backing.file !== fileId) continue;
    const first = map.backing.offset / PAGE_SIZE;
    const a = Math.max(0, start - first);
    const b = Math.min(map.pages, end - first);
    if (a >= b) continue;
    const current = next.mm.maps.get(map.id)!;
    let ptes = current.ptes;
    let markers = markersOf(current);
    // hugetlbfs_punch_hole zaps through __unmap_hugepage_range (zap_flags 0): a poison marker goes, a uffd-wp one stays.
    if (file.kind === "hugetlb") for (const mk of spans(markers, a, b)) if (mk.value === "poison") markers = assign(markers, mk.start, mk.end, undefined);
    for (const span of spans(current.ptes, a, b)) {
      if (span.value.target !== "file") continue;
      ptes = assign(ptes, span.start, span.end, undefined);
      for (let i = span.start; i < span.end; i++) if (span.value.uffdWp === true && hasMode(regAt(current, i), "WP")) markers = assign(markers, i, i + 1, "wp");
    }
    next = invalidateHva(withMap(next, withMarkers({ ...current, ptes }, markers)), map.base + a * PAGE_SIZE, map.base + b * PAGE_SIZE);
  }
  return next;
}

/** Punch [offset, offset+len) of a memfd: whole folios go, partial ranges are zeroed in place. */
export function punchHole(s: State, fileId: number, offset: number, len: number): State {
  const file = s.mm.files[fileId]!;
  const folio = file.folioPages * PAGE_SIZE;
  const end = Math.min(offset + len, file.size);
  const wholeStart = Math.ceil(offset / folio) * folio;
  const wholeEnd = Math.max(wholeStart, Math.floor(end / folio) * folio);
  let next = s;
  for (const [a, b] of [[offset, Math.min(wholeStart, end)], [Math.max(wholeEnd, offset), end]] as const) {
    for (const p of pagePieces(a, Math.max(0, b - a))) {
      const f = next.mm.files[fileId]!;
      if (get(f.present, p.index) === true) next = withFile(next, fileId, { ...f, data: withPageData(f.data, p.index, fill(f.data.get(p.index), p.from, p.to, 0)) });
    }
  }
  return wholeEnd > wholeStart ? truncatePages(next, fileId, wholeStart / PAGE_SIZE, wholeEnd / PAGE_SIZE) : next;
}

/** vfs_fallocate(PUNCH_HOLE | KEEP_SIZE) on a guest_memfd inode (kvm_gmem_fallocate), passed in by step(). */
export type GmemPunch = (s: State, inode: number, offset: number, len: number) => StepResult;

/** madvise_vma_behavior's refusal of one VMA (madvise_dontneed_free_valid_vma, madvise_remove), if any. */
function vmaRefusal(map: Mapping, folioPages: number, advice: OpOf<"madvise">["advice"], start: number): Rule | undefined {
  if (advice === "DONTNEED") return start % folioPages !== 0 ? MM_RULES.madviseHugeStart : undefined;
  if (map.backing.kind === "anon") return MM_RULES.madviseRemoveAnon;
  return map.shared && map.fdReadOnly !== true ? undefined : MM_RULES.madviseRemoveShared;
}

/** One VMA's advice: DONTNEED zaps (whole huge pages only), REMOVE punches the file through its fallocate. */
function adviseVma(s: State, map: Mapping, start: number, end: number, advice: OpOf<"madvise">["advice"], gmemPunch: GmemPunch): StepResult {
  const fp = folioPagesOf(s, map);
  if (advice === "DONTNEED") return result(zapMapRange(s, s.mm.maps.get(map.id)!, start, fp > 1 ? Math.max(start, Math.floor(end / fp) * fp) : end, true, "dontneed"), { result: "ok" }, MM_RULES.dontneed);
  const b = map.backing;
  if (b.kind === "gmem") return gmemPunch(s, b.inode, b.offset + start * PAGE_SIZE, (end - start) * PAGE_SIZE);
  if (b.kind === "anon") throw new Error("REMOVE on anonymous memory passed its check");
  return result(punchHole(s, b.file, b.offset + start * PAGE_SIZE, (end - start) * PAGE_SIZE), { result: "ok" }, MM_RULES.punch);
}

/**
 * madvise_walk_vmas: the VMAs of the range in address order, each checked and advised in turn; the first refusal
 * ends the walk (the VMAs before it stay advised), and a hole anywhere makes an otherwise good walk ENOMEM.
 */
export function madvise(s: State, op: OpOf<"madvise">, gmemPunch: GmemPunch): StepResult {
  if (!isPageAligned(op.offset)) return refuse(s, MM_RULES.madviseArgs);
  if (op.len === 0) return result(s, { result: "ok" }, MM_RULES.madviseEmpty);
  const map = s.mm.maps.get(op.map);
  const start = op.offset / PAGE_SIZE;
  const end = start + pagesOf(op.len);
  const vmas = map === undefined ? [] : spans(map.live, start, Math.min(end, map.pages));
  if (map === undefined || vmas.length === 0) return refuse(s, MM_RULES.madviseHole);
  const hole = vmas.reduce((n, sp) => n + sp.end - sp.start, 0) < end - start;
  const fp = folioPagesOf(s, map);
  // A walk that would reach a VMA whose ctx wants EVENT_REMOVE is refused whole (the event is not modeled).
  for (const v of vmas) {
    if (vmaRefusal(map, fp, op.advice, v.start) !== undefined) break;
    if (raisesEvent(s, map, v.start, v.end, "EVENT_REMOVE")) return refuse(s, UFFD_EVENT_RULES.notModeled);
  }
  let next = s;
  const fired: string[] = [];
  for (const v of vmas) {
    const refusal = vmaRefusal(map, fp, op.advice, v.start);
    if (refusal !== undefined) return { state: next, outcome: { errno: refusal.errno! }, fired: [...fired, refusal.id] };
    const r = adviseVma(next, map, v.start, v.end, op.advice, gmemPunch);
    next = r.state;
    fired.push(...r.fired);
    if ("errno" in r.outcome) return { state: next, outcome: r.outcome, fired };
  }
  return hole ? { state: next, outcome: { errno: "ENOMEM" }, fired: [...fired, MM_RULES.madviseHole.id] } : { state: next, outcome: { result: "ok" }, fired };
}

/** fallocate(2) as file_fallocate and gmem_fallocate make it: any fd name, the op's own EBADF rule. */
export interface FallocateArgs {
  readonly fd: string;
  readonly mode: FlagList<FallocModeName>;
  readonly offset: number;
  readonly len: number;
  readonly badFd: Rule;
}

/** vfs_fallocate then kvm_gmem_fallocate on guest_memfd inode `inode`, passed in by step(). */
export type GmemFallocate = (s: State, inode: number, mode: FlagList<FallocModeName>, offset: number, len: number) => StepResult;

/**
 * ksys_fallocate's fget, then by what the fd is: a memfd or a guest_memfd goes through vfs_fallocate to its own
 * fallocate; a VM fd or a userfaultfd stops in vfs_fallocate after the argument and mode checks.
 */
export function fallocate(s: State, a: FallocateArgs, gmemFallocate: GmemFallocate): StepResult {
  const ref = fdOf(s, a.fd);
  if (ref === undefined) return refuse(s, a.badFd);
  switch (ref.kind) {
    case "file":
      return fileFallocate(s, ref.id, fallocMode(a.mode), a.offset, a.len, fdMode(s, a.fd) === "r");
    case "gmem":
      return gmemFallocate(s, ref.id, a.mode, a.offset, a.len);
    case "vm":
    case "uffd": {
      const v = validate([
        ...vfsFallocateChecks(fallocMode(a.mode), a.offset, a.len, MM_RULES.fallocArgs, MM_RULES.fallocMode),
        check(FD_RULES.fallocReadonly, () => ref.kind === "uffd"),
        check(FD_RULES.fallocNotRegular, () => ref.kind === "vm"),
      ]);
      return withPassed(refuse(s, v.failure ?? FD_RULES.fallocNotRegular), v.passed);
    }
  }
}

/** shmem_fallocate / hugetlbfs_fallocate after vfs_fallocate's checks, in that order. */
function fileFallocate(s: State, id: number, mode: FallocMode, offset: number, len: number, readOnly: boolean): StepResult {
  const file = s.mm.files[id]!;
  const v = validate([
    ...vfsFallocateChecks(mode, offset, len, MM_RULES.fallocArgs, MM_RULES.fallocMode),
    check(FD_RULES.fallocReadonly, () => readOnly),
    check(MM_RULES.fallocBig, () => isBeyond(MM_BOUNDS.fallocBig, fallocEnd(offset, len))),
    check(MM_RULES.fallocFileMode, () => !onlyKeepPunch(mode)),
  ]);
  if (v.failure !== undefined) return withPassed(refuse(s, v.failure), v.passed);
  const keep = mode.keep;
  if (mode.punch) return result(punchHole(s, id, offset, len), { result: "ok" }, MM_RULES.punch);
  const folio = file.folioPages * PAGE_SIZE;
  // Every folio of the range is allocated, past i_size too (KEEP_SIZE): SGP_FALLOC has no i_size check.
  const a = Math.floor(offset / folio) * folio;
  const b = Math.ceil((offset + len) / folio) * folio;
  const size = keep ? file.size : Math.max(file.size, offset + len);
  return result(withFile(s, id, { ...fallocatePages(file, a / PAGE_SIZE, b / PAGE_SIZE), size }), { result: "ok" }, MM_RULES.allocate);
}

/**
 * shmem_get_folio(SGP_FALLOC) over [start, end): new shmem folios stay !uptodate (falloced), and a second
 * SGP_FALLOC on a falloced one initializes it (shmem_fallocate's comment); hugetlbfs folios are uptodate.
 */
function fallocatePages(file: MemFile, start: number, end: number): MemFile {
  let falloced = file.kind === "shmem" ? assign(fallocedOf(file), start, end, true) : fallocedOf(file);
  for (const sp of spans(file.present, start, end)) falloced = assign(falloced, sp.start, sp.end, undefined);
  return withFalloced({ ...file, present: assign(file.present, start, end, true) }, falloced);
}

/** close of the memfd `name` refers to (model/step.ts dispatches close by what the name is). */
export function closeFile(s: State, name: string): StepResult {
  return result({ ...s, mm: withoutFileName(s.mm, name) }, { result: "ok" }, MM_RULES.closeFile);
}

/**
 * open("/proc/self/fd/N", mode) of the fd `op.from` refers to: a memfd gets a second fd under `op.file` (a name in
 * use is re-bound), an anon inode refuses, a name no fd has is not in /proc/self/fd.
 */
export function reopen(s: State, op: OpOf<"reopen">): StepResult {
  const ref = fdOf(s, op.from);
  if (ref === undefined) return refuse(s, MM_RULES.reopenNone);
  if (ref.kind !== "file") return refuse(s, MM_RULES.reopenAnon);
  const t = unbindName(s, op.file);
  const modes = op.mode === "rw" ? t.mm.modes : withEntry(t.mm.modes ?? new Map<string, FdMode>(), op.file, op.mode);
  const mm: MmState = { ...t.mm, names: withEntry(t.mm.names, op.file, ref.id), ...(modes === undefined ? {} : { modes }) };
  return result({ ...t, mm }, { result: "ok" }, MM_RULES.reopen);
}
