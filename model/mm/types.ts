// Host memory: memfd inodes (shmem, hugetlbfs), mappings at fixed addresses, host PTEs and page contents.
import type { PageBytes } from "../bytes.js";
import type { RangeMap } from "../ranges.js";
import type { UffdReg } from "../uffd/types.js";

export type Backing =
  | { readonly kind: "anon" }
  | { readonly kind: "memfd"; readonly file: number; readonly offset: number }
  | { readonly kind: "gmem"; readonly inode: number; readonly offset: number };

/**
 * The page a present PTE or stage-2 leaf points at, named by its owner: a memfd's page cache, a guest_memfd, a
 * mapping's private pages, or the zero page. The owner's page index is the entry's index plus `delta`, so entries
 * that map consecutive pages make one span. "freed": a page no owner holds any more, a stale pointer (only an
 * implementation can hold one, and invariants refuse it).
 */
export type PagePointer =
  | { readonly in: "file"; readonly file: number; readonly delta: number }
  | { readonly in: "gmem"; readonly inode: number; readonly delta: number }
  | { readonly in: "anon"; readonly map: string; readonly delta: number }
  | { readonly in: "zero" }
  | { readonly in: "freed" };

/** What a present host PTE maps: the file's page-cache page, this mapping's private (anon/COW) page, or the zero page. */
export interface Pte {
  readonly target: "file" | "anon" | "zero";
  readonly writable: boolean;
  /** The page itself (for a file target: the page cached at the backing index when it was mapped). */
  readonly page: PagePointer;
  /** The uffd-wp bit (_PAGE_UFFD_WP): write-protected until UFFDIO_WRITEPROTECT clears it. Absent when clear. */
  readonly uffdWp?: true;
}

/** A non-present PTE that is not none: a uffd-wp marker (PTE_MARKER_UFFD_WP) or a poison marker (PTE_MARKER_POISONED). */
export type Marker = "wp" | "poison";

/** The mapping's protection (mmap prot): read-write, read-only, or none. */
export type Prot = "rw" | "r" | "none";

export interface Mapping {
  readonly id: string;
  readonly base: number;
  readonly pages: number;
  readonly backing: Backing;
  readonly shared: boolean;
  readonly prot: Prot;
  /** Page indexes (from base) still mapped after munmap. */
  readonly live: RangeMap<true>;
  readonly ptes: RangeMap<Pte>;
  /** Private pages of this mapping (anonymous memory, or COW copies of a private file mapping). */
  readonly anon: RangeMap<true>;
  readonly anonData: ReadonlyMap<number, PageBytes>;
  /**
   * Made MAP_SHARED from an fd not open for writing: do_mmap cleared VM_MAYWRITE and VM_SHARED (VM_MAYSHARE stays, the
   * page cache is mapped). Absent otherwise (a private mapping always has VM_MAYWRITE).
   */
  readonly fdReadOnly?: true;
  /** userfaultfd registration per page (vm_userfaultfd_ctx + VM_UFFD_*: VMAs split at its edges); absent when empty. */
  readonly uffd?: RangeMap<UffdReg>;
  /** PTE markers on pages whose PTE is none; absent when empty. */
  readonly markers?: RangeMap<Marker>;
}

export interface MemFile {
  readonly kind: "shmem" | "hugetlb";
  readonly size: number;
  /** 4 KiB pages per folio: 1 for shmem, 512 or 262144 for hugetlbfs. */
  readonly folioPages: number;
  /** Page-cache presence per 4 KiB index (whole folios for hugetlbfs). */
  readonly present: RangeMap<true>;
  readonly data: ReadonlyMap<number, PageBytes>;
  /** shmem pages fallocate added that nothing has initialized yet (!folio_test_uptodate); absent when empty. */
  readonly falloced?: RangeMap<true>;
  /** The unnamed file behind MAP_SHARED | MAP_ANONYMOUS memory: no fd names it. */
  readonly anon?: true;
}

/** How an fd of a memfd was opened: O_RDONLY or O_WRONLY (an O_RDWR fd has no entry). */
export type FdMode = "r" | "w";

export interface MmState {
  readonly files: readonly MemFile[];
  readonly names: ReadonlyMap<string, number>;
  /** The memfd names whose fd is not O_RDWR (reopen through /proc/self/fd); absent when there is none. */
  readonly modes?: ReadonlyMap<string, FdMode>;
  readonly maps: ReadonlyMap<string, Mapping>;
}
