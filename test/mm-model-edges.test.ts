// The rules the mm model names for what it did, and the mm layer's own guards, written from the surviving mutants
// of the second mm Stryker run (docs/mutation/mm.md): a fault's trace names the kernel path that resolved it (the
// zero page, a fresh anonymous page, the page cache, a COW, wp_page_reuse, a uffd-wp marker, fault-around), and
// names no path it did not take. Model and impl run together (runBoth); the rules are the model's.
import { describe, expect, it } from "vitest";
import { ZERO_FOLIO, newFolio, pageOf } from "../impl/mm/folio.js";
import { MAP_BASE, MAP_STRIDE } from "../model/consts.js";
import { mapBase } from "../model/mm/layout.js";
import { PRESETS } from "../schema/config.js";
import type { Op, UffdFeatureName, UffdModeName } from "../schema/ops.js";
import { runBoth } from "./helpers/run.js";

const P = 4096;
const H = 2 * 1024 * 1024;
const K618 = PRESETS["kernel-6.18"];

const anon = (pages = 4): Op => ({ op: "mmap", map: "m1", file: "anon", offset: 0, length: pages * P });
const shmem = (pages = 4, shared = true, size = pages * P): Op[] => [
  { op: "memfd", file: "f0", size },
  { op: "mmap", map: "m1", file: "f0", offset: 0, length: pages * P, shared },
];
const read = (offset: number): Op => ({ op: "access", map: "m1", offset, kind: "read" });
const write = (offset: number, byte = 7): Op => ({ op: "access", map: "m1", offset, kind: "write", byte });
const uffd = (features: UffdFeatureName[] = []): Op => ({ op: "uffd_open", uffd: "u0", features });
const reg = (mode: UffdModeName[], len = 4 * P): Op => ({ op: "uffd_register", uffd: "u0", map: "m1", offset: 0, len, mode });
const protect = (offset: number, len = P): Op => ({ op: "uffdio_writeprotect", uffd: "u0", map: "m1", offset, len, mode: ["WP"] });

/** The rules the model named for each op (runBoth: the impl agreed on every outcome and state). */
async function rules(ops: readonly Op[]): Promise<(readonly string[])[]> {
  return (await runBoth(K618, ops)).fired;
}

describe("the path a fault took, named in its trace", () => {
  it("anonymous memory: a read maps the zero page (do_anonymous_page), a write allocates, also over the zero page (wp_page_copy)", async () => {
    const f = await rules([anon(), read(0), write(P), write(0)]);
    expect(f[1]).toContain("mm.anon-zero-page");
    expect(f[2]).toContain("mm.anon-alloc");
    expect(f[3]).toContain("mm.anon-alloc");
    expect(f[3]).not.toContain("mm.cow-zero-page");
  });

  it("a write to a ZEROPAGE PTE of a private shmem mapping is the file mapping's zero-page COW (do_wp_page -> wp_page_copy)", async () => {
    const f = await rules([...shmem(4, false), uffd(), reg(["MISSING"]), { op: "uffdio_zeropage", uffd: "u0", map: "m1", offset: 0, len: P }, write(0)]);
    expect(f.at(-1)).toContain("mm.cow-zero-page");
    expect(f.at(-1)).not.toContain("mm.anon-alloc");
  });

  it("shmem: a fault maps the page cache (shmem_fault); a write to a private mapping copies it (do_cow_fault)", async () => {
    const f = await rules([...shmem(4, false), read(0), write(P)]);
    expect(f[2]).toContain("mm.file-fault");
    expect(f[3]).toEqual(expect.arrayContaining(["mm.file-fault", "mm.cow"]));
  });

  it("under WP_ASYNC a write to a write-protected anonymous page names the async resolve and wp_page_reuse (do_wp_page)", async () => {
    const f = await rules([anon(), uffd(["WP_ASYNC"]), reg(["WP"]), write(0), protect(0), write(0)]);
    expect(f.at(-1)).toEqual(expect.arrayContaining(["uffd.fault-wp-async", "mm.wp-reuse"]));
  });

  it("a fault through a uffd-wp marker names it; a write then takes the WP fault of its second pass (handle_pte_marker, do_wp_page)", async () => {
    // MADV_DONTNEED of a uffd-wp shmem PTE in a WP VMA leaves the marker (zap_install_uffd_wp_if_needed).
    const setup = [...shmem(), uffd(), reg(["WP"]), write(0), protect(0), { op: "madvise", map: "m1", offset: 0, len: P, advice: "DONTNEED" } satisfies Op];
    expect((await rules([...setup, read(0)])).at(-1)).toEqual(expect.arrayContaining(["mm.file-fault", "mm.uffd-wp-marker"]));
    expect((await rules([...setup, write(0)])).at(-1)).toEqual(expect.arrayContaining(["mm.uffd-wp-marker", "uffd.fault-wp"]));
  });
});

describe("fault-around names only what it mapped", () => {
  it("a read fault with no other uptodate page in its window maps nothing around (filemap_map_pages)", async () => {
    const f = await rules([...shmem(), read(0)]);
    expect(f.at(-1)).not.toContain("mm.fault-around");
  });

  it("hugetlbfs has no ->map_pages: a read fault on a cached huge page is no fault-around (hugetlb_fault)", async () => {
    const ops: Op[] = [
      { op: "memfd", file: "h0", size: H, hugetlb: true },
      { op: "mmap", map: "m1", file: "h0", offset: 0, length: H },
      { op: "file_fallocate", file: "h0", mode: ["KEEP_SIZE"], offset: 0, len: H },
      read(3 * P),
    ];
    expect((await rules(ops)).at(-1)).not.toContain("mm.fault-around");
  });

  it("what fault-around mapped is named beside the SIGBUS of a fault past i_size (do_read_fault: do_fault_around first)", async () => {
    const f = await rules([...shmem(24, true, 18 * P), { op: "pwrite", file: "f0", offset: 16 * P, len: 2 * P, byte: 5 }, read(20 * P)]);
    expect(f.at(-1)).toEqual(expect.arrayContaining(["mm.fault-around", "mm.sigbus-eof"]));
  });
});

describe("the rules of mmap and madvise", () => {
  it("only MAP_SHARED anonymous memory names shmem_zero_setup (do_mmap)", async () => {
    const f = await rules([anon(), { op: "mmap", map: "m2", file: "anon", offset: 0, length: P, shared: true }]);
    expect(f[0]).not.toContain("mm.mmap-shared-anon");
    expect(f[1]).toContain("mm.mmap-shared-anon");
  });

  it("MADV_DONTNEED of one VMA names its zap and nothing else (madvise_dontneed_single_vma)", async () => {
    const f = await rules([anon(), write(0), { op: "madvise", map: "m1", offset: 0, len: P, advice: "DONTNEED" }]);
    expect(f.at(-1)).toEqual(["mm.madv-dontneed"]);
  });
});

describe("the mm layer's own guards", () => {
  it("the shared zero page is never written: the impl refuses to hand out a page of it", () => {
    expect(() => pageOf(ZERO_FOLIO, 0)).toThrow("the zero page is never written");
    expect(pageOf(newFolio(1), 0)).toBeDefined();
  });

  it("a map id is m<N> with N < 64: its window is MAP_BASE + N * MAP_STRIDE (docs/VOCABULARY.md, mapping layout)", () => {
    expect(mapBase("m12")).toBe(MAP_BASE + 12 * MAP_STRIDE);
    for (const bad of ["m1x", "xm1", "m64", "m", "m123"]) expect(() => mapBase(bad)).toThrow(`not a map id: ${bad}`);
  });
});
