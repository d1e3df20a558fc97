// The abstraction function: the implementation's mutable state read back as an immutable model state.
import { match } from "ts-pattern";
import type { PageBytes } from "../model/bytes.js";
import type { Level } from "../model/consts.js";
import { LEVEL_PAGES } from "../model/consts.js";
import type { GmemInode as ModelInode } from "../model/gmem/types.js";
import type { Memslot, Spte, Vm } from "../model/kvm/types.js";
import type { Mapping as ModelMapping, MemFile as ModelFile, PagePointer, Pte as ModelPte } from "../model/mm/types.js";
import type { RangeMap as ModelRanges, Span } from "../model/ranges.js";
import type { State } from "../model/state.js";
import type { MemslotFlagName } from "../schema/ops.js";
import type { GmemInode } from "./gmem/gmem.js";
import { MEM, type ImplMemslot, type Kvm } from "./kvm/kvm.js";
import type { Stage2 } from "./kvm/stage2.js";
import { ZERO_FOLIO, type Folio } from "./mm/folio.js";
import type { Mapping } from "./mm/mapping.js";
import type { MemFile } from "./mm/memfd.js";
import type { Kernel } from "./system.js";
import type { Uffd } from "./uffd/uffd.js";
import type { UffdState } from "../model/uffd/types.js";
import { toRuns, type Page } from "./util/pagedata.js";
import type { RangeMap } from "./util/rangemap.js";

const FLAG_NAMES: readonly MemslotFlagName[] = ["LOG_DIRTY_PAGES", "READONLY", "GUEST_MEMFD", "USERFAULT"];

/** Builds canonical spans from sorted, disjoint pieces, merging neighbours with equal values. */
function spansOf<V>(pieces: Iterable<Span<V>>): ModelRanges<V> {
  const out: Span<V>[] = [];
  for (const p of pieces) {
    const last = out[out.length - 1];
    if (last !== undefined && last.end === p.start && JSON.stringify(last.value) === JSON.stringify(p.value)) out[out.length - 1] = { ...last, end: p.end };
    else out.push(p);
  }
  return out;
}

const ranges = <V>(m: RangeMap<V>): ModelRanges<V> => spansOf(m.spans());

/** Who holds a folio: a memfd's page cache, a guest_memfd's, or a mapping's private pages, from page index `first`. */
type Owner =
  | { readonly in: "file"; readonly file: number; readonly first: number }
  | { readonly in: "gmem"; readonly inode: number; readonly first: number }
  | { readonly in: "anon"; readonly map: string; readonly first: number };

/**
 * Page tables and stage 2 point at folios; the abstract state names what each points at by its owner and index
 * (model/mm/types.ts PagePointer). A 4 KiB view of a split huge guest_memfd folio holds the huge folio's page
 * object, so pages are looked up as well as folios. A folio no owner holds any more is "freed": a stale pointer.
 */
class Owners {
  private readonly folios = new Map<Folio, Owner>();
  /** Pages of owned folios, built the first time a view (a folio no owner holds) needs one. */
  private pages: Map<Page, { readonly owner: Owner; readonly sub: number }> | undefined;

  constructor(k: Kernel) {
    for (const [file, f] of k.mm.files.entries()) for (const [n, folio] of f.cache) this.folios.set(folio, { in: "file", file, first: n * f.folioPages });
    for (const [inode, g] of k.gmemInodes.entries()) for (const [n, e] of g.cache) this.folios.set(e.folio, { in: "gmem", inode, first: n * g.folioPages });
    for (const [map, m] of k.mm.maps) for (const [first, folio] of m.anon) this.folios.set(folio, { in: "anon", map, first });
  }

  private pageOwner(page: Page | undefined): { readonly owner: Owner; readonly sub: number } | undefined {
    if (page === undefined) return undefined;
    if (this.pages === undefined) {
      this.pages = new Map();
      for (const [folio, owner] of this.folios) for (const [sub, p] of folio.sub) this.pages.set(p, { owner, sub });
    }
    return this.pages.get(page);
  }

  /** What an entry at index `at` points at when it maps page `sub` of `folio`. */
  pointer(folio: Folio, sub: number, at: number): PagePointer {
    if (folio === ZERO_FOLIO) return { in: "zero" };
    const direct = this.folios.get(folio);
    const viewed = direct === undefined && folio.pages === 1 ? this.pageOwner(folio.sub.get(0)) : undefined;
    const owner = direct ?? viewed?.owner;
    if (owner === undefined) return { in: "freed" };
    const delta = owner.first + (direct !== undefined ? sub : viewed!.sub) - at;
    return match(owner)
      .with({ in: "file" }, (o): PagePointer => ({ in: "file", file: o.file, delta }))
      .with({ in: "gmem" }, (o): PagePointer => ({ in: "gmem", inode: o.inode, delta }))
      .with({ in: "anon" }, (o): PagePointer => ({ in: "anon", map: o.map, delta }))
      .exhaustive();
  }
}

function memslot(s: ImplMemslot): Memslot {
  return {
    slot: s.slot,
    as: s.as,
    id: s.id,
    baseGfn: s.baseGfn,
    npages: s.npages,
    userspaceAddr: s.userspaceAddr,
    flags: FLAG_NAMES.filter((f) => s.flags & MEM[f]),
    gmem: s.gmem,
    gmemOnly: s.gmemOnly,
    userfaultBitmap: s.userfaultBitmap,
  };
}

function stage2(s2: Stage2, owners: Owners): ModelRanges<Spte> {
  return spansOf(
    s2.leaves().map(({ gfn, leaf }) => ({
      start: gfn,
      end: gfn + LEVEL_PAGES[leaf.level],
      value: { level: leaf.level as Level, writable: leaf.writable, private: leaf.private, page: owners.pointer(leaf.folio, leaf.sub, gfn) },
    })),
  );
}

function vm(kvm: Kvm, owners: Owners): Vm {
  return {
    type: kvm.type,
    slots: kvm.memslots.flatMap((m) => m.sorted.map(memslot)).sort((a, b) => a.slot - b.slot),
    attributes: ranges(kvm.attributes),
    stage2: kvm.stage2.map((s2) => stage2(s2, owners)),
    bitmaps: new Map([...kvm.bitmaps].map(([slot, b]) => [slot, spansOf([...b.runs()].map((r) => ({ ...r, value: true as const })))])),
  };
}

/** Data of every page of folios keyed by their first index. */
function folioData(folios: Iterable<[number, Folio]>): Map<number, PageBytes> {
  const out = new Map<number, PageBytes>();
  for (const [first, f] of folios) {
    for (const [sub, page] of f.sub) {
      const runs = toRuns(page);
      if (runs !== undefined) out.set(first + sub, runs);
    }
  }
  return out;
}

function presence(keys: Iterable<number>, pages: number, limit = Number.MAX_SAFE_INTEGER): ModelRanges<true> {
  const sorted = [...keys].sort((a, b) => a - b);
  return spansOf(sorted.map((k) => ({ start: k, end: Math.min(k + pages, limit), value: true as const })));
}

function memFile(f: MemFile): ModelFile {
  const firsts = [...f.cache.keys()].map((n) => n * f.folioPages);
  return {
    kind: f.kind,
    size: f.size,
    folioPages: f.folioPages,
    present: presence(firsts, f.folioPages),
    data: folioData([...f.cache].map(([n, folio]) => [n * f.folioPages, folio])),
    ...(f.falloced.size > 0 ? { falloced: presence([...f.falloced].map((n) => n * f.folioPages), f.folioPages) } : {}),
    ...(f.anon ? { anon: true as const } : {}),
  };
}

function mapping(m: Mapping, owners: Owners): ModelMapping {
  const ptes = [...m.ptes]
    .sort(([a], [b]) => a - b)
    .map(([key, pte]) => {
      const page = owners.pointer(pte.folio, 0, key);
      return {
        start: key,
        end: Math.min(key + (pte.kind === "zero" ? 1 : m.folioPages), m.pages),
        value: (pte.uffdWp === true ? { target: pte.kind, writable: pte.writable, page, uffdWp: true } : { target: pte.kind, writable: pte.writable, page }) as ModelPte,
      };
    });
  const regs = spansOf([...m.uffd.spans()].map((r) => ({ start: r.start, end: r.end, value: { ctx: r.value.ctx.id, modes: [...r.value.modes] } })));
  const markers = ranges(m.markers);
  return {
    id: m.id,
    base: m.base,
    pages: m.pages,
    backing: m.backing,
    shared: m.shared,
    prot: m.prot,
    live: ranges(m.live),
    ptes: spansOf(ptes),
    anon: presence(m.anon.keys(), m.folioPages, m.pages),
    anonData: folioData(m.anon),
    ...(m.fdReadOnly ? { fdReadOnly: true as const } : {}),
    uffd: regs.length > 0 ? regs : undefined,
    markers: markers.length > 0 ? markers : undefined,
  };
}

function uffdState(u: Uffd, names: ReadonlyMap<string, number>): UffdState {
  return {
    ctxs: u.ctxs.map((c) => ({
      name: c.name,
      features: [...c.features],
      userModeOnly: c.userModeOnly,
      released: c.released,
      ...(c.initialized ? {} : { uninitialized: true as const }),
    })),
    names,
    threads: u.threads.map((t) => ({
      name: t.name,
      op: t.op,
      faults: t.faults,
      status: t.waiter !== undefined ? { kind: "blocked" as const, msg: { ctx: t.waiter.ctx.id, address: t.waiter.address, flags: [...t.waiter.flags] } } : { kind: "done" as const, outcome: t.outcome! },
    })),
  };
}

function gmemInode(g: GmemInode): ModelInode {
  const firsts = [...g.cache.keys()].map((n) => n * g.folioPages);
  const split = [...g.cache].filter(([, f]) => f.split).map(([n]) => n * g.folioPages);
  return {
    vm: g.vm,
    size: g.size,
    flags: [...g.flags],
    fd: g.fd,
    open: g.open,
    folioPages: g.folioPages,
    present: presence(firsts, g.folioPages),
    data: folioData([...g.cache].map(([n, f]) => [n * g.folioPages, f.folio])),
    bindings: ranges(g.bindings),
    shared: ranges(g.shared),
    split: presence(split, g.folioPages),
    pins: spansOf([...g.pins].sort(([a], [b]) => a - b).map(([i, n]) => ({ start: i, end: i + 1, value: n }))),
  };
}

export function abstractState(k: Kernel): State {
  const owners = new Owners(k);
  return {
    config: k.config,
    kvm: { vms: k.vms.map((v) => vm(v, owners)), names: k.fds.names("vm") },
    gmem: { inodes: k.gmemInodes.map(gmemInode), names: k.fds.names("gmem") },
    mm: {
      files: k.mm.files.map(memFile),
      names: k.fds.names("file"),
      ...(k.fds.modes().size > 0 ? { modes: k.fds.modes() } : {}),
      maps: new Map([...k.mm.maps].map(([id, m]) => [id, mapping(m, owners)])),
    },
    uffd: uffdState(k.uffd, k.fds.names("uffd")),
  };
}
