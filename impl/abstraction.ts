// The abstraction function: the implementation's mutable state read back as an immutable model state, rebuilt
// only where a step changed something (the versions of impl/util/versioned.ts), so that successive states share
// their unchanged parts and props/state-compare.ts compares those in O(1).
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
import type { GmemFolio, GmemInode } from "./gmem/gmem.js";
import { MEM, type ImplMemslot, type Kvm } from "./kvm/kvm.js";
import type { Stage2 } from "./kvm/stage2.js";
import { ZERO_FOLIO, type Folio } from "./mm/folio.js";
import type { Mapping } from "./mm/mapping.js";
import type { MemFile } from "./mm/memfd.js";
import type { Kernel } from "./system.js";
import type { Uffd } from "./uffd/uffd.js";
import type { UffdState } from "../model/uffd/types.js";
import { toRuns, type Page } from "./util/pagedata.js";
import type { VersionedMap } from "./util/versioned.js";
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
  /** Some pointer named a folio no owner holds. */
  freed = false;

  /** The owned folios' pages are looked up afresh at every step: a view's page may have left its huge folio. */
  forgetPages(): void {
    this.pages = undefined;
  }

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
    if (owner === undefined) {
      this.freed = true;
      return { in: "freed" };
    }
    const delta = owner.first + (direct !== undefined ? sub : viewed!.sub) - at;
    return match(owner)
      .with({ in: "file" }, (o): PagePointer => ({ in: "file", file: o.file, delta }))
      .with({ in: "gmem" }, (o): PagePointer => ({ in: "gmem", inode: o.inode, delta }))
      .with({ in: "anon" }, (o): PagePointer => ({ in: "anon", map: o.map, delta }))
      .exhaustive();
  }
}

const FLAGS_OF = new Map<number, readonly MemslotFlagName[]>();
/** The flag names of a memslot's flags word, one array per word (so that equal slots share it). */
function flagNames(flags: number): readonly MemslotFlagName[] {
  let names = FLAGS_OF.get(flags);
  if (names === undefined) FLAGS_OF.set(flags, (names = FLAG_NAMES.filter((f) => flags & MEM[f])));
  return names;
}

/** Same members (own enumerable keys, in order), elements or entries, each `===`: the newer may stand for the older. */
function sameParts(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  if (a instanceof Map) {
    if (!(b instanceof Map) || a.size !== b.size) return false;
    const ib = b.entries();
    for (const [k, v] of a) {
      const e = ib.next().value as [unknown, unknown];
      if (e[0] !== k || e[1] !== v) return false;
    }
    return true;
  }
  if (Array.isArray(b) || b instanceof Map) return false;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const kx = Object.keys(x);
  const ky = Object.keys(y);
  if (kx.length !== ky.length) return false;
  for (let i = 0; i < kx.length; i++) if (kx[i] !== ky[i] || x[kx[i]!] !== y[kx[i]!]) return false;
  return true;
}

/**
 * The versions who owns each folio was read at: `removals` (a folio left an owner, or a page a huge folio, so an
 * existing pointer may change) or every write (a new folio, which only a "freed" pointer could have named).
 */
function ownersSignature(k: Kernel, of: "removals" | "version"): Map<object, number> {
  const sig = new Map<object, number>();
  const add = (owner: VersionedMap<number, unknown>, folios: Iterable<Folio>): void => {
    sig.set(owner, owner[of]);
    for (const f of folios) if (f.pages > 1) sig.set(f.sub, f.sub[of]);
  };
  for (const f of k.mm.files.values()) add(f.cache, f.cache.values());
  for (const g of k.gmemInodes.values()) add(g.cache, [...g.cache.values()].map((e) => e.folio));
  for (const m of k.mm.maps.values()) add(m.anon, m.anon.values());
  return sig;
}

/**
 * One Kernel's abstraction, kept between steps. A part is rebuilt when a version it was built from changed; a
 * rebuilt object whose members are all `===` to the last one's is the last one. A fresh Abstraction rebuilds
 * everything: props/checker.ts compares the two (the cross-check), so a missed version bump cannot hide a bug.
 */
export class Abstraction {
  /** Runs of each page seen, at its version. */
  private readonly runs = new WeakMap<Page, { readonly version: number; readonly runs: PageBytes | undefined }>();
  /** Parts built from one versioned impl object (and the owners, for pointers), by that object and a tag. */
  private readonly built = new WeakMap<object, Map<string, { readonly version: number; readonly epoch: number; readonly value: unknown }>>();
  /** The last part built for an impl object, by that object and a tag. */
  private readonly last = new WeakMap<object, Map<string, unknown>>();
  private owners: Owners | undefined;
  private signature = new Map<object, number>();
  private removals = new Map<object, number>();
  /** Changes whenever a pointer built before may have changed: pointers built at another epoch are rebuilt. */
  private epoch = 0;
  /** A pointer built in this epoch named a freed folio, which a new owner may hold: any new folio ends the epoch. */
  private freed = false;

  /** `make()`, or what it gave when `of` was at this version (and the owners at this epoch, when `pointers`). */
  private cached<T>(of: object, tag: string, version: number, pointers: boolean, make: () => T): T {
    let parts = this.built.get(of);
    if (parts === undefined) this.built.set(of, (parts = new Map()));
    const epoch = pointers ? this.epoch : 0;
    const hit = parts.get(tag);
    if (hit !== undefined && hit.version === version && hit.epoch === epoch) return hit.value as T;
    const value = make();
    parts.set(tag, { version, epoch, value });
    return value;
  }

  /** `next`, or the last part built for (of, tag) when it has the same members. */
  private share<T>(of: object, tag: string, next: T): T {
    let parts = this.last.get(of);
    if (parts === undefined) this.last.set(of, (parts = new Map()));
    const prev = parts.get(tag);
    if (prev !== undefined && sameParts(prev, next)) return prev as T;
    parts.set(tag, next);
    return next;
  }

  private ranges<V>(m: RangeMap<V>): ModelRanges<V> {
    return this.cached(m, "spans", m.version, false, () => spansOf(m.spans()));
  }

  private pageRuns(p: Page): PageBytes | undefined {
    const hit = this.runs.get(p);
    if (hit !== undefined && hit.version === p.version) return hit.runs;
    const runs = toRuns(p);
    this.runs.set(p, { version: p.version, runs });
    return runs;
  }

  /** Data of every page of folios keyed by their first index. */
  private folioData(of: object, folios: Iterable<[number, Folio]>): Map<number, PageBytes> {
    const out = new Map<number, PageBytes>();
    for (const [first, f] of folios) {
      for (const [sub, page] of f.sub) {
        const runs = this.pageRuns(page);
        if (runs !== undefined) out.set(first + sub, runs);
      }
    }
    return this.share(of, "data", out);
  }

  private memslot(s: ImplMemslot): Memslot {
    const slot: Memslot = {
      slot: s.slot,
      as: s.as,
      id: s.id,
      baseGfn: s.baseGfn,
      npages: s.npages,
      userspaceAddr: s.userspaceAddr,
      flags: flagNames(s.flags),
      gmem: s.gmem,
      gmemOnly: s.gmemOnly,
      userfaultBitmap: s.userfaultBitmap,
    };
    return this.share(s, "slot", slot);
  }

  private stage2(s2: Stage2, owners: Owners): ModelRanges<Spte> {
    return this.cached(s2, "leaves", s2.version, true, () =>
      spansOf(
        s2.leaves().map(({ gfn, leaf }) => ({
          start: gfn,
          end: gfn + LEVEL_PAGES[leaf.level],
          value: { level: leaf.level as Level, writable: leaf.writable, private: leaf.private, page: owners.pointer(leaf.folio, leaf.sub, gfn) },
        })),
      ),
    );
  }

  private vm(kvm: Kvm, owners: Owners): Vm {
    const bitmaps = new Map<number, ModelRanges<true>>();
    for (const [slot, b] of kvm.bitmaps) bitmaps.set(slot, this.cached(b, "runs", b.version, false, () => spansOf(b.runs().map((r) => ({ ...r, value: true as const })))));
    const dirty = new Map<number, ModelRanges<true>>();
    for (const m of kvm.memslots) {
      for (const sl of m.sorted) {
        const b = sl.dirtyBitmap;
        if (b !== null) dirty.set(sl.slot, this.cached(b, "runs", b.version, false, () => spansOf(b.runs().map((r) => ({ ...r, value: true as const })))));
      }
    }
    return this.share(kvm, "vm", {
      type: kvm.type,
      slots: this.share(kvm, "slots", kvm.memslots.flatMap((m) => m.sorted.map((s) => this.memslot(s))).sort((a, b) => a.slot - b.slot)),
      attributes: this.ranges(kvm.attributes),
      stage2: this.share(kvm, "stage2", kvm.stage2.map((s2) => this.stage2(s2, owners))),
      bitmaps: this.share(kvm, "bitmaps", bitmaps),
      dirty: this.share(kvm, "dirty", new Map([...dirty].sort(([a], [b]) => a - b))),
      manualDirtyLogProtect: kvm.manualDirtyLogProtect,
    });
  }

  private memFile(f: MemFile): ModelFile {
    return this.share(f, "file", {
      kind: f.kind,
      size: f.size,
      folioPages: f.folioPages,
      present: this.cached(f.cache, "present", f.cache.version, false, () => presence([...f.cache.keys()].map((n) => n * f.folioPages), f.folioPages)),
      data: this.folioData(f, [...f.cache].map(([n, folio]) => [n * f.folioPages, folio])),
      ...(f.falloced.size > 0 ? { falloced: this.share(f, "falloced", presence([...f.falloced].map((n) => n * f.folioPages), f.folioPages)) } : {}),
      ...(f.anon ? { anon: true as const } : {}),
    });
  }

  private mapping(m: Mapping, owners: Owners): ModelMapping {
    const ptes = this.cached(m.ptes, "ptes", m.ptes.version, true, () =>
      spansOf(
        [...m.ptes]
          .sort(([a], [b]) => a - b)
          .map(([key, pte]) => {
            const page = owners.pointer(pte.folio, 0, key);
            return {
              start: key,
              end: Math.min(key + (pte.kind === "zero" ? 1 : m.folioPages), m.pages),
              value: (pte.uffdWp === true ? { target: pte.kind, writable: pte.writable, page, uffdWp: true } : { target: pte.kind, writable: pte.writable, page }) as ModelPte,
            };
          }),
      ),
    );
    const regs = this.cached(m.uffd, "regs", m.uffd.version, false, () =>
      spansOf([...m.uffd.spans()].map((r) => ({ start: r.start, end: r.end, value: { ctx: r.value.ctx.id, modes: [...r.value.modes] } }))),
    );
    const markers = this.ranges(m.markers);
    return this.share(m, "mapping", {
      id: m.id,
      base: m.base,
      pages: m.pages,
      backing: m.backing,
      shared: m.shared,
      prot: m.prot,
      live: this.ranges(m.live),
      ptes,
      anon: this.cached(m.anon, "present", m.anon.version, false, () => presence(m.anon.keys(), m.folioPages, m.pages)),
      anonData: this.folioData(m, m.anon),
      ...(m.fdReadOnly ? { fdReadOnly: true as const } : {}),
      uffd: regs.length > 0 ? regs : undefined,
      markers: markers.length > 0 ? markers : undefined,
    });
  }

  private uffdState(u: Uffd, names: ReadonlyMap<string, number>): UffdState {
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

  private gmemInode(g: GmemInode): ModelInode {
    const split = [...g.cache].filter(([, f]) => f.split).map(([n]) => n * g.folioPages);
    const pins = spansOf([...g.pins].sort(([a], [b]) => a - b).map(([i, n]) => ({ start: i, end: i + 1, value: n })));
    return this.share(g, "inode", {
      vm: g.vm,
      size: g.size,
      flags: this.share(g, "flags", [...g.flags]),
      fd: g.fd,
      open: g.open,
      folioPages: g.folioPages,
      present: this.cached(g.cache, "present", g.cache.version, false, () => presence([...g.cache.keys()].map((n) => n * g.folioPages), g.folioPages)),
      data: this.folioData(g, [...g.cache].map(([n, f]) => [n * g.folioPages, f.folio])),
      bindings: this.ranges(g.bindings),
      shared: this.ranges(g.shared),
      split: this.share(g, "split", presence(split, g.folioPages)),
      pins: this.share(g, "pins", pins),
      ...this.secretHiding(g),
    });
  }

  /** The prepared and direct-map state of a tracked file, and any direct-map access that would have oopsed. */
  private secretHiding(g: GmemInode): Pick<ModelInode, "prepared" | "noDirectMap" | "directMapFaults"> {
    if (!g.tracksPrepared) return {};
    const firsts = (pick: (f: GmemFolio) => boolean): number[] => [...g.cache].filter(([, f]) => pick(f)).map(([n]) => n * g.folioPages);
    const prepared = this.share(g, "prepared", presence(firsts((f) => f.uptodate === true), g.folioPages));
    const removed = g.flags.includes("NO_DIRECT_MAP") ? { noDirectMap: this.share(g, "noDirectMap", presence(firsts((f) => f.noDirectMap === true), g.folioPages)) } : {};
    const faults = g.directMapFaults.length === 0 ? {} : { directMapFaults: this.share(g, "directMapFaults", [...g.directMapFaults]) };
    return { prepared, ...removed, ...faults };
  }

  /** The abstract state of k now. */
  of(k: Kernel): State {
    const signature = ownersSignature(k, "version");
    if (this.owners === undefined || !sameParts(signature, this.signature)) {
      const removals = ownersSignature(k, "removals");
      this.freed ||= this.owners?.freed === true;
      // New owners and new folios change no pointer built before; a folio or page gone from its owner may.
      const lost = [...this.removals].some(([owner, v]) => removals.get(owner) !== v);
      if (this.owners === undefined || this.freed || lost) {
        this.epoch++;
        this.freed = false;
      }
      this.owners = new Owners(k);
      this.signature = signature;
      this.removals = removals;
    }
    const owners = this.owners;
    owners.forgetPages();
    const names = (kind: "vm" | "gmem" | "file" | "uffd"): ReadonlyMap<string, number> => this.share(k.fds, kind, k.fds.names(kind));
    const modes = k.fds.modes();
    return {
      config: k.config,
      kvm: this.share(k, "kvm", { vms: this.share(k, "vms", k.vms.map((v) => this.vm(v, owners))), names: names("vm") }),
      gmem: this.share(k, "gmem", { inodes: this.share(k, "inodes", k.gmemInodes.map((g) => this.gmemInode(g))), names: names("gmem") }),
      mm: this.share(k, "mm", {
        files: this.share(k, "files", k.mm.files.map((f) => this.memFile(f))),
        names: names("file"),
        ...(modes.size > 0 ? { modes: this.share(k.fds, "modes", modes) } : {}),
        maps: this.share(k.mm, "maps", new Map([...k.mm.maps].map(([id, m]) => [id, this.mapping(m, owners)]))),
      }),
      uffd: this.uffdState(k.uffd, names("uffd")),
    };
  }
}

function presence(keys: Iterable<number>, pages: number, limit = Number.MAX_SAFE_INTEGER): ModelRanges<true> {
  const sorted = [...keys].sort((a, b) => a - b);
  return spansOf(sorted.map((k) => ({ start: k, end: Math.min(k + pages, limit), value: true as const })));
}
