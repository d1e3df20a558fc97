// Post-copy on every backing (issue 19): anonymous memory (MISSING + UFFDIO_COPY), shmem and hugetlbfs 2 MiB (MINOR +
// CONTINUE through a second mapping), guest_memfd 4 KiB, 2 MiB and 1 GiB folios, each with and without KVM Userfault on the
// memslot; four vCPUs, several on one page; pre-copied pages stale or already current; a background fetcher racing
// one handler thread or one per vCPU; pages the source sends twice; the balloon giving pages back mid-migration.
import fc from "fast-check";
import { PAGE_SIZE } from "../../model/consts.js";
import type { PostcopyEvent, PostcopyScenario, BackingName } from "./scenario.js";
import { postcopySuite, type PostcopySuite } from "./suite.js";

const VCPUS = 4;

export interface Shape {
  readonly backing: BackingName;
  readonly userfault: boolean;
  readonly maxPages: number;
  readonly maxEvents: number;
}

const UNIT: Readonly<Record<BackingName, number>> = {
  gmem: PAGE_SIZE,
  "gmem-2m": 2 ** 21,
  "gmem-1g": PAGE_SIZE,
  anon: PAGE_SIZE,
  shmem: PAGE_SIZE,
  "hugetlb-2m": 2 ** 21,
  "snapshot-private": PAGE_SIZE,
  "snapshot-shared": PAGE_SIZE,
};
const BALLOON: ReadonlySet<BackingName> = new Set(["anon", "shmem"]);

function events(s: Shape): fc.Arbitrary<PostcopyEvent> {
  const unit = UNIT[s.backing];
  const offsets = unit === PAGE_SIZE ? [0, 8, PAGE_SIZE - 1] : [0, PAGE_SIZE + 8, unit - 1];
  // Pages drawn from the first two most of the time: several vCPUs end up on one page.
  const page = fc.oneof({ weight: 3, arbitrary: fc.nat({ max: 1 }) }, { weight: 1, arbitrary: fc.nat({ max: s.maxPages - 1 }) });
  const access = fc.record({ write: fc.boolean(), page, offset: fc.constantFrom(...offsets), byte: fc.integer({ min: 1, max: 255 }) });
  return fc.oneof(
    { weight: 5, arbitrary: fc.tuple(access, fc.nat({ max: VCPUS - 1 })).map(([a, vcpu]): PostcopyEvent => ({ kind: "guest", vcpu, ...a })) },
    { weight: 2, arbitrary: fc.tuple(access, fc.nat({ max: 1 })).map(([a, thread]): PostcopyEvent => ({ kind: "vmm", thread, ...a })) },
    { weight: 3, arbitrary: fc.constant<PostcopyEvent>({ kind: "fetcher" }) },
    { weight: 4, arbitrary: fc.nat({ max: VCPUS - 1 }).map((thread): PostcopyEvent => ({ kind: "handler", thread })) },
    { weight: 1, arbitrary: page.map((p): PostcopyEvent => ({ kind: "resend", page: p })) },
    { weight: BALLOON.has(s.backing) ? 1 : 0, arbitrary: page.map((p): PostcopyEvent => ({ kind: "balloon", page: p })) },
  );
}

/** A scenario of the shape: every array drawn for maxPages and cut to the page count (no chain, so it shrinks). */
export function shapeArbitrary(s: Shape): fc.Arbitrary<PostcopyScenario> {
  const max = s.maxPages;
  const copied = fc.oneof({ weight: 2, arbitrary: fc.constant<"none" | "stale" | "current">("none") }, { weight: 1, arbitrary: fc.constantFrom<"stale" | "current">("stale", "current") });
  return fc
    .record({
      pages: fc.integer({ min: 2, max }),
      source: fc.uniqueArray(fc.integer({ min: 1, max: 255 }), { minLength: max, maxLength: max }),
      copied: fc.array(copied, { minLength: max, maxLength: max }),
      stale: fc.integer({ min: 1, max: 255 }),
      fetchOrder: fc.shuffledSubarray([...Array(max).keys()], { minLength: max, maxLength: max }),
      handlers: fc.constantFrom<"one" | "per-vcpu">("one", "per-vcpu"),
      events: fc.array(events(s), { maxLength: s.maxEvents }),
    })
    .map(({ pages, source, copied, stale, fetchOrder, handlers, events: evs }) => ({
      pages,
      source: source.slice(0, pages),
      // A snapshot file holds no stale pages: what it has is current.
      precopied: copied.slice(0, pages).map((c, p) => (c === "none" ? null : c === "current" || stale === source[p] || s.backing.startsWith("snapshot") ? source[p]! : stale)),
      fetchOrder: fetchOrder.filter((p) => p < pages),
      events: evs.map((e) => ("page" in e ? { ...e, page: e.page % pages } : e)),
      backing: s.backing,
      userfault: s.userfault,
      vcpus: VCPUS,
      handlers,
    }));
}

function shapeSuite(backing: BackingName, userfault: boolean, runs: number, what: string): PostcopySuite {
  const name = `postcopy-${backing}${userfault ? "" : "-uffd"}`;
  const how = userfault ? "KVM Userfault on the memslot, uffd for the VMM's own threads" : "no KVM Userfault: every vCPU fault goes through uffd";
  const big = UNIT[backing] > PAGE_SIZE;
  return postcopySuite(name, `post-copy on ${what}, ${how}; ${VCPUS} vCPUs, one handler or one per vCPU, resends${BALLOON.has(backing) ? ", balloon" : ""}`, shapeArbitrary({ backing, userfault, maxPages: big ? 2 : 3, maxEvents: big ? 10 : 20 }), runs);
}

export const POSTCOPY_SHAPE_SUITES: readonly PostcopySuite[] = [
  shapeSuite("anon", true, 60, "anonymous memory (MISSING + UFFDIO_COPY / ZEROPAGE)"),
  shapeSuite("anon", false, 60, "anonymous memory (MISSING + UFFDIO_COPY / ZEROPAGE)"),
  shapeSuite("shmem", true, 60, "shmem (MINOR + CONTINUE, the second mapping written first)"),
  shapeSuite("shmem", false, 60, "shmem (MINOR + CONTINUE, the second mapping written first)"),
  // 2 MiB pages cost about 0.4 s a run (512 pages' data through model and abstraction): few runs by default.
  shapeSuite("hugetlb-2m", true, 6, "hugetlbfs 2 MiB pages (MINOR + CONTINUE)"),
  shapeSuite("hugetlb-2m", false, 6, "hugetlbfs 2 MiB pages (MINOR + CONTINUE)"),
  shapeSuite("gmem", true, 40, "guest_memfd 4 KiB"),
  shapeSuite("gmem", false, 40, "guest_memfd 4 KiB mapped through its mmap (a userspace memslot)"),
  shapeSuite("gmem-2m", true, 6, "guest_memfd with 2 MiB folios"),
  shapeSuite("gmem-2m", false, 6, "guest_memfd with 2 MiB folios mapped through its mmap"),
  shapeSuite("gmem-1g", true, 20, "guest_memfd with 1 GiB folios, fetched 4 KiB at a time"),
  shapeSuite("gmem-1g", false, 20, "guest_memfd with 1 GiB folios mapped through its mmap, fetched 4 KiB at a time"),
  shapeSuite("snapshot-private", true, 40, "a snapshot restore: MAP_PRIVATE of the snapshot file, MISSING faults on its holes + UFFDIO_COPY"),
  shapeSuite("snapshot-shared", false, 40, "a snapshot restore: the shared snapshot file, MINOR + CONTINUE (its pages current)"),
];
