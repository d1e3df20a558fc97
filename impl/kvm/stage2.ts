// The stage-2 page table as a sparse table per level: zaps cost O(leaves touched), not O(pages covered).
import { LEVEL_PAGES, type Level } from "../../model/consts.js";
import type { Folio } from "../mm/folio.js";
import { nextVersion } from "../util/versioned.js";

/** A leaf SPTE: it maps the folio's pages from `sub` on (a huge leaf maps LEVEL_PAGES[level] of them). */
export interface Leaf {
  readonly level: Level;
  readonly writable: boolean;
  readonly private: boolean;
  readonly folio: Folio;
  readonly sub: number;
}

const LEVELS: readonly Level[] = [2, 1, 0];

export class Stage2 {
  private readonly tables: readonly Map<number, Leaf>[] = [new Map(), new Map(), new Map()];
  /** Changes with every install, zap, update and clear (impl/util/versioned.ts). */
  version = nextVersion();
  /** The cost model (impl/costs.ts): leaves zapped, and zaps that dropped any (each a remote TLB flush). */
  zapped = 0;
  /** Of those, the huge ones (a 2 MiB or 1 GiB mapping lost). */
  hugeZapped = 0;
  flushes = 0;

  lookup(gfn: number): { leaf: Leaf; delta: number } | undefined {
    for (const l of LEVELS) {
      const n = LEVEL_PAGES[l];
      const leaf = this.tables[l]!.get(Math.floor(gfn / n));
      if (leaf !== undefined) return { leaf, delta: gfn % n };
    }
    return undefined;
  }

  /** Installs a leaf for the aligned region around gfn, replacing what overlapped it. */
  install(gfn: number, leaf: Leaf): void {
    this.version = nextVersion();
    const n = LEVEL_PAGES[leaf.level];
    const key = Math.floor(gfn / n);
    this.drop(key * n, (key + 1) * n, () => true);
    this.tables[leaf.level]!.set(key, leaf);
  }

  /** Drops every leaf touching [start, end) that `which` selects, and flushes the TLBs when it dropped any. */
  zap(start: number, end: number, which: (l: Leaf) => boolean = () => true): void {
    this.version = nextVersion();
    const n = this.drop(start, end, which, true);
    this.zapped += n;
    if (n > 0) this.flushes++;
  }

  /** How many leaves it dropped (and counts the huge ones among them when zapping). */
  private drop(start: number, end: number, which: (l: Leaf) => boolean, count = false): number {
    const before = this.size;
    const hugeBefore = count ? this.tables[1]!.size + this.tables[2]!.size : 0;
    for (const l of LEVELS) {
      const n = LEVEL_PAGES[l];
      const table = this.tables[l]!;
      const k0 = Math.floor(start / n);
      const k1 = Math.ceil(end / n);
      // Both loops drop the same leaves; the test only picks the cheaper walk.
      // Stryker disable next-line EqualityOperator,ConditionalExpression,ArithmeticOperator: equivalent (either walk)
      if (table.size <= k1 - k0) {
        for (const [k, leaf] of table) if (k >= k0 && k < k1 && which(leaf)) table.delete(k);
      } else {
        for (let k = k0; k < k1; k++) {
          const leaf = table.get(k);
          if (leaf !== undefined && which(leaf)) table.delete(k);
        }
      }
    }
    if (count) this.hugeZapped += hugeBefore - this.tables[1]!.size - this.tables[2]!.size;
    return before - this.size;
  }

  /** Replaces leaves in [start, end) (write-protect, ...). */
  update(start: number, end: number, f: (l: Leaf) => Leaf): void {
    this.version = nextVersion();
    for (const l of LEVELS) {
      const n = LEVEL_PAGES[l];
      for (const [k, leaf] of this.tables[l]!) if (k * n < end && (k + 1) * n > start) this.tables[l]!.set(k, f(leaf));
    }
  }

  /** All leaves with their first gfn, in gfn order. */
  leaves(start = 0, end = Number.MAX_SAFE_INTEGER): { gfn: number; leaf: Leaf }[] {
    const out: { gfn: number; leaf: Leaf }[] = [];
    for (const l of LEVELS) {
      const n = LEVEL_PAGES[l];
      for (const [k, leaf] of this.tables[l]!) if (k * n < end && (k + 1) * n > start) out.push({ gfn: k * n, leaf });
    }
    return out.sort((a, b) => a.gfn - b.gfn);
  }

  get size(): number {
    return this.tables.reduce((n, t) => n + t.size, 0);
  }

  clear(): void {
    this.version = nextVersion();
    this.zapped += this.size;
    this.hugeZapped += this.tables[1]!.size + this.tables[2]!.size;
    if (this.size > 0) this.flushes++;
    for (const t of this.tables) t.clear();
  }
}
